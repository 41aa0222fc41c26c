//! Fuzzing the mysfits-service API: never a 5xx, nothing corrupted.

use std::collections::HashMap;

use aws_sdk_dynamodb::types::AttributeValue;
use axum::body::Body;
use http::Request;
use proptest::prelude::*;
use proptest::test_runner::{Config, TestCaseError, TestRunner};
use tower::ServiceExt;

use testbed::moto::Moto;

const REGION: &str = "eu-west-1";
const TABLE: &str = "fuzz-mysfits";

/// One request as the fuzzer makes it.
#[derive(Debug, Clone)]
struct Call {
    method: &'static str,
    path: String,
    content_type: Option<&'static str>,
    body: Vec<u8>,
}

/// Percent-encodes everything but unreserved characters, so any string becomes a valid URI
/// part (the server sees the original string after decoding).
fn encode(text: &str) -> String {
    text.bytes()
        .map(|byte| match byte {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (byte as char).to_string()
            }
            other => format!("%{other:02X}"),
        })
        .collect()
}

/// Ids: real ones (so valid calls happen too), near misses, and anything at all.
fn ids(real: Vec<String>) -> impl Strategy<Value = String> {
    let near: Vec<String> = real
        .iter()
        .flat_map(|id| {
            [
                id.to_uppercase(),
                format!("{id} "),
                format!("{id}x"),
                id[..id.len() / 2].to_string(),
            ]
        })
        .collect();
    prop_oneof![
        3 => proptest::sample::select(real),
        1 => proptest::sample::select(near),
        2 => any::<String>(),
        1 => "[a-z0-9-]{0,3000}",
        1 => Just(String::new()),
        1 => Just("..".to_string()),
        1 => Just("%00".to_string()),
    ]
}

fn query_words() -> impl Strategy<Value = String> {
    prop_oneof![
        proptest::sample::select(vec![
            "GoodEvil", "LawChaos", "goodevil", "Good", "Evil", "Neutral", "Lawful", "Chaotic", "",
            " ",
        ])
        .prop_map(str::to_string),
        any::<String>(),
    ]
}

fn calls(real: Vec<String>) -> impl Strategy<Value = Call> {
    let method = proptest::sample::select(vec![
        "GET", "GET", "POST", "POST", "PUT", "DELETE", "PATCH", "HEAD", "OPTIONS",
    ]);
    let path = prop_oneof![
        ids(real.clone()).prop_map(|id| format!("/mysfits/{}", encode(&id))),
        ids(real.clone()).prop_map(|id| format!("/mysfits/{}/adopt", encode(&id))),
        ids(real).prop_map(|id| format!("/mysfits/{}/fulfill-like", encode(&id))),
        (
            proptest::option::of(query_words()),
            proptest::option::of(query_words())
        )
            .prop_map(|(filter, value)| {
                let mut query = Vec::new();
                if let Some(filter) = filter {
                    query.push(format!("filter={}", encode(&filter)));
                }
                if let Some(value) = value {
                    query.push(format!("value={}", encode(&value)));
                }
                format!("/mysfits?{}", query.join("&"))
            }),
        "[a-zA-Z0-9/._~%-]{0,64}".prop_map(|path| format!("/{path}")),
        (any::<String>(), any::<String>()).prop_map(|(size, file)| format!(
            "/images/{}/{}",
            encode(&size),
            encode(&file)
        )),
        Just("/health".to_string()),
        Just("/health/ready".to_string()),
        Just("/".to_string()),
    ];
    let content_type = proptest::option::of(proptest::sample::select(vec![
        "application/json",
        "text/plain",
        "application/x-www-form-urlencoded",
    ]));
    let body = prop_oneof![
        Just(Vec::new()),
        proptest::collection::vec(any::<u8>(), 0..512),
        Just(br#"{"Likes": 1000, "Adopted": true, "MysfitId": "x"}"#.to_vec()),
    ];
    (method, path, content_type, body).prop_map(|(method, path, content_type, body)| Call {
        method,
        path,
        content_type,
        body,
    })
}

fn snapshot(
    items: &[HashMap<String, AttributeValue>],
) -> HashMap<String, HashMap<String, AttributeValue>> {
    items
        .iter()
        .map(|item| {
            let id = item["MysfitId"].as_s().unwrap().clone();
            (id, item.clone())
        })
        .collect()
}

async fn scan(
    client: &aws_sdk_dynamodb::Client,
) -> HashMap<String, HashMap<String, AttributeValue>> {
    let mut items = Vec::new();
    let mut pages = client
        .scan()
        .table_name(TABLE)
        .into_paginator()
        .items()
        .send();
    while let Some(item) = pages.next().await {
        items.push(item.unwrap());
    }
    snapshot(&items)
}

/// Arbitrary methods, paths, ids, filters and bodies against the real router over a seeded
/// table: no answer is a 5xx, and afterwards every item is exactly as seeded except Likes
/// (up by the number of accepted likes) and Adopted (true after an accepted adoption).
#[test]
#[ignore = "emulator tier: needs moto_server; run scripts/test"]
fn mysfits_service_never_answers_5xx_and_corrupts_nothing() {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let moto = Moto::start();
    let client = aws_sdk_dynamodb::Client::new(&moto.sdk_config(REGION));
    runtime.block_on(crate::support::create_table(&client, TABLE));
    runtime
        .block_on(mysfits_service::catalogue::seed_catalogue(&client, TABLE))
        .unwrap();
    let before = runtime.block_on(scan(&client));
    let mut real: Vec<String> = before.keys().cloned().collect();
    real.sort_unstable();
    let router = mysfits_service::router(mysfits_service::AppState::new(
        mysfits_service::MysfitsTable::new(client.clone(), TABLE),
        REGION,
    ));

    let accepted_likes = std::cell::RefCell::new(HashMap::<String, i64>::new());
    let accepted_adoptions = std::cell::RefCell::new(HashMap::<String, bool>::new());
    // A fixed seed: the same 400 calls every run. With a random one, about one run in thirty
    // made no valid adoption (a POST to a real id's /adopt is under 1 % of the calls, and
    // fulfill-like is not on this router), failing the check below that the writes were reached.
    let config = Config {
        cases: 400,
        failure_persistence: None,
        ..Config::default()
    };
    let rng = proptest::test_runner::TestRng::deterministic_rng(config.rng_algorithm);
    let mut runner = TestRunner::new_with_rng(config, rng);
    let outcome = runner.run(&calls(real.clone()), |call| {
        let mut request = Request::builder().method(call.method).uri(&call.path);
        if let Some(content_type) = call.content_type {
            request = request.header("content-type", content_type);
        }
        let request = request
            .body(Body::from(call.body.clone()))
            .map_err(|error| TestCaseError::fail(format!("{call:?}: {error}")))?;
        let response = runtime.block_on(router.clone().oneshot(request)).unwrap();
        let status = response.status();
        let body = runtime
            .block_on(axum::body::to_bytes(response.into_body(), 1 << 22))
            .unwrap();
        prop_assert!(
            !status.is_server_error(),
            "{} {} answered {status}: {}",
            call.method,
            call.path,
            String::from_utf8_lossy(&body)
        );
        if call.method == "POST" && status.is_success() {
            let answered: serde_json::Value = serde_json::from_slice(&body).unwrap();
            let id = answered["mysfitId"].as_str().map(str::to_string);
            if let Some(id) = id {
                if call.path.ends_with("/fulfill-like") {
                    *accepted_likes.borrow_mut().entry(id).or_default() += 1;
                } else if call.path.ends_with("/adopt") {
                    accepted_adoptions.borrow_mut().insert(id, true);
                }
            }
        }
        Ok(())
    });
    if let Err(failure) = outcome {
        panic!("{failure}");
    }

    let after = runtime.block_on(scan(&client));
    assert_eq!(
        after.keys().collect::<std::collections::BTreeSet<_>>(),
        before.keys().collect::<std::collections::BTreeSet<_>>(),
        "items were added or removed"
    );
    let number = |item: &HashMap<String, AttributeValue>, key: &str| -> i64 {
        item.get(key)
            .and_then(|value| value.as_n().ok())
            .map(|text| text.parse().unwrap())
            .unwrap_or(0)
    };
    let flag = |item: &HashMap<String, AttributeValue>| {
        item.get("Adopted")
            .and_then(|value| value.as_bool().ok())
            .copied()
            .unwrap_or(false)
    };
    let (likes, adoptions) = (accepted_likes.borrow(), accepted_adoptions.borrow());
    let mut changed_items = 0;
    for (id, old) in &before {
        let new = &after[id];
        let unchanged = |item: &HashMap<String, AttributeValue>| {
            let mut rest = item.clone();
            rest.remove("Likes");
            rest.remove("Adopted");
            rest.remove("Version");
            rest
        };
        assert_eq!(
            unchanged(new),
            unchanged(old),
            "{id}: fields other than Likes/Adopted/Version changed"
        );
        let liked = likes.get(id).copied().unwrap_or(0);
        assert_eq!(
            number(new, "Likes"),
            number(old, "Likes") + liked,
            "{id}: Likes"
        );
        assert_eq!(
            flag(new),
            flag(old) || adoptions.get(id).copied().unwrap_or(false),
            "{id}: Adopted"
        );
        let newly_adopted = i64::from(flag(new) && !flag(old));
        assert_eq!(
            number(new, "Version"),
            number(old, "Version") + liked + newly_adopted,
            "{id}: every accepted write adds one Version"
        );
        if liked > 0 || flag(new) != flag(old) {
            changed_items += 1;
        }
    }
    assert!(
        changed_items > 0,
        "no valid like or adoption happened: the fuzzer did not reach the writes"
    );
}
