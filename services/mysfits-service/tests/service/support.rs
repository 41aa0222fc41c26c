//! Helpers of the services' tests, shared by mysfits-service's and like-service's (which includes
//! this file by path): requests through a router, a DynamoDB table in moto, a router on a port.

use aws_sdk_dynamodb::Client;
use axum::Router;
use axum::body::Body;
use http::{HeaderMap, Request, StatusCode};
use mysfits_service::catalogue::seed_catalogue;
use mysfits_service::{AppState, MysfitsTable};
use serde_json::Value;
use service_common::env::Env;
use testbed::faults::FaultProxy;
use testbed::moto::{Moto, sdk_config_for};
use tower::ServiceExt;

pub const REGION: &str = "eu-west-1";
pub const TABLE: &str = "test-mysfits";

pub struct Reply {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Value,
    pub text: String,
}

pub async fn send(router: &Router, method: &str, uri: &str) -> Reply {
    send_request(
        router,
        Request::builder()
            .method(method)
            .uri(uri)
            .body(Body::empty())
            .unwrap(),
    )
    .await
}

pub async fn send_request(router: &Router, request: Request<Body>) -> Reply {
    let response = router.clone().oneshot(request).await.unwrap();
    let status = response.status();
    let headers = response.headers().clone();
    let bytes = axum::body::to_bytes(response.into_body(), 1 << 20)
        .await
        .unwrap();
    let text = String::from_utf8_lossy(&bytes).into_owned();
    let body = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
    Reply {
        status,
        headers,
        body,
        text,
    }
}

impl Reply {
    #[track_caller]
    pub fn expect(&self, status: StatusCode) -> &Reply {
        assert_eq!(self.status, status, "body: {}", self.text);
        assert_eq!(
            self.headers["x-mysfits-region"], REGION,
            "every response names its region"
        );
        self
    }

    /// An error body: JSON with the message and this request's id, and the message mentions
    /// `needle`.
    #[track_caller]
    pub fn expect_error(&self, status: StatusCode, needle: &str) -> &Reply {
        self.expect(status);
        assert_eq!(self.headers["content-type"], "application/json");
        let message = self.body["error"].as_str().unwrap_or_else(|| {
            panic!("no error message in {}", self.text);
        });
        assert!(
            message.contains(needle),
            "{message:?} should mention {needle:?}"
        );
        let request_id = self.body["request_id"].as_str().unwrap();
        assert!(!request_id.is_empty());
        assert_eq!(self.headers["x-request-id"], request_id);
        self
    }

    /// An error body whose message is exactly `message`, and nothing but it and the request id.
    #[track_caller]
    pub fn expect_error_body(&self, status: StatusCode, message: &str) -> &Reply {
        self.expect_error(status, message);
        let request_id = self.body["request_id"].as_str().unwrap();
        assert_eq!(
            self.body,
            serde_json::json!({ "error": message, "request_id": request_id })
        );
        self
    }
}

pub fn dynamodb(endpoint: &str) -> Client {
    Client::new(&sdk_config_for(endpoint, REGION))
}

/// A mysfits-service router over `client`: the public API (`PORT`).
pub fn mysfits_router(client: Client) -> Router {
    mysfits_service::router(AppState::new(MysfitsTable::new(client, TABLE), REGION))
}

/// mysfits-service's internal router over `client` (`INTERNAL_PORT`: fulfill-like).
pub fn internal_router(client: Client) -> Router {
    mysfits_service::internal_router(AppState::new(MysfitsTable::new(client, TABLE), REGION))
}

/// The table as the app stack creates it: key MysfitId, GoodEvilIndex and LawChaosIndex.
pub async fn create_table(client: &Client, table: &str) {
    mysfits_service::table::create_catalogue_table(client, table)
        .await
        .unwrap();
}

/// moto with the table created and the catalogue seeded.
pub async fn seeded() -> (Moto, Client) {
    let moto = Moto::start();
    let client = dynamodb(&moto.endpoint());
    create_table(&client, TABLE).await;
    let counts = seed_catalogue(&client, TABLE).await.unwrap();
    assert_eq!(counts.inserted, 12);
    (moto, client)
}

/// moto seeded as by [`seeded`], with the client going through a proxy that forwards one call at
/// a time: moto's conditional writes are not atomic under concurrent requests (two adoptions can
/// both pass its check), DynamoDB's are. Serialized calls still interleave between requests, so
/// a read-then-write adoption would still let both win here.
pub async fn seeded_one_at_a_time() -> (Moto, FaultProxy, Client) {
    let (moto, _) = seeded().await;
    let proxy = FaultProxy::one_at_a_time(&moto.endpoint());
    let client = dynamodb(&proxy.endpoint());
    (moto, proxy, client)
}

pub fn env(pairs: &[(&str, &str)]) -> Env<impl Fn(&str) -> Option<String>> {
    let pairs: Vec<(String, String)> = pairs
        .iter()
        .map(|(key, value)| (key.to_string(), value.to_string()))
        .collect();
    Env::new(move |name| {
        pairs
            .iter()
            .find(|(key, _)| key == name)
            .map(|(_, value)| value.clone())
    })
}
