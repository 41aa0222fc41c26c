//! The write region's move (`mysfits::writes`) against modeled DynamoDB answers: a replica that
//! catches up late (the lag measured), one that never does (rolled back, refused with the
//! figures), an old write region that does not answer (refused; forced: switched with the loss
//! stated), conditions that fail because someone else moved first, and the deploy's seed that
//! never overwrites. moto cannot replicate, so these states only exist here. Every request is
//! matched on the condition it must carry: a move without its fence finds no answer.

use std::collections::HashMap;
use std::time::Duration;

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::operation::get_item::GetItemOutput;
use aws_sdk_dynamodb::operation::put_item::{PutItemError, PutItemOutput};
use aws_sdk_dynamodb::operation::scan::ScanOutput;
use aws_sdk_dynamodb::operation::update_item::{UpdateItemError, UpdateItemOutput};
use aws_sdk_dynamodb::types::AttributeValue;
use aws_sdk_dynamodb::types::error::{
    ConditionalCheckFailedException, TransactionConflictException,
};
use aws_smithy_mocks::{Rule, RuleMode, mock, mock_client};
use aws_smithy_types::error::ErrorMetadata;
use mysfits::error::Error;
use mysfits::wait::Backoff;
use mysfits::writes::{self, MoveOptions, MoveOutcome, Replica};
use mysfits_catalogue::write_region::{CONTROL_ID, Control, ControlState};

const TABLE: &str = "demo-mysfits";
const EAST: &str = "us-east-1";
const WEST: &str = "us-west-2";
/// Short pauses, a 10 s limit: the paused clock runs through them at once.
const DRAIN: Backoff = Backoff::doubling(
    Duration::from_millis(100),
    Duration::from_secs(1),
    Duration::from_secs(10),
);

fn control(region: &str, epoch: u64, state: ControlState) -> Control {
    Control {
        write_region: region.into(),
        epoch,
        state,
    }
}

fn control_answer(control: Control) -> GetItemOutput {
    GetItemOutput::builder()
        .set_item(Some(control.to_item()))
        .build()
}

fn is_control_key(key: Option<&HashMap<String, AttributeValue>>) -> bool {
    key.and_then(|key| key.get("MysfitId")) == Some(&AttributeValue::S(CONTROL_ID.into()))
}

/// A consistent read of the control item (the only GetItem a move makes).
fn control_reads(answers: Vec<Control>) -> Rule {
    let mut sequence = mock!(Client::get_item)
        .match_requests(|request| {
            is_control_key(request.key()) && request.consistent_read() == Some(true)
        })
        .sequence();
    for answer in answers {
        sequence = sequence.output(move || control_answer(answer.clone()));
    }
    sequence.repeatedly().build()
}

/// A consistent Scan of ids and versions, as DynamoDB answers it (the control item among them).
fn versions(pages: Vec<Vec<(&'static str, u64)>>) -> Rule {
    let mut sequence = mock!(Client::scan)
        .match_requests(|request| {
            request.consistent_read() == Some(true)
                && request.projection_expression() == Some("#id, #version")
        })
        .sequence();
    for page in pages {
        sequence = sequence.output(move || {
            let mut items: Vec<HashMap<String, AttributeValue>> = page
                .iter()
                .map(|(id, version)| {
                    HashMap::from([
                        ("MysfitId".to_string(), AttributeValue::S(id.to_string())),
                        (
                            "Version".to_string(),
                            AttributeValue::N(version.to_string()),
                        ),
                    ])
                })
                .collect();
            items.push(HashMap::from([(
                "MysfitId".to_string(),
                AttributeValue::S(CONTROL_ID.into()),
            )]));
            let count = items.len() as i32;
            ScanOutput::builder()
                .set_items(Some(items))
                .count(count)
                .scanned_count(count)
                .build()
        });
    }
    sequence.repeatedly().build()
}

fn value<'a>(values: Option<&'a HashMap<String, AttributeValue>>, name: &str) -> Option<&'a str> {
    match values?.get(name)? {
        AttributeValue::S(text) | AttributeValue::N(text) => Some(text),
        _ => None,
    }
}

/// The freeze in the old write region: `moving`, only if it is still active at `epoch`.
fn freeze(
    region: &'static str,
    epoch: u64,
) -> aws_smithy_mocks::RuleBuilder<
    aws_sdk_dynamodb::operation::update_item::UpdateItemInput,
    UpdateItemOutput,
    UpdateItemError,
> {
    mock!(Client::update_item).match_requests(move |request| {
        let values = request.expression_attribute_values();
        is_control_key(request.key())
            && request.condition_expression()
                == Some("#write_region = :from AND #state = :active AND #epoch = :epoch")
            && request.update_expression()
                == Some("SET #write_region = :from, #epoch = :epoch, #state = :moving")
            && value(values, ":from") == Some(region)
            && value(values, ":epoch") == Some(epoch.to_string().as_str())
            && value(values, ":moving") == Some("moving")
    })
}

/// The rollback: the old write region active again at the same epoch.
fn resume(region: &'static str, epoch: u64) -> Rule {
    mock!(Client::update_item)
        .match_requests(move |request| {
            let values = request.expression_attribute_values();
            is_control_key(request.key())
                && request.update_expression() == Some("SET #state = :active")
                && request.condition_expression()
                    == Some("#write_region = :from AND #epoch = :epoch AND #state = :moving")
                && value(values, ":from") == Some(region)
                && value(values, ":epoch") == Some(epoch.to_string().as_str())
        })
        .then_output(|| UpdateItemOutput::builder().build())
}

/// The switch in the new write region: the next epoch active, only over the frozen one.
fn switch(
    to: &'static str,
    from: &'static str,
    epoch: u64,
) -> aws_smithy_mocks::RuleBuilder<
    aws_sdk_dynamodb::operation::put_item::PutItemInput,
    PutItemOutput,
    PutItemError,
> {
    mock!(Client::put_item).match_requests(move |request| {
        let item = request.item().cloned().unwrap_or_default();
        Control::from_item(&item).ok() == Some(control(to, epoch + 1, ControlState::Active))
            && request.condition_expression()
                == Some("#write_region = :from AND #epoch = :epoch AND #state = :moving")
            && value(request.expression_attribute_values(), ":from") == Some(from)
            && value(request.expression_attribute_values(), ":epoch")
                == Some(epoch.to_string().as_str())
    })
}

fn condition_failed_update() -> UpdateItemError {
    UpdateItemError::ConditionalCheckFailedException(
        ConditionalCheckFailedException::builder()
            .message("The conditional request failed")
            .meta(
                ErrorMetadata::builder()
                    .code("ConditionalCheckFailedException")
                    .message("The conditional request failed")
                    .build(),
            )
            .build(),
    )
}

fn condition_failed_put() -> PutItemError {
    PutItemError::ConditionalCheckFailedException(
        ConditionalCheckFailedException::builder()
            .message("The conditional request failed")
            .meta(
                ErrorMetadata::builder()
                    .code("ConditionalCheckFailedException")
                    .message("The conditional request failed")
                    .build(),
            )
            .build(),
    )
}

/// DynamoDB's answer to a plain write of an item that an unfinished transaction includes (every
/// service write is a transaction checking the control item).
fn transaction_conflict() -> TransactionConflictException {
    let message = "Transaction is ongoing for the item";
    TransactionConflictException::builder()
        .message(message)
        .meta(
            ErrorMetadata::builder()
                .code("TransactionConflictException")
                .message(message)
                .build(),
        )
        .build()
}

/// The move from us-east-1 to us-west-2 with the test's short drain.
async fn move_east_to_west(
    east: &Client,
    west: &Client,
) -> mysfits::error::Result<writes::MoveReport> {
    writes::move_with_backoff(
        replica(EAST, east),
        replica(WEST, west),
        MoveOptions::default(),
        DRAIN,
    )
    .await
}

fn replica<'a>(region: &'a str, client: &'a Client) -> Replica<'a> {
    Replica {
        region,
        client,
        table: TABLE,
    }
}

#[tokio::test(start_paused = true)]
async fn a_move_freezes_waits_for_the_lagging_replica_then_switches_under_the_next_epoch() {
    let freeze = freeze(EAST, 3).then_output(|| UpdateItemOutput::builder().build());
    let east = mock_client!(
        aws_sdk_dynamodb,
        RuleMode::MatchAny,
        &[
            &control_reads(vec![control(EAST, 3, ControlState::Active)]),
            &freeze,
            &versions(vec![vec![("bramble", 4), ("gloam", 1)]]),
        ]
    );
    // us-west-2's replica: the freeze arrives on the second look, bramble's last like on the
    // third.
    let west_control = control_reads(vec![
        control(EAST, 3, ControlState::Active),
        control(EAST, 3, ControlState::Moving),
    ]);
    let west_versions = versions(vec![
        vec![("bramble", 3), ("gloam", 1)],
        vec![("bramble", 4), ("gloam", 1)],
    ]);
    let switch = switch(WEST, EAST, 3).then_output(|| PutItemOutput::builder().build());
    let west = mock_client!(
        aws_sdk_dynamodb,
        RuleMode::MatchAny,
        &[&west_control, &west_versions, &switch]
    );
    let report = move_east_to_west(&east, &west).await.unwrap();
    assert_eq!(report.outcome, MoveOutcome::Moved);
    assert_eq!((report.epoch_before, report.epoch_after), (3, 4));
    assert_eq!(report.items_compared, 2, "the control item is not a mysfit");
    // Looks at 0, 100 and 300 ms: caught up at the third.
    assert_eq!(report.drain_ms, Some(300));
    assert_eq!(report.writes_paused_ms, Some(300));
    assert_eq!(freeze.num_calls(), 1);
    assert_eq!(switch.num_calls(), 1);
    assert_eq!(
        west_versions.num_calls(),
        2,
        "versions compared once the freeze arrived"
    );
}

#[tokio::test(start_paused = true)]
async fn a_freeze_and_a_switch_that_meet_the_services_transactions_are_tried_again() {
    // Services keep writing (transactions that check the control item) until they see the
    // freeze: DynamoDB refuses the freeze and the switch while one is unfinished.
    let freeze = freeze(EAST, 3)
        .sequence()
        .error(|| UpdateItemError::TransactionConflictException(transaction_conflict()))
        .times(2)
        .output(|| UpdateItemOutput::builder().build())
        .build();
    let east = mock_client!(
        aws_sdk_dynamodb,
        RuleMode::MatchAny,
        &[
            &control_reads(vec![control(EAST, 3, ControlState::Active)]),
            &freeze,
            &versions(vec![vec![("bramble", 4)]]),
        ]
    );
    let switch = switch(WEST, EAST, 3)
        .sequence()
        .error(|| PutItemError::TransactionConflictException(transaction_conflict()))
        .output(|| PutItemOutput::builder().build())
        .build();
    let west = mock_client!(
        aws_sdk_dynamodb,
        RuleMode::MatchAny,
        &[
            &control_reads(vec![control(EAST, 3, ControlState::Moving)]),
            &versions(vec![vec![("bramble", 4)]]),
            &switch,
        ]
    );
    let report = move_east_to_west(&east, &west).await.unwrap();
    assert_eq!(report.outcome, MoveOutcome::Moved);
    assert_eq!((report.epoch_before, report.epoch_after), (3, 4));
    assert_eq!(freeze.num_calls(), 3, "two conflicts, then the freeze");
    assert_eq!(switch.num_calls(), 2, "one conflict, then the switch");
}

#[tokio::test(start_paused = true)]
async fn a_replica_that_never_catches_up_is_rolled_back_and_refused_with_the_figures() {
    let freeze = freeze(EAST, 3).then_output(|| UpdateItemOutput::builder().build());
    let resume = resume(EAST, 3);
    let east = mock_client!(
        aws_sdk_dynamodb,
        RuleMode::MatchAny,
        &[
            &control_reads(vec![control(EAST, 3, ControlState::Active)]),
            &freeze,
            &resume,
            &versions(vec![vec![("bramble", 4), ("gloam", 2)]]),
        ]
    );
    let west = mock_client!(
        aws_sdk_dynamodb,
        RuleMode::MatchAny,
        &[
            &control_reads(vec![control(EAST, 3, ControlState::Moving)]),
            &versions(vec![vec![("bramble", 4), ("gloam", 1)]]),
        ]
    );
    let error = move_east_to_west(&east, &west).await.unwrap_err();
    let Error::Timeout { waited, .. } = &error else {
        panic!("{error}");
    };
    assert_eq!(*waited, Duration::from_secs(10));
    assert_eq!(
        error.to_string(),
        "gave up waiting for us-west-2's replica to catch up with us-east-1 before moving the \
         write region (1 of 2 mysfits not replicated yet) after 10s\n  fix: nothing was moved \
         and writes go to us-east-1 again (epoch 3); check the table's ReplicationLatency from \
         us-east-1 to us-west-2, then try again"
    );
    assert_eq!(resume.num_calls(), 1, "rolled back once");
}

#[tokio::test]
async fn a_write_region_that_does_not_answer_is_refused_unless_forced() {
    // A real connection failure: nothing listens there.
    let dead = Client::from_conf(
        aws_sdk_dynamodb::Config::builder()
            .behavior_version(aws_sdk_dynamodb::config::BehaviorVersion::latest())
            .region(aws_sdk_dynamodb::config::Region::new(EAST))
            .endpoint_url(testbed::dead_endpoint())
            .credentials_provider(aws_sdk_dynamodb::config::Credentials::for_tests())
            .retry_config(aws_sdk_dynamodb::config::retry::RetryConfig::disabled())
            .build(),
    );
    // us-west-2's replica still names us-east-1: not moved yet.
    let west = mock_client!(
        aws_sdk_dynamodb,
        RuleMode::MatchAny,
        &[&control_reads(vec![control(EAST, 3, ControlState::Active)])]
    );
    let error = writes::move_write_region(
        replica(EAST, &dead),
        replica(WEST, &west),
        MoveOptions::default(),
    )
    .await
    .unwrap_err()
    .to_string();
    assert!(
        error.starts_with(
            "freezing writes to move the write region to us-west-2 in us-east-1 failed: the \
             write region does not answer ("
        ),
        "{error}"
    );
    assert!(
        error.contains(
            "nothing was changed\n  fix: if us-east-1 is down, run again with --force: us-west-2 \
             becomes the write region at once, and writes us-east-1 acknowledged but had not \
             replicated yet may be lost (up to the replication lag)"
        ),
        "{error}"
    );

    // Forced: us-west-2's replica has epoch 3 (from before the outage); it takes epoch 4 on
    // condition that nothing changed it meanwhile.
    let forced_switch = mock!(Client::put_item)
        .match_requests(|request| {
            let item = request.item().cloned().unwrap_or_default();
            Control::from_item(&item).ok() == Some(control(WEST, 4, ControlState::Active))
                && request.condition_expression() == Some("#epoch = :epoch")
                && value(request.expression_attribute_values(), ":epoch") == Some("3")
        })
        .then_output(|| PutItemOutput::builder().build());
    let west = mock_client!(
        aws_sdk_dynamodb,
        RuleMode::MatchAny,
        &[
            &control_reads(vec![control(EAST, 3, ControlState::Active)]),
            &forced_switch,
        ]
    );
    let report = writes::move_write_region(
        replica(EAST, &dead),
        replica(WEST, &west),
        MoveOptions { force: true },
    )
    .await
    .unwrap();
    assert_eq!(report.outcome, MoveOutcome::Forced);
    assert_eq!((report.epoch_before, report.epoch_after), (3, 4));
    assert_eq!(
        report.warning.as_deref(),
        Some(
            "us-east-1 did not answer: us-west-2 took writes at once, without waiting for \
             replication; writes us-east-1 acknowledged and had not replicated yet may be lost \
             (up to the replication lag)"
        )
    );
    assert_eq!(forced_switch.num_calls(), 1);

    // Run again (the old region still down): us-west-2 is the write region, nothing to do.
    let west = mock_client!(
        aws_sdk_dynamodb,
        RuleMode::MatchAny,
        &[&control_reads(vec![control(WEST, 4, ControlState::Active)])]
    );
    let report = writes::move_write_region(
        replica(EAST, &dead),
        replica(WEST, &west),
        MoveOptions::default(),
    )
    .await
    .unwrap();
    assert_eq!(report.outcome, MoveOutcome::AlreadyThere);
}

#[tokio::test(start_paused = true)]
async fn a_move_that_meets_another_one_changes_nothing_and_a_repeated_move_is_a_no_op() {
    // The freeze's condition fails: someone froze or moved it between the read and the update.
    let refused = freeze(EAST, 3).then_error(condition_failed_update);
    let east = mock_client!(
        aws_sdk_dynamodb,
        RuleMode::MatchAny,
        &[
            &control_reads(vec![control(EAST, 3, ControlState::Active)]),
            &refused,
        ]
    );
    let untouched = mock_client!(aws_sdk_dynamodb, RuleMode::MatchAny, &[]);
    let error = writes::move_with_backoff(
        replica(EAST, &east),
        replica(WEST, &untouched),
        MoveOptions::default(),
        DRAIN,
    )
    .await
    .unwrap_err()
    .to_string();
    assert_eq!(
        error,
        "the write-region control item in us-east-1 changed while the move started\n  fix: \
         another move may be running: wait for it, check `mysfits status`, then try again"
    );

    // The switch's condition fails in us-west-2 (a forced move got there first): refused, and
    // writes stay refused until one region is active, which the error says.
    let freeze = freeze(EAST, 3).then_output(|| UpdateItemOutput::builder().build());
    let east = mock_client!(
        aws_sdk_dynamodb,
        RuleMode::MatchAny,
        &[
            &control_reads(vec![control(EAST, 3, ControlState::Active)]),
            &freeze,
            &versions(vec![vec![("bramble", 1)]]),
        ]
    );
    let switch = switch(WEST, EAST, 3).then_error(condition_failed_put);
    let west = mock_client!(
        aws_sdk_dynamodb,
        RuleMode::MatchAny,
        &[
            &control_reads(vec![control(EAST, 3, ControlState::Moving)]),
            &versions(vec![vec![("bramble", 1)]]),
            &switch,
        ]
    );
    let error = move_east_to_west(&east, &west)
        .await
        .unwrap_err()
        .to_string();
    assert!(
        error.starts_with(
            "the write-region control item in us-west-2 changed during the move (epoch 3 expected)"
        ),
        "{error}"
    );

    // Already moved (a failover run again): nothing is written.
    let east = mock_client!(
        aws_sdk_dynamodb,
        RuleMode::MatchAny,
        &[&control_reads(vec![control(WEST, 4, ControlState::Active)])]
    );
    let report = writes::move_with_backoff(
        replica(EAST, &east),
        replica(WEST, &untouched),
        MoveOptions::default(),
        DRAIN,
    )
    .await
    .unwrap();
    assert_eq!(report.outcome, MoveOutcome::AlreadyThere);
    assert_eq!((report.epoch_before, report.epoch_after), (4, 4));
}

#[tokio::test]
async fn the_deploy_seeds_the_control_item_once_and_never_overwrites_a_moved_one() {
    let created = mock!(Client::put_item)
        .match_requests(|request| {
            let item = request.item().cloned().unwrap_or_default();
            Control::from_item(&item).ok() == Some(control(EAST, 1, ControlState::Active))
                && request.condition_expression() == Some("attribute_not_exists(#id)")
        })
        .then_output(|| PutItemOutput::builder().build());
    let absent = mock!(Client::get_item)
        .match_requests(|request| {
            is_control_key(request.key()) && request.consistent_read() == Some(true)
        })
        .then_output(|| GetItemOutput::builder().build());
    let east = mock_client!(aws_sdk_dynamodb, RuleMode::MatchAny, &[&absent, &created]);
    let outcome = writes::seed(replica(EAST, &east)).await.unwrap();
    assert!(outcome.created);
    assert_eq!(outcome.control.write_region, EAST);

    // A redeploy reads the item and writes nothing.
    let no_put = mock!(Client::put_item).then_error(condition_failed_put);
    let east = mock_client!(
        aws_sdk_dynamodb,
        RuleMode::MatchAny,
        &[
            &no_put,
            &control_reads(vec![control(WEST, 6, ControlState::Active)]),
        ]
    );
    let outcome = writes::seed(replica(EAST, &east)).await.unwrap();
    assert!(!outcome.created, "left as it was");
    assert_eq!(
        (outcome.control.write_region.as_str(), outcome.control.epoch),
        (WEST, 6)
    );
    assert_eq!(no_put.num_calls(), 0, "no write when the item is there");

    // Created by another deploy between the read and the put: the put is refused, the item
    // read again and left as it was.
    let raced = mock!(Client::put_item).then_error(condition_failed_put);
    let east = mock_client!(
        aws_sdk_dynamodb,
        RuleMode::MatchAny,
        &[
            &raced,
            &mock!(Client::get_item)
                .match_requests(|request| is_control_key(request.key()))
                .sequence()
                .output(|| GetItemOutput::builder().build())
                .output(|| control_answer(control(EAST, 1, ControlState::Active)))
                .build(),
        ]
    );
    let outcome = writes::seed(replica(EAST, &east)).await.unwrap();
    assert!(!outcome.created);
    assert_eq!(raced.num_calls(), 1);
}
