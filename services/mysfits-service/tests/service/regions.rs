//! Two regions' mysfits-services writing at the same time. moto keeps one table per region and
//! does not replicate, which is what makes this a test of the write region: a service that
//! wrote to its own region's table would let each region adopt the same mysfit once.
//! Every call goes through a proxy that forwards one at a time (moto checks conditions without
//! a lock; DynamoDB serializes them per item).

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::types::AttributeValue;
use axum::Router;
use http::StatusCode;
use mysfits_service::catalogue::{seed_catalogue, seed_items};
use mysfits_service::write_region::{Control, ControlState, RETRY_AFTER_SECONDS, VERSION};
use mysfits_service::{AppState, MysfitsTable};
use testbed::faults::FaultProxy;
use testbed::moto::{Moto, sdk_config_for};

use crate::support::*;

const EAST: &str = "us-east-1";
const WEST: &str = "us-west-2";

struct TwoRegions {
    _moto: Moto,
    _proxy: FaultProxy,
    east: Client,
    west: Client,
}

/// The table in both regions, seeded in both (as replication would have it).
async fn two_regions() -> TwoRegions {
    let moto = Moto::start();
    for region in [EAST, WEST] {
        let client = Client::new(&sdk_config_for(&moto.endpoint(), region));
        create_table(&client, TABLE).await;
        seed_catalogue(&client, TABLE).await.unwrap();
    }
    let proxy = FaultProxy::one_at_a_time(&moto.endpoint());
    let east = Client::new(&sdk_config_for(&proxy.endpoint(), EAST));
    let west = Client::new(&sdk_config_for(&proxy.endpoint(), WEST));
    TwoRegions {
        _moto: moto,
        _proxy: proxy,
        east,
        west,
    }
}

/// A region's service with its own local client; the other region's client is derived from it
/// (so the proxy endpoint carries over, as `AWS_ENDPOINT_URL` does).
fn service(local: &Client, region: &str) -> (Router, Router) {
    let table = MysfitsTable::new(local.clone(), TABLE).with_home_region(EAST);
    let state = AppState::new(table, region);
    (
        mysfits_service::router(state.clone()),
        mysfits_service::internal_router(state),
    )
}

async fn likes_and_version(client: &Client, id: &str) -> (u64, u64) {
    let item = client
        .get_item()
        .table_name(TABLE)
        .key("MysfitId", AttributeValue::S(id.into()))
        .consistent_read(true)
        .send()
        .await
        .unwrap()
        .item
        .unwrap_or_default();
    let number = |name: &str| match item.get(name) {
        Some(AttributeValue::N(value)) => value.parse().unwrap(),
        _ => 0,
    };
    (number("Likes"), number(VERSION))
}

async fn put_control(clients: &[&Client], control: &Control) {
    for client in clients {
        client
            .put_item()
            .table_name(TABLE)
            .set_item(Some(control.to_item()))
            .send()
            .await
            .unwrap();
    }
}

#[tokio::test(flavor = "multi_thread")]
#[ignore = "emulator tier: needs moto_server; run scripts/test"]
async fn two_regions_adopt_each_mysfit_once_and_likes_add_up_exactly() {
    let regions = two_regions().await;
    let (east, east_internal) = service(&regions.east, EAST);
    let (west, west_internal) = service(&regions.west, WEST);

    for item in seed_items() {
        let uri = format!("/mysfits/{}/adopt", item.id);
        let (from_east, from_west) =
            tokio::join!(send(&east, "POST", &uri), send(&west, "POST", &uri));
        let mut statuses = [from_east.status, from_west.status];
        statuses.sort();
        assert_eq!(
            statuses,
            [StatusCode::OK, StatusCode::CONFLICT],
            "{}: east {} / west {}",
            item.id,
            from_east.text,
            from_west.text
        );
    }

    const LIKES_PER_REGION: usize = 15;
    let like = |router: Router| async move {
        send(&router, "POST", "/mysfits/gloam/fulfill-like")
            .await
            .status
    };
    let mut likes = tokio::task::JoinSet::new();
    for _ in 0..LIKES_PER_REGION {
        likes.spawn(like(east_internal.clone()));
        likes.spawn(like(west_internal.clone()));
    }
    let statuses = likes.join_all().await;
    assert!(
        statuses.iter().all(|status| *status == StatusCode::OK),
        "{statuses:?}"
    );
    let (east_likes, east_version) = likes_and_version(&regions.east, "gloam").await;
    assert_eq!(east_likes, 2 * LIKES_PER_REGION as u64, "N likes add N");
    // The adoption, then at least one write per region's service; likes that meet in one
    // write (see mysfits_service::like_queue) share its version.
    assert!(
        (1 + 2..=1 + 2 * LIKES_PER_REGION as u64).contains(&east_version),
        "every write adds one version: {east_version}"
    );
    assert_eq!(
        likes_and_version(&regions.west, "gloam").await,
        (0, 0),
        "nothing was written in the region that is not the write region"
    );

    // The control item (not a mysfit) is in no catalogue read.
    put_control(
        &[&regions.east, &regions.west],
        &Control {
            write_region: EAST.into(),
            epoch: 1,
            state: ControlState::Active,
        },
    )
    .await;
    let all = send(&west, "GET", "/mysfits").await;
    assert_eq!(
        all.body["mysfits"].as_array().unwrap().len(),
        12,
        "{}",
        all.text
    );
    assert_eq!(
        send(&west, "GET", "/mysfits/%23write-region").await.status,
        StatusCode::BAD_REQUEST
    );
}

#[tokio::test(flavor = "multi_thread")]
#[ignore = "emulator tier: needs moto_server; run scripts/test"]
async fn writes_follow_the_control_item_and_a_move_refuses_them_with_retry_after() {
    let regions = two_regions().await;
    let (_, east_internal) = service(&regions.east, EAST);
    let (west, west_internal) = service(&regions.west, WEST);
    // The write region is us-west-2 under epoch 4, as both replicas say.
    let west_active = Control {
        write_region: WEST.into(),
        epoch: 4,
        state: ControlState::Active,
    };
    put_control(&[&regions.east, &regions.west], &west_active).await;
    for router in [&east_internal, &west_internal] {
        send(router, "POST", "/mysfits/velvet/fulfill-like")
            .await
            .assert_status(StatusCode::OK);
    }
    assert_eq!(likes_and_version(&regions.west, "velvet").await, (2, 2));
    assert_eq!(likes_and_version(&regions.east, "velvet").await, (0, 0));

    // Frozen for a move: refused before anything is sent, told when to come back.
    let moving = Control {
        state: ControlState::Moving,
        ..west_active.clone()
    };
    put_control(&[&regions.west], &moving).await;
    // us-west-2's service still holds the active view: the control check in the transaction
    // refuses the write, and the view is dropped.
    let refused = send(&west_internal, "POST", "/mysfits/velvet/fulfill-like").await;
    assert_eq!(
        refused.status,
        StatusCode::SERVICE_UNAVAILABLE,
        "{}",
        refused.text
    );
    assert_eq!(
        refused.headers["retry-after"],
        RETRY_AFTER_SECONDS.to_string().as_str()
    );
    assert!(
        refused.body["error"]
            .as_str()
            .unwrap()
            .starts_with("writes are paused: the write region moved or is moving"),
        "{}",
        refused.text
    );
    let refused = send(&west, "POST", "/mysfits/velvet/adopt").await;
    assert_eq!(
        refused.status,
        StatusCode::SERVICE_UNAVAILABLE,
        "{}",
        refused.text
    );
    assert!(
        refused.body["error"]
            .as_str()
            .unwrap()
            .starts_with("writes are paused: a write-region move is under way"),
        "read again after the failed check: {}",
        refused.text
    );
    assert_eq!(likes_and_version(&regions.west, "velvet").await, (2, 2));

    // Switched to us-east-1 under epoch 5, in us-east-1 only: replication has not brought it
    // to us-west-2 yet. us-east-1's service writes there once its view is current (a stale view
    // meets the frozen check in us-west-2 first: refused, never written twice).
    let east_active = Control {
        write_region: EAST.into(),
        epoch: 5,
        state: ControlState::Active,
    };
    put_control(&[&regions.east], &east_active).await;
    let mut east_statuses = Vec::new();
    for _ in 0..2 {
        let status = send(&east_internal, "POST", "/mysfits/velvet/fulfill-like")
            .await
            .status;
        east_statuses.push(status);
        if status == StatusCode::OK {
            break;
        }
    }
    assert_eq!(
        east_statuses.last(),
        Some(&StatusCode::OK),
        "{east_statuses:?}"
    );
    assert_eq!(likes_and_version(&regions.east, "velvet").await, (1, 1));
    // us-west-2's replica still says "moving".
    send(&west_internal, "POST", "/mysfits/velvet/fulfill-like")
        .await
        .assert_status(StatusCode::SERVICE_UNAVAILABLE);
    // Replicated: within the view's time to live us-west-2 sends its writes to us-east-1.
    put_control(&[&regions.west], &east_active).await;
    tokio::time::sleep(mysfits_service::write_region::VIEW_TIME_TO_LIVE).await;
    send(&west_internal, "POST", "/mysfits/velvet/fulfill-like")
        .await
        .assert_status(StatusCode::OK);
    assert_eq!(likes_and_version(&regions.east, "velvet").await, (2, 2));
    assert_eq!(
        likes_and_version(&regions.west, "velvet").await,
        (2, 2),
        "the frozen region took nothing more"
    );
}

trait AssertStatus {
    fn assert_status(&self, status: StatusCode);
}

impl AssertStatus for Reply {
    #[track_caller]
    fn assert_status(&self, status: StatusCode) {
        assert_eq!(self.status, status, "body: {}", self.text);
    }
}

/// What DynamoDB answers when a transaction is canceled: TransactionCanceledException with one
/// reason per item in request order, "None" for an item that was fine, and the item as it was
/// for a failed condition asked for with ALL_OLD.
pub(crate) fn canceled(
    reasons: Vec<(
        &'static str,
        Option<std::collections::HashMap<String, AttributeValue>>,
    )>,
) -> aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError {
    use aws_sdk_dynamodb::types::CancellationReason;
    use aws_sdk_dynamodb::types::error::TransactionCanceledException;
    let codes: Vec<&str> = reasons.iter().map(|(code, _)| *code).collect();
    let message = format!(
        "Transaction cancelled, please refer cancellation reasons for specific reasons [{}]",
        codes.join(", ")
    );
    let reasons = reasons
        .into_iter()
        .map(|(code, item)| {
            let reason = CancellationReason::builder().code(code).set_item(item);
            match code {
                "ConditionalCheckFailed" => reason.message("The conditional request failed"),
                "TransactionConflict" => reason.message("Transaction is ongoing for the item"),
                _ => reason,
            }
            .build()
        })
        .collect();
    aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError::TransactionCanceledException(
        TransactionCanceledException::builder()
            .message(&message)
            .set_cancellation_reasons(Some(reasons))
            .meta(
                aws_smithy_types::error::ErrorMetadata::builder()
                    .code("TransactionCanceledException")
                    .message(message)
                    .build(),
            )
            .build(),
    )
}

#[tokio::test]
async fn cancellation_reasons_tell_a_moved_write_region_from_the_mysfits_own_condition() {
    use aws_smithy_mocks::{RuleMode, mock, mock_client};
    let active = Control {
        write_region: EAST.into(),
        epoch: 2,
        state: ControlState::Active,
    };
    let control_read = {
        let active = active.clone();
        mock!(Client::get_item)
            .match_requests(|request| {
                request.key().and_then(|key| key.get("MysfitId"))
                    == Some(&AttributeValue::S(
                        mysfits_service::write_region::CONTROL_ID.into(),
                    ))
            })
            .then_output(move || {
                aws_sdk_dynamodb::operation::get_item::GetItemOutput::builder()
                    .set_item(Some(active.to_item()))
                    .build()
            })
    };
    let adopted_before = seed_items()
        .into_iter()
        .find(|mysfit| mysfit.id == "gloam")
        .map(|mut mysfit| {
            mysfit.adopted = true;
            mysfit.to_item()
        });
    let transactions = mock!(Client::transact_write_items)
        .sequence()
        .error(move || {
            canceled(vec![
                ("None", None),
                ("ConditionalCheckFailed", adopted_before.clone()),
            ])
        })
        .error(|| canceled(vec![("None", None), ("ConditionalCheckFailed", None)]))
        // A conflict that outlasts the service's own attempts.
        .error(|| canceled(vec![("TransactionConflict", None), ("None", None)]))
        .times(mysfits_service::table::CONFLICT_ATTEMPTS as usize)
        .error(|| canceled(vec![("ConditionalCheckFailed", None), ("None", None)]))
        .build();
    let client = mock_client!(
        aws_sdk_dynamodb,
        RuleMode::MatchAny,
        &[&control_read, &transactions]
    );
    let (router, _) = service(&client, EAST);
    let reply = send(&router, "POST", "/mysfits/gloam/adopt").await;
    assert_eq!(reply.status, StatusCode::CONFLICT, "{}", reply.text);
    let reply = send(&router, "POST", "/mysfits/nobody/adopt").await;
    assert_eq!(reply.status, StatusCode::NOT_FOUND, "{}", reply.text);
    // A concurrent transaction on the item: nothing written, 503, but no move to wait for.
    let reply = send(&router, "POST", "/mysfits/gloam/adopt").await;
    assert_eq!(
        reply.status,
        StatusCode::SERVICE_UNAVAILABLE,
        "{}",
        reply.text
    );
    assert!(reply.headers.get("retry-after").is_none());
    assert!(
        reply.body["error"]
            .as_str()
            .unwrap()
            .contains("(TransactionConflict, None); try again shortly"),
        "{}",
        reply.text
    );
    // The control check failed: the write region moved; told when to come back.
    let reply = send(&router, "POST", "/mysfits/gloam/adopt").await;
    assert_eq!(
        reply.status,
        StatusCode::SERVICE_UNAVAILABLE,
        "{}",
        reply.text
    );
    assert_eq!(reply.headers["retry-after"], "1");
    assert_eq!(
        transactions.num_calls(),
        3 + mysfits_service::table::CONFLICT_ATTEMPTS as usize,
        "a conflict is tried again, the other cancellations are not"
    );
}

/// Every write checks the one control item, so two writes at once (to any mysfits) may cancel
/// one another with TransactionConflict: the service tries a new transaction after a short
/// pause instead of answering 503 at once.
#[tokio::test]
async fn a_transaction_conflict_is_tried_again_and_the_like_counted_once() {
    use aws_smithy_mocks::{RuleMode, mock, mock_client};
    let active = Control {
        write_region: EAST.into(),
        epoch: 2,
        state: ControlState::Active,
    };
    let is_control = |request: &aws_sdk_dynamodb::operation::get_item::GetItemInput| {
        request.key().and_then(|key| key.get("MysfitId"))
            == Some(&AttributeValue::S(
                mysfits_service::write_region::CONTROL_ID.into(),
            ))
    };
    let control_read = mock!(Client::get_item)
        .match_requests(is_control)
        .then_output(move || {
            aws_sdk_dynamodb::operation::get_item::GetItemOutput::builder()
                .set_item(Some(active.to_item()))
                .build()
        });
    let liked = seed_items()
        .into_iter()
        .find(|mysfit| mysfit.id == "gloam")
        .map(|mut mysfit| {
            mysfit.likes += 1;
            mysfit.to_item()
        });
    let read_back = mock!(Client::get_item)
        .match_requests(move |request| {
            !is_control(request) && request.consistent_read() == Some(true)
        })
        .then_output(move || {
            aws_sdk_dynamodb::operation::get_item::GetItemOutput::builder()
                .set_item(liked.clone())
                .build()
        });
    let transactions = mock!(Client::transact_write_items)
        .sequence()
        .error(|| canceled(vec![("TransactionConflict", None), ("None", None)]))
        .output(|| {
            aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsOutput::builder()
                .build()
        })
        .build();
    let client = mock_client!(
        aws_sdk_dynamodb,
        RuleMode::MatchAny,
        &[&control_read, &read_back, &transactions]
    );
    let (_, internal) = service(&client, EAST);
    let reply = send(&internal, "POST", "/mysfits/gloam/fulfill-like").await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
    assert_eq!(transactions.num_calls(), 2, "one conflict, then the write");
    assert_eq!(read_back.num_calls(), 1);
}
