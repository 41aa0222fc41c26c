//! Likes that come while a write is under way share the next one (group commit, see
//! `mysfits_service::like_queue`), on modeled DynamoDB answers: each request must have the exact
//! shape AWS takes (one action per item, the control check once, the counts added), or no rule
//! matches and the like fails.
//!
//! The likes of a test are started together on the one-thread test runtime: all of them are
//! queued before the writer task first runs, so they meet in one write.

use std::collections::HashMap;

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::operation::batch_get_item::{BatchGetItemInput, BatchGetItemOutput};
use aws_sdk_dynamodb::operation::get_item::GetItemOutput;
use aws_sdk_dynamodb::operation::transact_write_items::{
    TransactWriteItemsInput, TransactWriteItemsOutput,
};
use aws_sdk_dynamodb::types::{AttributeValue, KeysAndAttributes};
use aws_smithy_mocks::{Rule, RuleMode, mock, mock_client};
use mysfits_service::MysfitsTable;
use mysfits_service::catalogue::seed_items;
use mysfits_service::table::StoreError;
use mysfits_service::write_region::{CONTROL_ID, Control, ControlState};

use crate::regions::canceled;
use crate::support::TABLE;

const EAST: &str = "us-east-1";

fn control_read() -> Rule {
    let active = Control {
        write_region: EAST.into(),
        epoch: 2,
        state: ControlState::Active,
    };
    mock!(Client::get_item)
        .match_requests(|request| {
            request.key().and_then(|key| key.get("MysfitId"))
                == Some(&AttributeValue::S(CONTROL_ID.into()))
        })
        .then_output(move || {
            GetItemOutput::builder()
                .set_item(Some(active.to_item()))
                .build()
        })
}

/// The mysfit `id` with `likes` likes, as an item.
fn liked(id: &str, likes: u64) -> HashMap<String, AttributeValue> {
    let mut mysfit = seed_items()
        .into_iter()
        .find(|mysfit| mysfit.id == id)
        .unwrap();
    mysfit.likes = likes;
    mysfit.to_item()
}

/// The transaction's updates as (mysfit, likes added), after checking that its first action is
/// the control check and that every other one is an `ADD` on an existing mysfit.
fn updates(request: &TransactWriteItemsInput) -> Vec<(String, String)> {
    let items = request.transact_items();
    let check = items[0]
        .condition_check()
        .expect("the control check comes first");
    assert_eq!(
        check.key().get("MysfitId"),
        Some(&AttributeValue::S(CONTROL_ID.into()))
    );
    items[1..]
        .iter()
        .map(|item| {
            let update = item.update().expect("then one update per mysfit");
            assert_eq!(
                update.update_expression(),
                "ADD #likes :count, #version :one"
            );
            assert_eq!(update.condition_expression(), Some("attribute_exists(#id)"));
            let values = update.expression_attribute_values().unwrap();
            assert_eq!(values[":one"], AttributeValue::N("1".into()));
            let Some(AttributeValue::S(id)) = update.key().get("MysfitId") else {
                panic!("the update has no mysfit key")
            };
            let AttributeValue::N(count) = &values[":count"] else {
                panic!("the count is not a number")
            };
            (id.clone(), count.clone())
        })
        .collect()
}

fn pairs(expected: &[(&str, &str)]) -> Vec<(String, String)> {
    expected
        .iter()
        .map(|(id, count)| (id.to_string(), count.to_string()))
        .collect()
}

/// A consistent `BatchGetItem` of exactly `ids` on the table.
fn reads_back(request: &BatchGetItemInput, ids: &[&str]) -> bool {
    let Some(wanted) = request.request_items().and_then(|tables| tables.get(TABLE)) else {
        return false;
    };
    let keys: Vec<&AttributeValue> = wanted
        .keys()
        .iter()
        .filter_map(|key| key.get("MysfitId"))
        .collect();
    wanted.consistent_read() == Some(true)
        && keys.len() == ids.len()
        && ids
            .iter()
            .all(|id| keys.contains(&&AttributeValue::S(id.to_string())))
}

fn found(items: Vec<HashMap<String, AttributeValue>>) -> BatchGetItemOutput {
    BatchGetItemOutput::builder()
        .responses(TABLE, items)
        .build()
}

fn likes_of(outcome: &Result<mysfits_service::mysfit::Mysfit, StoreError>) -> u64 {
    outcome.as_ref().expect("the like is counted").likes
}

#[tokio::test]
async fn likes_that_come_together_share_one_transaction_and_one_read_back() {
    let transactions = mock!(Client::transact_write_items)
        .match_requests(|request| updates(request) == pairs(&[("gloam", "3"), ("pollen", "2")]))
        .then_output(|| TransactWriteItemsOutput::builder().build());
    let read_back = mock!(Client::batch_get_item)
        .match_requests(|request| reads_back(request, &["gloam", "pollen"]))
        .then_output(|| found(vec![liked("pollen", 2), liked("gloam", 3)]));
    let client = mock_client!(
        aws_sdk_dynamodb,
        RuleMode::MatchAny,
        &[&control_read(), &transactions, &read_back]
    );
    let table = MysfitsTable::new(client, TABLE);
    let outcomes = tokio::join!(
        table.like("gloam"),
        table.like("pollen"),
        table.like("gloam"),
        table.like("pollen"),
        table.like("gloam"),
    );
    assert_eq!(
        [
            &outcomes.0,
            &outcomes.1,
            &outcomes.2,
            &outcomes.3,
            &outcomes.4
        ]
        .map(likes_of),
        [3, 2, 3, 2, 3],
        "each like is answered with its own mysfit, read back after the write"
    );
    assert_eq!(transactions.num_calls(), 1);
    assert_eq!(read_back.num_calls(), 1);
    // Idle again: the next like is written at once, alone (read back with GetItem).
    let alone = mock!(Client::transact_write_items)
        .match_requests(|request| updates(request) == pairs(&[("gloam", "1")]))
        .then_output(|| TransactWriteItemsOutput::builder().build());
    let get = mock!(Client::get_item)
        .match_requests(|request| request.consistent_read() == Some(true))
        .then_output(|| GetItemOutput::builder().item_set(liked("gloam", 4)).build());
    let client = mock_client!(
        aws_sdk_dynamodb,
        RuleMode::MatchAny,
        &[&control_read(), &alone, &get]
    );
    let table = MysfitsTable::new(client, TABLE);
    assert_eq!(likes_of(&table.like("gloam").await), 4);
    assert_eq!((alone.num_calls(), get.num_calls()), (1, 1));
}

trait ItemSet {
    fn item_set(self, item: HashMap<String, AttributeValue>) -> Self;
}

impl ItemSet for aws_sdk_dynamodb::operation::get_item::builders::GetItemOutputBuilder {
    fn item_set(self, item: HashMap<String, AttributeValue>) -> Self {
        self.set_item(Some(item))
    }
}

/// An unknown mysfit cancels the whole transaction (nothing written): it is answered 404 and the
/// others are written again without it.
#[tokio::test]
async fn an_unknown_mysfit_is_not_found_and_the_others_are_written_without_it() {
    let with_unknown = mock!(Client::transact_write_items)
        .match_requests(|request| {
            updates(request) == pairs(&[("gloam", "1"), ("nobody", "2"), ("pollen", "1")])
        })
        .then_error(|| {
            canceled(vec![
                ("None", None),
                ("None", None),
                ("ConditionalCheckFailed", None),
                ("None", None),
            ])
        });
    let without = mock!(Client::transact_write_items)
        .match_requests(|request| updates(request) == pairs(&[("gloam", "1"), ("pollen", "1")]))
        .then_output(|| TransactWriteItemsOutput::builder().build());
    let read_back = mock!(Client::batch_get_item)
        .match_requests(|request| reads_back(request, &["gloam", "pollen"]))
        .then_output(|| found(vec![liked("gloam", 1), liked("pollen", 1)]));
    let client = mock_client!(
        aws_sdk_dynamodb,
        RuleMode::MatchAny,
        &[&control_read(), &with_unknown, &without, &read_back]
    );
    let table = MysfitsTable::new(client, TABLE);
    let (gloam, nobody, pollen, nobody_again) = tokio::join!(
        table.like("gloam"),
        table.like("nobody"),
        table.like("pollen"),
        table.like("nobody"),
    );
    assert_eq!((likes_of(&gloam), likes_of(&pollen)), (1, 1));
    for outcome in [nobody, nobody_again] {
        assert_eq!(
            outcome,
            Err(StoreError::NotFound {
                id: "nobody".into()
            })
        );
    }
    assert_eq!((with_unknown.num_calls(), without.num_calls()), (1, 1));
}

/// The control check failed: the write region moved. Every like of the write is refused as
/// paused (503 with Retry-After), none is read back.
#[tokio::test]
async fn a_failed_control_check_pauses_every_like_of_the_write() {
    let transactions = mock!(Client::transact_write_items)
        .match_requests(|request| updates(request).len() == 2)
        .then_error(|| {
            canceled(vec![
                ("ConditionalCheckFailed", None),
                ("None", None),
                ("None", None),
            ])
        });
    let read_back = mock!(Client::batch_get_item).then_output(|| found(vec![]));
    let client = mock_client!(
        aws_sdk_dynamodb,
        RuleMode::MatchAny,
        &[&control_read(), &transactions, &read_back]
    );
    let table = MysfitsTable::new(client, TABLE);
    let (gloam, pollen) = tokio::join!(table.like("gloam"), table.like("pollen"));
    for outcome in [gloam, pollen] {
        assert!(
            matches!(&outcome, Err(StoreError::WritesPaused(message)) if message.contains("moved")),
            "{outcome:?}"
        );
    }
    assert_eq!((transactions.num_calls(), read_back.num_calls()), (1, 0));
}

/// BatchGetItem may leave keys unprocessed (capacity): they are asked for again.
#[tokio::test]
async fn keys_left_unprocessed_by_the_read_back_are_asked_for_again() {
    let transactions = mock!(Client::transact_write_items)
        .match_requests(|request| updates(request) == pairs(&[("gloam", "1"), ("pollen", "1")]))
        .then_output(|| TransactWriteItemsOutput::builder().build());
    let first = mock!(Client::batch_get_item)
        .match_requests(|request| reads_back(request, &["gloam", "pollen"]))
        .then_output(|| {
            let pollen =
                HashMap::from([("MysfitId".to_string(), AttributeValue::S("pollen".into()))]);
            BatchGetItemOutput::builder()
                .responses(TABLE, vec![liked("gloam", 1)])
                .unprocessed_keys(
                    TABLE,
                    KeysAndAttributes::builder()
                        .keys(pollen)
                        .consistent_read(true)
                        .build()
                        .unwrap(),
                )
                .build()
        });
    let again = mock!(Client::batch_get_item)
        .match_requests(|request| reads_back(request, &["pollen"]))
        .then_output(|| found(vec![liked("pollen", 1)]));
    let client = mock_client!(
        aws_sdk_dynamodb,
        RuleMode::MatchAny,
        &[&control_read(), &transactions, &first, &again]
    );
    let table = MysfitsTable::new(client, TABLE);
    let (gloam, pollen) = tokio::join!(table.like("gloam"), table.like("pollen"));
    assert_eq!((likes_of(&gloam), likes_of(&pollen)), (1, 1));
    assert_eq!((first.num_calls(), again.num_calls()), (1, 1));
}

/// The write region does not answer (nothing listens there): the SDK retries and then reports
/// that the connection failed. An earlier attempt may still have been applied (the SDK returns
/// only the last attempt's error), so every like of the write is an unknown outcome (502, which
/// like-service never retries) and never "nothing written" (503, which it does).
#[tokio::test]
async fn a_write_the_sdk_could_not_send_is_an_unknown_outcome_for_every_like() {
    let west_is_the_write_region = mock!(Client::get_item)
        .match_requests(|request| {
            request.key().and_then(|key| key.get("MysfitId"))
                == Some(&AttributeValue::S(CONTROL_ID.into()))
        })
        .then_output(|| {
            let active = Control {
                write_region: "us-west-2".into(),
                epoch: 3,
                state: ControlState::Active,
            };
            GetItemOutput::builder()
                .set_item(Some(active.to_item()))
                .build()
        });
    let local = mock_client!(
        aws_sdk_dynamodb,
        RuleMode::MatchAny,
        &[&west_is_the_write_region]
    );
    let dead = Client::new(&testbed::moto::sdk_config_for(
        &testbed::dead_endpoint(),
        "us-west-2",
    ));
    let table = MysfitsTable::new(local, TABLE).with_region_client("us-west-2", dead);
    let (gloam, pollen) = tokio::join!(table.like("gloam"), table.like("pollen"));
    for outcome in [gloam, pollen] {
        let Err(StoreError::Failed(message)) = &outcome else {
            panic!("not an unknown outcome: {outcome:?}")
        };
        assert!(
            message.contains("TransactWriteItems") && message.contains("outcome is unknown"),
            "{message}"
        );
        let error = service_common::ApiError::from(outcome.unwrap_err());
        assert_eq!(error.status, http::StatusCode::BAD_GATEWAY);
    }
    // A read that could not be sent changed nothing: there "try again" stays right.
    let reader = MysfitsTable::new(
        Client::new(&testbed::moto::sdk_config_for(
            &testbed::dead_endpoint(),
            "us-east-1",
        )),
        TABLE,
    );
    assert!(
        matches!(reader.get("gloam").await, Err(StoreError::Unavailable(_))),
        "a failed GetItem is retryable"
    );
}

/// Keys DynamoDB leaves unprocessed every time are asked for again with a growing pause, a
/// bounded number of times; the likes were applied, so they are answered as such (502, not
/// retried), and the keys it did return are answered with their mysfit.
#[tokio::test(start_paused = true)]
async fn keys_left_unprocessed_every_time_are_answered_applied_but_unread() {
    use mysfits_service::table::{READ_BACK_ATTEMPTS, READ_BACK_PAUSE};
    let transactions = mock!(Client::transact_write_items)
        .match_requests(|request| updates(request) == pairs(&[("gloam", "1"), ("pollen", "1")]))
        .then_output(|| TransactWriteItemsOutput::builder().build());
    let unprocessed_pollen = || {
        KeysAndAttributes::builder()
            .keys(HashMap::from([(
                "MysfitId".to_string(),
                AttributeValue::S("pollen".into()),
            )]))
            .consistent_read(true)
            .build()
            .unwrap()
    };
    let first = mock!(Client::batch_get_item)
        .match_requests(|request| reads_back(request, &["gloam", "pollen"]))
        .then_output(move || {
            BatchGetItemOutput::builder()
                .responses(TABLE, vec![liked("gloam", 1)])
                .unprocessed_keys(TABLE, unprocessed_pollen())
                .build()
        });
    let again = mock!(Client::batch_get_item)
        .match_requests(|request| reads_back(request, &["pollen"]))
        .then_output(move || {
            BatchGetItemOutput::builder()
                .unprocessed_keys(TABLE, unprocessed_pollen())
                .build()
        });
    let client = mock_client!(
        aws_sdk_dynamodb,
        RuleMode::MatchAny,
        &[&control_read(), &transactions, &first, &again]
    );
    let table = MysfitsTable::new(client, TABLE);
    let started = tokio::time::Instant::now();
    let (gloam, pollen) = tokio::join!(table.like("gloam"), table.like("pollen"));
    assert_eq!(likes_of(&gloam), 1);
    let Err(StoreError::Failed(message)) = &pollen else {
        panic!("not applied-but-unread: {pollen:?}")
    };
    assert!(message.contains("was applied"), "{message}");
    assert_eq!(
        (first.num_calls(), again.num_calls()),
        (1, READ_BACK_ATTEMPTS as usize - 1)
    );
    // Exponential backoff, as DynamoDB's BatchGetItem reference asks: 50 + 100 + 200 + 400 ms.
    let paused: u32 = (0..READ_BACK_ATTEMPTS - 1).map(|step| 2u32.pow(step)).sum();
    assert!(
        started.elapsed() >= READ_BACK_PAUSE * paused,
        "{:?}",
        started.elapsed()
    );
}

/// A committed write's read back runs beside the next write's transaction (a plain read never
/// conflicts with a transaction), so the likes queued behind it wait for one transaction, not
/// for a transaction and a read. 100 mysfits liked together make two writes (99 mysfits at
/// most per transaction): the second transaction is sent before the first read back.
#[tokio::test]
async fn the_next_transaction_does_not_wait_for_the_previous_read_back() {
    use std::sync::{Arc, Mutex};
    let calls: Arc<Mutex<Vec<String>>> = Arc::default();
    let item_of = |id: &str| {
        let mut mysfit = seed_items().into_iter().next().unwrap();
        mysfit.id = id.to_string();
        mysfit.likes = 1;
        mysfit.to_item()
    };
    let sent = calls.clone();
    let transactions = mock!(Client::transact_write_items)
        .match_requests(move |request| {
            sent.lock()
                .unwrap()
                .push(format!("write {}", request.transact_items().len() - 1));
            true
        })
        .then_output(|| TransactWriteItemsOutput::builder().build());
    let read = calls.clone();
    let read_back = mock!(Client::batch_get_item)
        .match_requests(move |request| {
            let keys = request.request_items().unwrap()[TABLE].keys().len();
            read.lock().unwrap().push(format!("read {keys}"));
            true
        })
        .then_compute_output(move |request| {
            let items = request.request_items().unwrap()[TABLE]
                .keys()
                .iter()
                .map(|key| match &key["MysfitId"] {
                    AttributeValue::S(id) => item_of(id),
                    _ => unreachable!(),
                })
                .collect();
            found(items)
        });
    let get = mock!(Client::get_item)
        .match_requests(|request| request.consistent_read() == Some(true))
        .then_compute_output(move |request| {
            let AttributeValue::S(id) = &request.key().unwrap()["MysfitId"] else {
                unreachable!()
            };
            GetItemOutput::builder().item_set(item_of(id)).build()
        });
    let client = mock_client!(
        aws_sdk_dynamodb,
        RuleMode::MatchAny,
        &[&control_read(), &transactions, &read_back, &get]
    );
    let table = MysfitsTable::new(client, TABLE);
    let ids: Vec<String> = (0..100).map(|index| format!("m{index:03}")).collect();
    // Spawned in order on the one-thread runtime: all 100 wait before the writer first runs.
    let likes: Vec<_> = ids
        .into_iter()
        .map(|id| {
            let table = table.clone();
            tokio::spawn(async move { table.like(&id).await })
        })
        .collect();
    for like in likes {
        assert_eq!(likes_of(&like.await.unwrap()), 1);
    }
    let calls = calls.lock().unwrap().clone();
    // The second write holds the one mysfit left over, and goes before the 99 are read back.
    assert_eq!(calls, ["write 99", "write 1", "read 99"], "{calls:?}");
    assert_eq!(get.num_calls(), 1, "the one mysfit of the second write");
}
