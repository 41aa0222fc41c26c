//! A fault-injecting HTTP proxy in front of moto (which has no throttling or faults of its own).
//!
//! Every AWS API call through the proxy is numbered; by a fixed schedule some are answered by the
//! proxy itself with the throttling error of the caller's protocol (awsQuery XML, EC2 XML,
//! restXml, awsJson), with HTTP 503, or forwarded after a delay. Deterministic, so a test that
//! passes once passes always, and counted, so a test can prove faults were really injected.
//!
//! The same proxy without faults can forward one call at a time ([`FaultProxy::one_at_a_time`]):
//! moto checks a DynamoDB condition and writes the item in two steps without a lock, so two
//! concurrent conditional writes can both succeed there, where DynamoDB lets exactly one win.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper::{Request, Response, StatusCode};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::{TokioExecutor, TokioIo};

/// Which calls get which fault: of every `every` calls, the last one is faulted, the faults
/// taking turns (throttle, 503, delay). `every: 3` faults a third of all calls.
#[derive(Debug, Clone, Copy)]
pub struct Schedule {
    pub every: u64,
    /// How long a delayed call waits before it is forwarded.
    pub delay: Duration,
}

/// What the proxy did, by kind and by AWS service (from the request's signing scope).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FaultCounts {
    pub calls: u64,
    pub throttled: u64,
    pub unavailable: u64,
    pub delayed: u64,
    pub faults_by_service: BTreeMap<String, u64>,
}

#[derive(Default)]
struct Counters {
    calls: AtomicU64,
    throttled: AtomicU64,
    unavailable: AtomicU64,
    delayed: AtomicU64,
    faults_by_service: Mutex<BTreeMap<String, u64>>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Fault {
    Throttle,
    Unavailable,
    Delay,
}

/// A running proxy; dropping it stops it.
pub struct FaultProxy {
    address: SocketAddr,
    counters: Arc<Counters>,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl FaultProxy {
    /// Starts a proxy on a free loopback port that forwards to `upstream` (`http://HOST:PORT`).
    pub fn start(upstream: &str, schedule: Schedule) -> FaultProxy {
        assert!(
            schedule.every >= 2,
            "every call faulted would never succeed"
        );
        FaultProxy::spawn(
            upstream,
            Behaviour {
                schedule: Some(schedule),
                one_at_a_time: false,
            },
        )
    }

    /// A proxy that injects nothing and forwards one call at a time, so that moto applies
    /// concurrent requests one after the other, as DynamoDB's per-item writes are.
    pub fn one_at_a_time(upstream: &str) -> FaultProxy {
        FaultProxy::spawn(
            upstream,
            Behaviour {
                schedule: None,
                one_at_a_time: true,
            },
        )
    }

    fn spawn(upstream: &str, behaviour: Behaviour) -> FaultProxy {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind a loopback port");
        listener
            .set_nonblocking(true)
            .expect("non-blocking listener");
        let address = listener.local_addr().expect("proxy address");
        let counters = Arc::new(Counters::default());
        let (stop, stopped) = tokio::sync::oneshot::channel();
        let upstream = upstream.trim_end_matches('/').to_string();
        let thread_counters = counters.clone();
        // Its own thread and runtime: usable from plain and async tests alike.
        let thread = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("proxy runtime");
            runtime.block_on(serve(
                listener,
                upstream,
                behaviour,
                thread_counters,
                stopped,
            ));
        });
        FaultProxy {
            address,
            counters,
            stop: Some(stop),
            thread: Some(thread),
        }
    }

    /// `http://127.0.0.1:PORT`: use it as the AWS endpoint.
    pub fn endpoint(&self) -> String {
        format!("http://{}", self.address)
    }

    pub fn counts(&self) -> FaultCounts {
        FaultCounts {
            calls: self.counters.calls.load(Ordering::SeqCst),
            throttled: self.counters.throttled.load(Ordering::SeqCst),
            unavailable: self.counters.unavailable.load(Ordering::SeqCst),
            delayed: self.counters.delayed.load(Ordering::SeqCst),
            faults_by_service: self
                .counters
                .faults_by_service
                .lock()
                .map(|map| map.clone())
                .unwrap_or_default(),
        }
    }
}

impl Drop for FaultProxy {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

#[derive(Debug, Clone, Copy)]
struct Behaviour {
    schedule: Option<Schedule>,
    one_at_a_time: bool,
}

async fn serve(
    listener: std::net::TcpListener,
    upstream: String,
    behaviour: Behaviour,
    counters: Arc<Counters>,
    mut stopped: tokio::sync::oneshot::Receiver<()>,
) {
    let listener = tokio::net::TcpListener::from_std(listener).expect("tokio listener");
    let client: Client<HttpConnector, Full<Bytes>> =
        Client::builder(TokioExecutor::new()).build_http();
    let turn = behaviour
        .one_at_a_time
        .then(|| Arc::new(tokio::sync::Mutex::new(())));
    loop {
        let accepted = tokio::select! {
            _ = &mut stopped => return,
            accepted = listener.accept() => accepted,
        };
        let Ok((stream, _)) = accepted else { continue };
        let (client, upstream, counters, turn) = (
            client.clone(),
            upstream.clone(),
            counters.clone(),
            turn.clone(),
        );
        tokio::spawn(async move {
            let service = service_fn(move |request| {
                let (client, upstream, counters, turn) = (
                    client.clone(),
                    upstream.clone(),
                    counters.clone(),
                    turn.clone(),
                );
                async move {
                    // Held until the answer is read: the next call reaches moto only after.
                    let _turn = match &turn {
                        Some(turn) => Some(turn.clone().lock_owned().await),
                        None => None,
                    };
                    handle(request, client, upstream, behaviour.schedule, counters).await
                }
            });
            let _ = hyper::server::conn::http1::Builder::new()
                .serve_connection(TokioIo::new(stream), service)
                .await;
        });
    }
}

async fn handle(
    request: Request<Incoming>,
    client: Client<HttpConnector, Full<Bytes>>,
    upstream: String,
    schedule: Option<Schedule>,
    counters: Arc<Counters>,
) -> Result<Response<Full<Bytes>>, hyper::Error> {
    let (mut parts, body) = request.into_parts();
    let body = body.collect().await?.to_bytes();
    // moto's own API (reset, state) is the test's, not the product's: never faulted.
    let is_aws_call = !parts.uri.path().starts_with("/moto-api");
    if is_aws_call {
        let number = counters.calls.fetch_add(1, Ordering::SeqCst) + 1;
        if let Some(schedule) = schedule
            && number.is_multiple_of(schedule.every)
        {
            let fault = match (number / schedule.every) % 3 {
                1 => Fault::Throttle,
                2 => Fault::Unavailable,
                _ => Fault::Delay,
            };
            let service = signing_service(&parts.headers);
            if let Ok(mut by_service) = counters.faults_by_service.lock() {
                *by_service.entry(service.clone()).or_default() += 1;
            }
            match fault {
                Fault::Throttle => {
                    counters.throttled.fetch_add(1, Ordering::SeqCst);
                    return Ok(throttling_response(&parts.headers, &service));
                }
                Fault::Unavailable => {
                    counters.unavailable.fetch_add(1, Ordering::SeqCst);
                    return Ok(Response::builder()
                        .status(StatusCode::SERVICE_UNAVAILABLE)
                        .body(Full::new(Bytes::from_static(b"Service Unavailable")))
                        .expect("static response"));
                }
                Fault::Delay => {
                    counters.delayed.fetch_add(1, Ordering::SeqCst);
                    tokio::time::sleep(schedule.delay).await;
                }
            }
        }
    }
    let path = parts
        .uri
        .path_and_query()
        .map(|path| path.as_str())
        .unwrap_or("/");
    parts.uri = format!("{upstream}{path}").parse().expect("upstream uri");
    let forwarded = Request::from_parts(parts, Full::new(body));
    match client.request(forwarded).await {
        Ok(response) => {
            let (parts, body) = response.into_parts();
            let body = body.collect().await?.to_bytes();
            Ok(Response::from_parts(parts, Full::new(body)))
        }
        Err(error) => Ok(Response::builder()
            .status(StatusCode::BAD_GATEWAY)
            .body(Full::new(Bytes::from(format!(
                "fault proxy: upstream: {error}"
            ))))
            .expect("static response")),
    }
}

/// The service a SigV4 request is signed for: `Credential=KEY/DATE/REGION/SERVICE/aws4_request`.
fn signing_service(headers: &hyper::HeaderMap) -> String {
    headers
        .get(hyper::header::AUTHORIZATION)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.split("Credential=").nth(1))
        .and_then(|credential| credential.split('/').nth(3))
        .unwrap_or("unknown")
        .to_string()
}

/// The throttling error as the caller's protocol spells it, so the SDK classifies it the way it
/// classifies AWS's own (a throttling error: retried with backoff).
fn throttling_response(headers: &hyper::HeaderMap, service: &str) -> Response<Full<Bytes>> {
    let content_type = headers
        .get(hyper::header::CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .unwrap_or_default();
    let (content_type, body, error_type) = if content_type.starts_with("application/x-amz-json") {
        (
            "application/x-amz-json-1.0",
            r#"{"__type":"ThrottlingException","message":"Rate exceeded (fault proxy)"}"#
                .to_string(),
            Some("ThrottlingException"),
        )
    } else if service == "ec2" {
        (
            "text/xml",
            "<Response><Errors><Error><Code>RequestLimitExceeded</Code><Message>Request limit \
             exceeded (fault proxy)</Message></Error></Errors><RequestID>fault-proxy</RequestID>\
             </Response>"
                .to_string(),
            None,
        )
    } else {
        // awsQuery (CloudFormation, ELBv2) and restXml (Route 53) share this error shape.
        (
            "text/xml",
            "<ErrorResponse><Error><Type>Sender</Type><Code>Throttling</Code><Message>Rate \
             exceeded (fault proxy)</Message></Error><RequestId>fault-proxy</RequestId>\
             </ErrorResponse>"
                .to_string(),
            None,
        )
    };
    let mut response = Response::builder()
        .status(StatusCode::BAD_REQUEST)
        .header(hyper::header::CONTENT_TYPE, content_type);
    if let Some(error_type) = error_type {
        response = response
            .header("x-amzn-errortype", error_type)
            // awsQuery-compatible JSON services (CloudWatch) read the query error code here.
            .header("x-amzn-query-error", "Throttling;Sender");
    }
    response
        .body(Full::new(Bytes::from(body)))
        .expect("throttling response")
}
