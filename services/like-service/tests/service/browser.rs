//! The website in a real browser: headless Chromium driven through chromedriver (WebDriver),
//! against both services on loopback over DynamoDB in moto, behind a stand-in for the load
//! balancer's path rule (`/mysfits/*/like` to like-service, everything else to mysfits-service).
//! It loads, filters, likes, adopts, shows the error while mysfits-service is stopped, clears it
//! once it is back, and the browser logs no console error but the outage's failed requests.

use std::net::SocketAddr;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Body;
use axum::extract::{Request, State};
use axum::response::{IntoResponse, Response};
use fantoccini::{Client, ClientBuilder, Locator};
use http::StatusCode;
use mysfits_service::catalogue::seed_items;
use serde_json::{Value, json};

use crate::like_router;
use crate::support::*;

/// A router served on a loopback address until [`Server::stop`].
struct Server {
    address: SocketAddr,
    stop: tokio::sync::oneshot::Sender<()>,
    task: tokio::task::JoinHandle<()>,
}

impl Server {
    async fn start(router: Router, address: SocketAddr) -> Server {
        let listener = tokio::net::TcpListener::bind(address).await.unwrap();
        let address = listener.local_addr().unwrap();
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let task = tokio::spawn(async move {
            axum::serve(listener, router)
                .with_graceful_shutdown(async {
                    let _ = stopped.await;
                })
                .await
                .unwrap();
        });
        Server {
            address,
            stop,
            task,
        }
    }

    fn url(&self) -> String {
        format!("http://{}", self.address)
    }

    /// Stops accepting, closes idle keep-alive connections and waits until all are closed.
    async fn stop(self) -> SocketAddr {
        let _ = self.stop.send(());
        self.task.await.unwrap();
        self.address
    }
}

/// mysfits-service: its public and internal ports.
struct MysfitsService {
    public: Server,
    internal: Server,
}

impl MysfitsService {
    async fn start(
        client: &aws_sdk_dynamodb::Client,
        public: SocketAddr,
        internal: SocketAddr,
    ) -> MysfitsService {
        MysfitsService {
            public: Server::start(mysfits_router(client.clone()), public).await,
            internal: Server::start(internal_router(client.clone()), internal).await,
        }
    }

    async fn stop(self) -> (SocketAddr, SocketAddr) {
        (self.public.stop().await, self.internal.stop().await)
    }
}

#[derive(Clone)]
struct PathRule {
    client: reqwest::Client,
    mysfits_service: String,
    like_service: String,
}

/// The load balancer's listener rule: POST /mysfits/{id}/like goes to like-service, the rest to
/// mysfits-service; a target that does not answer is a 502 page in HTML, as a balancer's is.
async fn path_rule(State(rule): State<PathRule>, request: Request) -> Response {
    let path = request.uri().path().to_string();
    let is_like = path.starts_with("/mysfits/") && path.ends_with("/like");
    let target = if is_like {
        &rule.like_service
    } else {
        &rule.mysfits_service
    };
    let query = request
        .uri()
        .query()
        .map(|query| format!("?{query}"))
        .unwrap_or_default();
    let forwarded = rule
        .client
        .request(request.method().clone(), format!("{target}{path}{query}"))
        .send()
        .await;
    match forwarded {
        Ok(answer) => {
            let mut response = Response::builder().status(answer.status());
            for (name, value) in answer.headers() {
                response = response.header(name, value);
            }
            response
                .body(Body::from(answer.bytes().await.unwrap()))
                .unwrap()
        }
        Err(_) => (
            StatusCode::BAD_GATEWAY,
            axum::response::Html("<html><body><h1>502 Bad Gateway</h1></body></html>"),
        )
            .into_response(),
    }
}

/// chromedriver on a free port, stopped with the test.
struct Chromedriver {
    child: Child,
    port: u16,
}

impl Chromedriver {
    fn start() -> Chromedriver {
        let port = testbed::free_port();
        let child = Command::new("chromedriver")
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("chromedriver runs (scripts/setup-testenv installs chromium-driver)");
        let started = Instant::now();
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(
                started.elapsed() < Duration::from_secs(20),
                "chromedriver did not listen"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        Chromedriver { child, port }
    }
}

impl Drop for Chromedriver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

async fn browser(driver: &Chromedriver, profile: &std::path::Path) -> Client {
    let arguments = [
        "--headless".to_string(),
        "--no-sandbox".to_string(),
        "--disable-gpu".to_string(),
        "--disable-quic".to_string(),
        "--no-first-run".to_string(),
        "--disable-background-networking".to_string(),
        "--disable-component-update".to_string(),
        "--disable-sync".to_string(),
        format!("--user-data-dir={}", profile.display()),
    ];
    let capabilities = json!({
        "goog:chromeOptions": { "args": arguments },
        "goog:loggingPrefs": { "browser": "ALL" },
    });
    ClientBuilder::rustls()
        .unwrap()
        .capabilities(capabilities.as_object().unwrap().clone())
        .connect(&format!("http://127.0.0.1:{}", driver.port))
        .await
        .expect("a Chromium session")
}

/// Polls `expression` (JavaScript) in the page until it is true.
async fn wait_until(browser: &Client, expression: &str) {
    let started = Instant::now();
    loop {
        let value = browser
            .execute(&format!("return Boolean({expression});"), vec![])
            .await
            .unwrap();
        if value == Value::Bool(true) {
            return;
        }
        if started.elapsed() > Duration::from_secs(15) {
            let message = text_of(browser, "#message").await;
            panic!("waited 15 s for {expression}; the page says {message:?}");
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn text_of(browser: &Client, selector: &str) -> String {
    browser
        .find(Locator::Css(selector))
        .await
        .unwrap()
        .text()
        .await
        .unwrap()
}

async fn eval(browser: &Client, expression: &str) -> Value {
    browser
        .execute(&format!("return {expression};"), vec![])
        .await
        .unwrap()
}

async fn click(browser: &Client, aria_label: &str) {
    browser
        .find(Locator::Css(&format!(
            "button[aria-label=\"{aria_label}\"]"
        )))
        .await
        .unwrap_or_else(|error| panic!("no button {aria_label:?}: {error}"))
        .click()
        .await
        .unwrap();
}

/// The browser's console since the last call: (level, message) pairs. chromedriver's log
/// endpoint, which WebDriver itself does not define.
async fn console(browser: &Client, driver: &Chromedriver) -> Vec<(String, String)> {
    let session = browser.session_id().await.unwrap().unwrap();
    let answer = reqwest::Client::new()
        .post(format!(
            "http://127.0.0.1:{}/session/{session}/se/log",
            driver.port
        ))
        .header("content-type", "application/json")
        .body(json!({ "type": "browser" }).to_string())
        .send()
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap();
    let entries: Value = serde_json::from_slice(&answer).unwrap();
    entries["value"]
        .as_array()
        .unwrap()
        .iter()
        .map(|entry| {
            (
                entry["level"].as_str().unwrap().to_string(),
                entry["message"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

const CARDS: &str = "document.querySelectorAll('article.card').length";

#[tokio::test(flavor = "multi_thread")]
#[ignore = "emulator tier: needs chromium, chromedriver and moto_server; run scripts/test"]
async fn the_website_in_headless_chromium() {
    let (_moto, client) = seeded().await;
    let loopback: SocketAddr = "127.0.0.1:0".parse().unwrap();
    let mysfits = MysfitsService::start(&client, loopback, loopback).await;
    let likes = Server::start(
        like_router(&mysfits.internal.url(), Duration::from_secs(2)),
        loopback,
    )
    .await;
    let rule = PathRule {
        // No pooled connections: a stopped service is refused at once, as a balancer sees it.
        client: reqwest::Client::builder()
            .pool_max_idle_per_host(0)
            .build()
            .unwrap(),
        mysfits_service: mysfits.public.url(),
        like_service: likes.url(),
    };
    let site = Server::start(Router::new().fallback(path_rule).with_state(rule), loopback).await;
    let driver = Chromedriver::start();
    let profile = tempfile::tempdir().unwrap();
    let browser = browser(&driver, profile.path()).await;

    // Load: twelve cards, the region badge, no error.
    browser.goto(&site.url()).await.unwrap();
    wait_until(&browser, &format!("{CARDS} === 12")).await;
    assert_eq!(
        text_of(&browser, "#region").await,
        format!("served from {REGION}")
    );
    assert_eq!(text_of(&browser, "#message").await, "");

    // Filter: as many cards as the catalogue has evil mysfits, then all again.
    let items = seed_items();
    let evil = items.iter().filter(|item| item.good_evil == "Evil").count();
    assert!(evil > 0 && evil < 12);
    let select = browser.find(Locator::Css("#filter")).await.unwrap();
    select
        .clone()
        .select_by_value("GoodEvil|Evil")
        .await
        .unwrap();
    wait_until(&browser, &format!("{CARDS} === {evil}")).await;
    select.clone().select_by_value("").await.unwrap();
    wait_until(&browser, &format!("{CARDS} === 12")).await;

    // Like: the count goes up, the button keeps the focus under its new name.
    let first = &items[0].name;
    click(&browser, &format!("Like {first} (0 likes)")).await;
    wait_until(
        &browser,
        &format!("document.activeElement.getAttribute('aria-label') === 'Like {first} (1 like)'"),
    )
    .await;
    let stored = send(
        &mysfits_router(client.clone()),
        "GET",
        &format!("/mysfits/{}", items[0].id),
    )
    .await;
    assert_eq!(stored.body["likes"], 1);

    // Adopt: the button gives way to "adopted"; the focus moves to the mysfit's like button.
    click(&browser, &format!("Adopt {first}")).await;
    wait_until(
        &browser,
        &format!("document.querySelectorAll('button[aria-label=\"Adopt {first}\"]').length === 0"),
    )
    .await;
    wait_until(
        &browser,
        &format!("document.activeElement.getAttribute('aria-label') === 'Like {first} (1 like)'"),
    )
    .await;
    assert_eq!(text_of(&browser, "article.card .adopted").await, "adopted");
    assert_eq!(
        console(&browser, &driver).await,
        Vec::<(String, String)>::new(),
        "no console output while all is well"
    );

    // mysfits-service stopped: the like's own error is shown, not the reload's, and the button
    // is usable again.
    let (public, internal) = mysfits.stop().await;
    let second = &items[1].name;
    click(&browser, &format!("Like {second} (0 likes)")).await;
    let like_error = format!(
        "could not like {second}: mysfits-service cannot be reached (no connection) (after 3 attempts)"
    );
    wait_until(
        &browser,
        &format!("document.getElementById('message').textContent === {like_error:?}"),
    )
    .await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(
        text_of(&browser, "#message").await,
        like_error,
        "the reload's error does not replace it"
    );
    assert_eq!(
        eval(
            &browser,
            &format!(
                "document.querySelector('button[aria-label=\"Like {second} (0 likes)\"]').disabled"
            )
        )
        .await,
        Value::Bool(false)
    );
    browser
        .find(Locator::Css("#reload"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    wait_until(&browser, "document.getElementById('message').textContent === 'could not load the mysfits: the server answered 502 Bad Gateway'").await;
    assert_eq!(
        eval(&browser, CARDS).await,
        json!(12),
        "the last list stays on screen"
    );

    // Back up (same ports): a reload clears the error.
    let mysfits = MysfitsService::start(&client, public, internal).await;
    browser
        .find(Locator::Css("#reload"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    wait_until(
        &browser,
        "document.getElementById('message').textContent === ''",
    )
    .await;
    wait_until(&browser, &format!("{CARDS} === 12")).await;

    // The only console errors are the failed requests of the outage (Chromium logs each one).
    let outage = console(&browser, &driver).await;
    assert!(!outage.is_empty(), "the outage's 502s are logged");
    for (level, message) in &outage {
        assert_eq!(level, "SEVERE", "{message}");
        assert!(
            message.ends_with(
                "Failed to load resource: the server responded with a status of 502 (Bad Gateway)"
            ),
            "an unexpected console message: {message}"
        );
    }

    browser.close().await.unwrap();
    site.stop().await;
    likes.stop().await;
    mysfits.stop().await;
}
