//! A write-region move under load, over moto. moto does not replicate, so both "regions'"
//! tables are one table in one moto region (a replication lag of 0): what is checked is the
//! fence, not the replication. Two services (one naming itself us-east-1, one us-west-2) serve
//! on loopback and take likes and adoptions from both sides while `mysfits::writes` moves the
//! write region from us-east-1 to us-west-2: no acknowledged like is lost or doubled, no mysfit
//! is adopted twice, and writes during the move are refused with 503 and Retry-After. Calls go
//! through the one-at-a-time proxy (moto checks conditions without a lock).

use std::time::Duration;

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::types::AttributeValue;
use mysfits::writes::{self, MoveOptions, MoveOutcome, Replica};
use mysfits_catalogue::catalogue::seed_catalogue;
use mysfits_catalogue::write_region::{Control, ControlState};
use mysfits_service::{AppState, MysfitsTable};
use testbed::faults::FaultProxy;
use testbed::moto::{Moto, sdk_config_for};

const TABLE: &str = "move-mysfits";
const EAST: &str = "us-east-1";
const WEST: &str = "us-west-2";

/// One "region's" mysfits-service on a loopback port (named `region` in its answers): both
/// regions' tables are the one moto table in us-east-1.
async fn serve_region(client: &Client, region: &str) -> String {
    let table = MysfitsTable::new(client.clone(), TABLE)
        .with_home_region(EAST)
        .with_region_client(WEST, client.clone());
    let state = AppState::new(table, region);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    // The internal router has fulfill-like; adoptions are on the public one: one port each.
    let public = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let public_address = public.local_addr().unwrap();
    let internal = mysfits_service::internal_router(state.clone());
    tokio::spawn(async move { axum::serve(listener, internal).await });
    let router = mysfits_service::router(state);
    tokio::spawn(async move { axum::serve(public, router).await });
    format!("http://{address}|http://{public_address}")
}

#[derive(Debug, Default)]
struct Tally {
    likes_acknowledged: u64,
    likes_after_the_move: u64,
    adoptions: Vec<String>,
    refused_with_retry_after: u64,
    other: Vec<String>,
}

#[tokio::test(flavor = "multi_thread")]
#[ignore = "emulator tier: needs moto_server; run scripts/test"]
async fn a_write_region_move_under_load_loses_and_doubles_nothing() {
    let moto = Moto::start();
    let direct = Client::new(&sdk_config_for(&moto.endpoint(), EAST));
    mysfits_service::table::create_catalogue_table(&direct, TABLE)
        .await
        .unwrap();
    seed_catalogue(&direct, TABLE).await.unwrap();
    let seeded = writes::seed(Replica {
        region: EAST,
        client: &direct,
        table: TABLE,
    })
    .await
    .unwrap();
    assert!(seeded.created);
    let proxy = FaultProxy::one_at_a_time(&moto.endpoint());
    let client = Client::new(&sdk_config_for(&proxy.endpoint(), EAST));
    let services = [
        serve_region(&client, EAST).await,
        serve_region(&client, WEST).await,
    ];

    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .build()
        .unwrap();
    let stop = tokio_util::sync::CancellationToken::new();
    let moved = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let mut load = tokio::task::JoinSet::new();
    const CANDIDATES: [&str; 4] = ["bramble", "cinder", "quillon", "tumble"];
    for (index, urls) in services.iter().cycle().take(6).enumerate() {
        let (internal, public) = urls.split_once('|').unwrap();
        let (internal, public) = (internal.to_string(), public.to_string());
        let (http, stop, moved) = (http.clone(), stop.clone(), moved.clone());
        load.spawn(async move {
            let mut tally = Tally::default();
            // Bounded: at most 400 requests per worker, and it stops when told.
            for round in 0..400usize {
                if stop.is_cancelled() {
                    break;
                }
                let (url, adopting) = if round % 5 == index % 5 {
                    let id = CANDIDATES[(round / 5 + index) % CANDIDATES.len()];
                    (format!("{public}/mysfits/{id}/adopt"), Some(id))
                } else {
                    (format!("{internal}/mysfits/gloam/fulfill-like"), None)
                };
                let after_the_move = moved.load(std::sync::atomic::Ordering::SeqCst);
                let response = http.post(&url).send().await.unwrap();
                let status = response.status().as_u16();
                let retry_after = response.headers().get("retry-after").cloned();
                match (status, adopting) {
                    (200, None) => {
                        tally.likes_acknowledged += 1;
                        tally.likes_after_the_move += u64::from(after_the_move);
                    }
                    (200, Some(id)) => tally.adoptions.push(id.to_string()),
                    (409, Some(_)) => {}
                    (503, _) if retry_after.is_some_and(|value| value == "1") => {
                        tally.refused_with_retry_after += 1;
                        tokio::time::sleep(Duration::from_millis(50)).await;
                    }
                    _ => tally.other.push(format!(
                        "{url}: {status} {}",
                        response.text().await.unwrap_or_default()
                    )),
                }
            }
            tally
        });
    }

    // Writes flow in us-east-1 first; then the move, under that load.
    tokio::time::sleep(Duration::from_millis(800)).await;
    let one_table = Replica {
        region: EAST,
        client: &client,
        table: TABLE,
    };
    let report = writes::move_write_region(
        one_table,
        Replica {
            region: WEST,
            ..one_table
        },
        MoveOptions::default(),
    )
    .await
    .unwrap();
    moved.store(true, std::sync::atomic::Ordering::SeqCst);
    assert_eq!(report.outcome, MoveOutcome::Moved, "{report:?}");
    assert_eq!((report.epoch_before, report.epoch_after), (1, 2));
    assert_eq!(report.items_compared, 12);
    // Writes resume in the new write region: let them flow, then stop the load.
    tokio::time::sleep(Duration::from_millis(2500)).await;
    stop.cancel();
    let tallies = load.join_all().await;

    let other: Vec<&String> = tallies.iter().flat_map(|tally| &tally.other).collect();
    assert!(
        other.is_empty(),
        "only 200, 409 and 503 + Retry-After: {} others, the first {:?}",
        other.len(),
        other.iter().take(3).collect::<Vec<_>>()
    );
    let refused: u64 = tallies
        .iter()
        .map(|tally| tally.refused_with_retry_after)
        .sum();
    assert!(
        refused > 0,
        "the move refused some writes (503 + Retry-After)"
    );
    let acknowledged: u64 = tallies.iter().map(|tally| tally.likes_acknowledged).sum();
    let after: u64 = tallies.iter().map(|tally| tally.likes_after_the_move).sum();
    eprintln!(
        "likes acknowledged {acknowledged} ({after} after the move), refused with Retry-After {refused}, move {report:?}"
    );
    assert!(after > 0, "writes resumed in the new write region");
    assert!(
        acknowledged > after,
        "writes were taken before the move too"
    );
    let item = direct
        .get_item()
        .table_name(TABLE)
        .key("MysfitId", AttributeValue::S("gloam".into()))
        .consistent_read(true)
        .send()
        .await
        .unwrap()
        .item
        .unwrap();
    let number = |name: &str| match item.get(name) {
        Some(AttributeValue::N(value)) => value.parse::<u64>().unwrap(),
        _ => 0,
    };
    assert_eq!(number("Likes"), acknowledged, "no like lost or doubled");
    // One version per write; likes that met in one write of a service share it.
    assert!(
        (1..=acknowledged).contains(&number("Version")),
        "Version {} counts the writes of {acknowledged} likes",
        number("Version")
    );
    let mut adoptions: Vec<&String> = tallies.iter().flat_map(|tally| &tally.adoptions).collect();
    adoptions.sort();
    let adopted_once = {
        let mut unique = adoptions.clone();
        unique.dedup();
        unique
    };
    assert_eq!(adoptions, adopted_once, "no mysfit adopted twice");
    assert!(!adoptions.is_empty(), "the load reached the adoptions");
    let control = writes::describe(one_table).await.unwrap();
    assert_eq!(
        control,
        Some(Control {
            write_region: WEST.into(),
            epoch: 2,
            state: ControlState::Active,
        })
    );
    drop(proxy);
}
