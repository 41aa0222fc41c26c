//! mysfits-service. Router tests send requests through the whole middleware stack with
//! `tower::ServiceExt::oneshot`; table tests run against DynamoDB in a moto_server of their own.

use std::time::Duration;

use axum::body::Body;
use http::{Request, StatusCode};
use mysfits_service::catalogue::{SeedCounts, seed_catalogue, seed_items};
use mysfits_service::{AppState, MysfitsTable};
use testbed::moto::Moto;

use crate::support::*;

// ---------- router tests: no DynamoDB needed ----------

#[tokio::test]
async fn health_is_shallow_and_names_the_region_and_request_ids_travel() {
    let router = mysfits_router(dynamodb(&testbed::dead_endpoint()));
    let reply = send(&router, "GET", "/health").await;
    reply.expect(StatusCode::OK);
    assert_eq!(reply.body["status"], "ok");
    assert_eq!(reply.body["region"], REGION);
    assert!(
        !reply.headers["x-request-id"].is_empty(),
        "a request id is made up when the caller sent none"
    );

    let reply = send_request(
        &router,
        Request::get("/health")
            .header("x-request-id", "caller-id-1")
            .header(
                "x-amzn-trace-id",
                "Root=1-67891233-abcdef012345678912345678",
            )
            .body(Body::empty())
            .unwrap(),
    )
    .await;
    reply.expect(StatusCode::OK);
    assert_eq!(reply.headers["x-request-id"], "caller-id-1");
    assert_eq!(
        reply.headers["x-amzn-trace-id"],
        "Root=1-67891233-abcdef012345678912345678"
    );
}

#[tokio::test]
async fn bad_input_gets_a_400_that_says_what_to_send() {
    let router = mysfits_router(dynamodb(&testbed::dead_endpoint()));
    let invalid_id =
        "the mysfit id in the path is not valid: use 1 to 64 letters, digits, '-' or '_'";
    let cases = [
        (
            "/mysfits?filter=Species&value=Troll",
            "unknown filter \"Species\": use filter=GoodEvil or LawChaos",
        ),
        (
            "/mysfits?filter=%3Cscript%3E&value=Troll",
            "unknown filter: use filter=GoodEvil or LawChaos",
        ),
        (
            "/mysfits?filter=GoodEvil",
            "filter=GoodEvil needs a value: add value= one of Good, Neutral, Evil",
        ),
        (
            "/mysfits?filter=GoodEvil&value=",
            "filter=GoodEvil needs a value: add value= one of Good, Neutral, Evil",
        ),
        (
            "/mysfits?value=Good",
            "value= was given without filter: add filter=GoodEvil or LawChaos",
        ),
        (
            "/mysfits?filter=GoodEvil&value=Purple",
            "the value \"Purple\" is not a GoodEvil value: use one of Good, Neutral, Evil",
        ),
        (
            "/mysfits?filter=LawChaos&value=Good",
            "the value \"Good\" is not a LawChaos value: use one of Lawful, Neutral, Chaotic",
        ),
        (
            "/mysfits?filter=LawChaos&value=a%20very%20long%20value%20with%20spaces",
            "the value is not a LawChaos value: use one of Lawful, Neutral, Chaotic",
        ),
        ("/mysfits/not%20an%20id", invalid_id),
        (
            "/mysfits/aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
            invalid_id,
        ),
    ];
    for (uri, message) in cases {
        send(&router, "GET", uri)
            .await
            .expect_error_body(StatusCode::BAD_REQUEST, message);
    }
    send(&router, "POST", "/mysfits/a%2Fb/adopt")
        .await
        .expect_error(StatusCode::BAD_REQUEST, "not valid");
    send(
        &internal_router(dynamodb(&testbed::dead_endpoint())),
        "POST",
        "/mysfits/%24%24/fulfill-like",
    )
    .await
    .expect_error(StatusCode::BAD_REQUEST, "not valid");
}

#[tokio::test]
async fn unknown_routes_wrong_methods_and_big_bodies_get_json_errors() {
    let router = mysfits_router(dynamodb(&testbed::dead_endpoint()));
    send(&router, "GET", "/nothing-here")
        .await
        .expect_error(StatusCode::NOT_FOUND, "no such endpoint: GET /nothing-here");
    send(&router, "GET", "/mysfits/bramble/adopt")
        .await
        .expect_error(StatusCode::METHOD_NOT_ALLOWED, "GET");
    send(&router, "POST", "/mysfits/bramble/like")
        .await
        .expect_error_body(
            StatusCode::NOT_FOUND,
            "likes are taken by like-service, which the load balancer's path rule /mysfits/*/like \
             routes to; this is mysfits-service: open the app through its load balancer (locally: \
             scripts/demo --keep)",
        );
    send(&router, "DELETE", "/mysfits")
        .await
        .expect_error(StatusCode::METHOD_NOT_ALLOWED, "DELETE");
    let big = vec![b'x'; 64 * 1024];
    send_request(
        &router,
        Request::post("/mysfits/bramble/adopt")
            .header("content-length", big.len())
            .body(Body::from(big))
            .unwrap(),
    )
    .await
    .expect_error(StatusCode::PAYLOAD_TOO_LARGE, "");
}

#[tokio::test]
async fn a_slow_handler_is_cut_off_by_the_request_timeout() {
    // The DynamoDB client's own timeouts fire first in practice; this is the backstop. A
    // black-hole endpoint (accepts, never answers) makes the table call hang.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let endpoint = format!("http://{}", listener.local_addr().unwrap());
    let mut state = AppState::new(MysfitsTable::new(dynamodb(&endpoint), TABLE), REGION);
    state.edge.request_timeout = Duration::from_millis(300);
    let router = mysfits_service::router(state);
    send(&router, "GET", "/mysfits/bramble").await.expect_error(
        StatusCode::SERVICE_UNAVAILABLE,
        "did not finish within 0.3 s",
    );
    drop(listener);
}

#[tokio::test]
async fn website_pictures_and_cors() {
    let router = mysfits_router(dynamodb(&testbed::dead_endpoint()));
    let page = send(&router, "GET", "/").await;
    page.expect(StatusCode::OK);
    assert!(
        page.headers["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/html")
    );
    assert!(page.text.contains("Mythical Mysfits"));
    assert!(
        page.text.contains("x-mysfits-region"),
        "the page shows the serving region"
    );
    assert!(
        page.text.contains("/like"),
        "the page likes through like-service's path"
    );

    for item in seed_items() {
        for uri in [&item.thumb_image_uri, &item.profile_image_uri] {
            let picture = send(&router, "GET", uri).await;
            picture.expect(StatusCode::OK);
            assert_eq!(picture.headers["content-type"], "image/svg+xml");
            assert!(picture.text.starts_with("<svg"));
        }
    }
    send(&router, "GET", "/images/huge/bramble.svg")
        .await
        .expect_error_body(
            StatusCode::NOT_FOUND,
            "no picture size \"huge\": use thumb or profile",
        );
    send(&router, "GET", "/images/thumb/bramble.png")
        .await
        .expect_error_body(
            StatusCode::NOT_FOUND,
            "no such picture: pictures are named ID.svg",
        );

    let preflight = send_request(
        &router,
        Request::options("/mysfits/bramble/adopt")
            .header("origin", "https://example.org")
            .header("access-control-request-method", "POST")
            .body(Body::empty())
            .unwrap(),
    )
    .await;
    preflight.expect(StatusCode::OK);
    assert_eq!(preflight.headers["access-control-allow-origin"], "*");
    assert!(
        preflight.headers["access-control-allow-methods"]
            .to_str()
            .unwrap()
            .contains("POST")
    );
}

#[tokio::test]
async fn unreachable_dynamodb_is_a_503_with_a_reason_never_a_500() {
    let router = mysfits_router(dynamodb(&testbed::dead_endpoint()));
    send(&router, "GET", "/mysfits")
        .await
        .expect_error(StatusCode::SERVICE_UNAVAILABLE, "DynamoDB is unreachable");
    let ready = send(&router, "GET", "/health/ready").await;
    ready.expect(StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(ready.body["status"], "unavailable");
    assert_eq!(ready.body["region"], REGION);
    assert!(
        ready.body["reason"]
            .as_str()
            .unwrap()
            .contains("unreachable")
    );
}

#[test]
fn settings_come_from_the_environment_and_bad_values_name_the_variable() {
    use mysfits_service::Settings;
    let settings = Settings::from_env(&env(&[
        ("DDB_TABLE_NAME", "app-mysfits"),
        ("AWS_REGION", "us-west-2"),
    ]))
    .unwrap();
    assert_eq!(
        settings,
        Settings {
            table: "app-mysfits".into(),
            home_region: "us-west-2".into(),
            region: "us-west-2".into(),
            endpoint_url: None,
            port: 8080,
            internal_port: 8081,
            tracing: service_common::telemetry::TracingSettings::OFF,
            list_cache: Duration::from_millis(1000),
        }
    );
    let settings = Settings::from_env(&env(&[
        ("DDB_TABLE_NAME", "t-1"),
        ("AWS_REGION", "us-west-2"),
        ("MYSFITS_HOME_REGION", "us-east-1"),
    ]))
    .unwrap();
    assert_eq!(settings.home_region, "us-east-1");
    let error = Settings::from_env(&env(&[
        ("DDB_TABLE_NAME", "t-1"),
        ("AWS_REGION", "us-west-2"),
        ("MYSFITS_HOME_REGION", "US East"),
    ]))
    .unwrap_err()
    .to_string();
    assert!(
        error.contains("MYSFITS_HOME_REGION is \"US East\", which is not an AWS region name"),
        "{error}"
    );
    for (value, kept) in [("0", 0), ("250", 250), ("60000", 60_000)] {
        let settings = Settings::from_env(&env(&[
            ("DDB_TABLE_NAME", "t-1"),
            ("AWS_REGION", "us-east-1"),
            ("CATALOGUE_CACHE_MS", value),
        ]))
        .unwrap();
        assert_eq!(settings.list_cache, Duration::from_millis(kept), "{value}");
    }
    for value in ["-1", "60001", "1s"] {
        let error = Settings::from_env(&env(&[
            ("DDB_TABLE_NAME", "t-1"),
            ("AWS_REGION", "us-east-1"),
            ("CATALOGUE_CACHE_MS", value),
        ]))
        .unwrap_err()
        .to_string();
        assert!(
            error.contains(&format!(
                "CATALOGUE_CACHE_MS is {value:?}, not a number of milliseconds from 0 to 60000"
            )),
            "{error}"
        );
    }
    let settings = Settings::from_env(&env(&[
        ("DDB_TABLE_NAME", "t-1"),
        ("AWS_DEFAULT_REGION", "eu-central-1"),
        ("AWS_ENDPOINT_URL", "http://127.0.0.1:5000/"),
        ("PORT", "9000"),
        ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://127.0.0.1:4318"),
        ("MYSFITS_TRACE_SAMPLE_RATIO", "0.25"),
    ]))
    .unwrap();
    assert_eq!(
        settings.tracing.endpoint.as_deref(),
        Some("http://127.0.0.1:4318")
    );
    assert_eq!(settings.tracing.sample_ratio, 0.25);
    assert_eq!(settings.region, "eu-central-1");
    assert_eq!(
        settings.endpoint_url.as_deref(),
        Some("http://127.0.0.1:5000")
    );
    assert_eq!(settings.port, 9000);
    assert_eq!(settings.internal_port, 8081);

    let failures = [
        (
            vec![("AWS_REGION", "us-east-1")],
            "DDB_TABLE_NAME is not set",
        ),
        (
            vec![
                ("DDB_TABLE_NAME", "no spaces please"),
                ("AWS_REGION", "us-east-1"),
            ],
            "not a DynamoDB table name",
        ),
        (vec![("DDB_TABLE_NAME", "t-1")], "AWS_REGION is not set"),
        (
            vec![("DDB_TABLE_NAME", "t-1"), ("AWS_REGION", "Mars")],
            "not a region name",
        ),
        (
            vec![
                ("DDB_TABLE_NAME", "t-1"),
                ("AWS_REGION", "us-east-1"),
                ("PORT", "80a"),
            ],
            "PORT is \"80a\"",
        ),
        (
            vec![
                ("DDB_TABLE_NAME", "t-1"),
                ("AWS_REGION", "us-east-1"),
                ("INTERNAL_PORT", "0"),
            ],
            "INTERNAL_PORT is \"0\"",
        ),
        (
            vec![
                ("DDB_TABLE_NAME", "t-1"),
                ("AWS_REGION", "us-east-1"),
                ("PORT", "9000"),
                ("INTERNAL_PORT", "9000"),
            ],
            "INTERNAL_PORT is 9000, the same as PORT",
        ),
        (
            vec![
                ("DDB_TABLE_NAME", "t-1"),
                ("AWS_REGION", "us-east-1"),
                ("AWS_ENDPOINT_URL", "localhost:5000"),
            ],
            "not an http:// or https:// URL",
        ),
        (
            vec![
                ("DDB_TABLE_NAME", "t-1"),
                ("AWS_REGION", "us-east-1"),
                ("MYSFITS_TRACE_SAMPLE_RATIO", "2"),
            ],
            "MYSFITS_TRACE_SAMPLE_RATIO is \"2\", not a number from 0 to 1",
        ),
    ];
    for (pairs, needle) in failures {
        let error = Settings::from_env(&env(&pairs)).unwrap_err().to_string();
        assert!(
            error.contains(needle),
            "{error:?} should contain {needle:?}"
        );
        assert!(error.contains("fix: "), "{error:?} should say what to do");
    }
}

#[test]
fn seed_catalogue_is_twelve_distinct_mysfits_of_every_alignment() {
    let items = seed_items();
    assert_eq!(items.len(), 12);
    let mut ids: Vec<&str> = items.iter().map(|item| item.id.as_str()).collect();
    ids.sort_unstable();
    ids.dedup();
    assert_eq!(ids.len(), 12, "ids are unique");
    for item in &items {
        assert!(["Good", "Neutral", "Evil"].contains(&item.good_evil.as_str()));
        assert!(["Lawful", "Neutral", "Chaotic"].contains(&item.law_chaos.as_str()));
        assert!(item.thumb_image_uri.starts_with("/images/thumb/"));
        assert!(!item.description.is_empty() && !item.name.is_empty());
        assert_eq!((item.likes, item.adopted), (0, false));
        assert_eq!(
            mysfits_service::mysfit::Mysfit::from_item(&item.to_item()).unwrap(),
            *item,
            "the DynamoDB form reads back the same"
        );
    }
    for value in ["Good", "Neutral", "Evil"] {
        assert!(items.iter().any(|item| item.good_evil == value));
    }
    for value in ["Lawful", "Neutral", "Chaotic"] {
        assert!(items.iter().any(|item| item.law_chaos == value));
    }
}

// ---------- against DynamoDB in moto ----------

#[tokio::test(flavor = "multi_thread")]
#[ignore = "emulator tier: needs moto_server; run scripts/test"]
async fn seeding_is_idempotent_and_keeps_likes_and_adoptions() {
    let (_moto, client) = seeded().await;
    let router = mysfits_router(client.clone());
    send(
        &internal_router(client.clone()),
        "POST",
        "/mysfits/gloam/fulfill-like",
    )
    .await
    .expect(StatusCode::OK);
    send(&router, "POST", "/mysfits/velvet/adopt")
        .await
        .expect(StatusCode::OK);

    let again = seed_catalogue(&client, TABLE).await.unwrap();
    assert_eq!(
        again,
        SeedCounts {
            inserted: 0,
            already_present: 12
        }
    );
    let gloam = send(&router, "GET", "/mysfits/gloam").await;
    assert_eq!(gloam.body["likes"], 1);
    let velvet = send(&router, "GET", "/mysfits/velvet").await;
    assert_eq!(velvet.body["adopted"], true);

    let error = seed_catalogue(&client, "no-such-table").await.unwrap_err();
    assert!(error.to_string().contains("no-such-table"), "{error}");
}

#[tokio::test(flavor = "multi_thread")]
#[ignore = "emulator tier: needs moto_server; run scripts/test"]
async fn list_filter_and_get_read_the_table() {
    let (_moto, client) = seeded().await;
    let router = mysfits_router(client);
    let catalogue = seed_items();

    let all = send(&router, "GET", "/mysfits").await;
    all.expect(StatusCode::OK);
    let mysfits = all.body["mysfits"].as_array().unwrap();
    assert_eq!(mysfits.len(), 12);
    let ids: Vec<&str> = mysfits
        .iter()
        .map(|mysfit| mysfit["mysfitId"].as_str().unwrap())
        .collect();
    let mut sorted = ids.clone();
    sorted.sort_unstable();
    assert_eq!(ids, sorted, "ordered by id");
    let first = &mysfits[0];
    for field in [
        "mysfitId",
        "name",
        "species",
        "description",
        "age",
        "goodevil",
        "lawchaos",
        "thumbImageUri",
        "profileImageUri",
        "likes",
        "adopted",
    ] {
        assert!(first.get(field).is_some(), "{field} missing in {first}");
    }

    for (filter, value, query_value) in [
        ("GoodEvil", "Evil", "Evil"),
        ("GoodEvil", "Good", "good"),
        ("LawChaos", "Chaotic", "CHAOTIC"),
        ("LawChaos", "Neutral", "Neutral"),
    ] {
        let reply = send(
            &router,
            "GET",
            &format!("/mysfits?filter={filter}&value={query_value}"),
        )
        .await;
        reply.expect(StatusCode::OK);
        let mut got: Vec<String> = reply.body["mysfits"]
            .as_array()
            .unwrap()
            .iter()
            .map(|mysfit| mysfit["mysfitId"].as_str().unwrap().to_string())
            .collect();
        let mut expected: Vec<String> = catalogue
            .iter()
            .filter(|item| {
                if filter == "GoodEvil" {
                    item.good_evil == value
                } else {
                    item.law_chaos == value
                }
            })
            .map(|item| item.id.clone())
            .collect();
        got.sort();
        expected.sort();
        assert!(!expected.is_empty());
        assert_eq!(got, expected, "{filter}={value}");
    }

    let one = send(&router, "GET", "/mysfits/quillon").await;
    one.expect(StatusCode::OK);
    assert_eq!(one.body["name"], "Quillon");
    assert_eq!(one.body["goodevil"], "Evil");
    send(&router, "GET", "/mysfits/nobody")
        .await
        .expect_error(StatusCode::NOT_FOUND, "no mysfit with id \"nobody\"");

    let ready = send(&router, "GET", "/health/ready").await;
    ready.expect(StatusCode::OK);
    assert_eq!(ready.body["status"], "ready");
    assert_eq!(ready.body["table"], TABLE);
    assert_eq!(ready.body["region"], REGION);
}

#[tokio::test(flavor = "multi_thread")]
#[ignore = "emulator tier: needs moto_server; run scripts/test"]
async fn a_missing_table_is_not_ready_and_reads_say_so() {
    let moto = Moto::start();
    let router = mysfits_router(dynamodb(&moto.endpoint()));
    let ready = send(&router, "GET", "/health/ready").await;
    ready.expect(StatusCode::SERVICE_UNAVAILABLE);
    assert!(
        ready.body["reason"]
            .as_str()
            .unwrap()
            .contains("does not exist"),
        "{}",
        ready.text
    );
    send(&router, "GET", "/mysfits")
        .await
        .expect_error(StatusCode::SERVICE_UNAVAILABLE, "does not exist");
}

/// fulfill-like counts a like without the like service: the public router (what the load
/// balancer reaches) answers it 404 and writes nothing; the internal router (the internal port,
/// open to the service tasks only) serves it and nothing of the public API.
/// With the list cache on (as the binary runs), a second list is answered without the table (a
/// write made behind the service's back is not seen within the time to live), while a like or an
/// adoption through this task shows in the very next list, on either router of the shared state.
#[tokio::test(flavor = "multi_thread")]
#[ignore = "emulator tier: needs moto_server; run scripts/test"]
async fn kept_list_answers_are_dropped_by_this_tasks_writes() {
    let (_moto, client) = seeded().await;
    let state = AppState::new(MysfitsTable::new(client.clone(), TABLE), REGION)
        .with_list_cache(Duration::from_secs(60));
    let public = mysfits_service::router(state.clone());
    let internal = mysfits_service::internal_router(state);
    let likes_of = |reply: &Reply, id: &str| {
        reply.body["mysfits"]
            .as_array()
            .unwrap()
            .iter()
            .find(|mysfit| mysfit["mysfitId"] == id)
            .map(|mysfit| mysfit["likes"].as_i64().unwrap())
            .unwrap()
    };
    let first = send(&public, "GET", "/mysfits").await;
    first.expect(StatusCode::OK);
    assert_eq!(first.headers["content-type"], "application/json");
    assert_eq!(likes_of(&first, "gloam"), 0);

    // Behind the service's back: the kept answer still says 0.
    client
        .update_item()
        .table_name(TABLE)
        .key(
            "MysfitId",
            aws_sdk_dynamodb::types::AttributeValue::S("gloam".into()),
        )
        .update_expression("ADD Likes :one")
        .expression_attribute_values(
            ":one",
            aws_sdk_dynamodb::types::AttributeValue::N("1".into()),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(
        likes_of(&send(&public, "GET", "/mysfits").await, "gloam"),
        0
    );

    // A like through this task: the next list reads the table (1 behind the back + this one).
    send(&internal, "POST", "/mysfits/gloam/fulfill-like")
        .await
        .expect(StatusCode::OK);
    assert_eq!(
        likes_of(&send(&public, "GET", "/mysfits").await, "gloam"),
        2
    );
    let evil = send(&public, "GET", "/mysfits?filter=GoodEvil&value=Evil").await;
    evil.expect(StatusCode::OK);
    let adopted = send(&public, "POST", "/mysfits/gloam/adopt").await;
    adopted.expect(StatusCode::OK);
    let after = send(&public, "GET", "/mysfits").await;
    let gloam = after.body["mysfits"]
        .as_array()
        .unwrap()
        .iter()
        .find(|mysfit| mysfit["mysfitId"] == "gloam")
        .unwrap()
        .clone();
    assert_eq!(gloam["adopted"], true, "an adoption shows in the next list");
}

#[tokio::test(flavor = "multi_thread")]
#[ignore = "emulator tier: needs moto_server; run scripts/test"]
async fn fulfill_like_is_served_on_the_internal_port_only() {
    let (_moto, client) = seeded().await;
    let public = mysfits_router(client.clone());
    let internal = internal_router(client);
    send(&public, "POST", "/mysfits/gloam/fulfill-like")
        .await
        .expect_error(
            StatusCode::NOT_FOUND,
            "no such endpoint: POST /mysfits/gloam/fulfill-like",
        );
    assert_eq!(
        send(&public, "GET", "/mysfits/gloam").await.body["likes"],
        0,
        "the public 404 wrote nothing"
    );
    let liked = send(&internal, "POST", "/mysfits/gloam/fulfill-like").await;
    liked.expect(StatusCode::OK);
    assert_eq!(liked.body["likes"], 1);
    send(&internal, "GET", "/health")
        .await
        .expect(StatusCode::OK);
    for (method, uri) in [
        ("GET", "/mysfits"),
        ("GET", "/mysfits/gloam"),
        ("POST", "/mysfits/gloam/adopt"),
        ("GET", "/"),
    ] {
        assert_eq!(
            send(&internal, method, uri).await.status,
            StatusCode::NOT_FOUND,
            "{method} {uri} on the internal port"
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
#[ignore = "emulator tier: needs moto_server; run scripts/test"]
async fn adopt_once_then_409_and_unknown_ids_are_404() {
    let (_moto, client) = seeded().await;
    let router = mysfits_router(client.clone());
    let adopted = send(&router, "POST", "/mysfits/tumble/adopt").await;
    adopted.expect(StatusCode::OK);
    assert_eq!(adopted.body["adopted"], true);
    assert_eq!(adopted.body["mysfitId"], "tumble");
    send(&router, "POST", "/mysfits/tumble/adopt")
        .await
        .expect_error(StatusCode::CONFLICT, "already been adopted");
    send(&router, "POST", "/mysfits/nobody/adopt")
        .await
        .expect_error(StatusCode::NOT_FOUND, "nobody");
    send(
        &internal_router(client),
        "POST",
        "/mysfits/nobody/fulfill-like",
    )
    .await
    .expect_error(StatusCode::NOT_FOUND, "nobody");
    // Neither write created an item.
    send(&router, "GET", "/mysfits/nobody")
        .await
        .expect(StatusCode::NOT_FOUND);
    let all = send(&router, "GET", "/mysfits").await;
    assert_eq!(all.body["mysfits"].as_array().unwrap().len(), 12);
}

#[tokio::test(flavor = "multi_thread")]
#[ignore = "emulator tier: needs moto_server; run scripts/test"]
async fn concurrent_double_adoptions_have_exactly_one_winner() {
    let (_moto, _proxy, client) = seeded_one_at_a_time().await;
    let router = mysfits_router(client);
    for item in seed_items() {
        let uri = format!("/mysfits/{}/adopt", item.id);
        let (first, second) =
            tokio::join!(send(&router, "POST", &uri), send(&router, "POST", &uri));
        let mut statuses = [first.status, second.status];
        statuses.sort();
        assert_eq!(
            statuses,
            [StatusCode::OK, StatusCode::CONFLICT],
            "{}: {} / {}",
            item.id,
            first.text,
            second.text
        );
    }
}
