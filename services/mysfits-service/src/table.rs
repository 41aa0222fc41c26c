//! Every DynamoDB call of the service, and what its failures mean over HTTP.
//!
//! Writes are never read-then-write: each is one `TransactWriteItems` in the write region's table
//! (see [`crate::write_region`]) of two items, a `ConditionCheck` that the control item there
//! still names that region as the active one, and the mysfit's conditional update: adopting is
//! `SET Adopted = true` on condition "exists and not adopted", liking is `ADD Likes 1` on
//! condition "exists"; both `ADD Version 1`. With one write region, concurrent requests from
//! every region are therefore exact (N likes add N; of two adoptions one wins), and the
//! cancellation reasons tell apart "the write region moved" (503, try again), "unknown mysfit"
//! and "already adopted" (`ReturnValuesOnConditionCheckFailure`), without a second read before
//! the write. The SDK fills the transaction's `ClientRequestToken` (idempotency) once per call
//! and sends the same token on its retries, so a retried attempt never applies twice.
//!
//! Failures are split by whether the request may have been applied. `Unavailable` (HTTP 503):
//! DynamoDB was not reached, the table does not exist, or the request was throttled — nothing was
//! written, so a caller (like-service) may retry. `Failed` (HTTP 502): a timeout or an unexpected
//! answer — the outcome is unknown, so a non-idempotent write must not be retried blindly.

use std::time::Duration;

use aws_config::BehaviorVersion;
use aws_config::Region;
use aws_config::retry::RetryConfig;
use aws_config::stalled_stream_protection::StalledStreamProtectionConfig;
use aws_config::timeout::TimeoutConfig;
use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_dynamodb::operation::create_table::CreateTableError;
use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;
use aws_sdk_dynamodb::types::{
    AttributeDefinition, AttributeValue, BillingMode, ConditionCheck, ConsumedCapacity,
    GlobalSecondaryIndex, KeySchemaElement, KeyType, KeysAndAttributes, Projection, ProjectionType,
    ReturnConsumedCapacity, ReturnValuesOnConditionCheckFailure, ScalarAttributeType,
    TransactWriteItem, Update,
};
use aws_smithy_types::error::display::DisplayErrorContext;
use service_common::{ApiError, telemetry};
use tracing::Instrument;

use crate::like_queue::{LikeQueue, Waiter};
use crate::mysfit::{self, Alignment, Filter, Mysfit};
use crate::write_region::{self, Control, ControlState, ControlView, RegionClients, WriteTarget};

/// Client-side limits on each DynamoDB call: a slow or unreachable table turns into an answer
/// within seconds (below the service's request timeout), not a hung request.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(1);
pub const ATTEMPT_TIMEOUT: Duration = Duration::from_secs(2);
pub const OPERATION_TIMEOUT: Duration = Duration::from_secs(5);
pub const MAX_ATTEMPTS: u32 = 3;

/// A DynamoDB client for `region`, with the timeouts above and an optional endpoint override
/// (`AWS_ENDPOINT_URL`, for an emulator). Credentials come from the default chain: the ECS task
/// role on AWS, environment variables elsewhere.
pub async fn dynamodb_client(region: &str, endpoint_url: Option<&str>) -> Client {
    let mut loader = aws_config::defaults(BehaviorVersion::latest())
        .region(Region::new(region.to_string()))
        .timeout_config(
            TimeoutConfig::builder()
                .connect_timeout(CONNECT_TIMEOUT)
                .operation_attempt_timeout(ATTEMPT_TIMEOUT)
                .operation_timeout(OPERATION_TIMEOUT)
                .build(),
        )
        .retry_config(RetryConfig::standard().with_max_attempts(MAX_ATTEMPTS))
        // Its per-body throughput watch costs CPU on every call, and ATTEMPT_TIMEOUT already ends
        // a stalled answer (the bodies are a few kB).
        .stalled_stream_protection(StalledStreamProtectionConfig::disabled());
    if let Some(endpoint_url) = endpoint_url {
        loader = loader.endpoint_url(endpoint_url);
    }
    Client::new(&loader.load().await)
}

/// Creates the catalogue table the way the app stack does (on demand, key `MysfitId`, one index
/// per alignment with `MysfitId` as range key), for local stand-ins: tests and the `local_table`
/// example. On AWS the app stack owns the table.
pub async fn create_catalogue_table(
    client: &Client,
    table: &str,
) -> Result<(), SdkError<CreateTableError>> {
    let key = |name: &str, key_type: KeyType| {
        KeySchemaElement::builder()
            .attribute_name(name)
            .key_type(key_type)
            .build()
            .expect("name and type are set")
    };
    let mut request = client
        .create_table()
        .table_name(table)
        .billing_mode(BillingMode::PayPerRequest)
        .key_schema(key(mysfit::ID, KeyType::Hash));
    let mut attributes = vec![mysfit::ID];
    attributes.extend(Alignment::ALL.map(Alignment::attribute));
    for attribute in attributes {
        request = request.attribute_definitions(
            AttributeDefinition::builder()
                .attribute_name(attribute)
                .attribute_type(ScalarAttributeType::S)
                .build()
                .expect("name and type are set"),
        );
    }
    for alignment in Alignment::ALL {
        request = request.global_secondary_indexes(
            GlobalSecondaryIndex::builder()
                .index_name(alignment.index())
                .key_schema(key(alignment.attribute(), KeyType::Hash))
                .key_schema(key(mysfit::ID, KeyType::Range))
                .projection(
                    Projection::builder()
                        .projection_type(ProjectionType::All)
                        .build(),
                )
                .build()
                .expect("name, keys and projection are set"),
        );
    }
    request.send().await.map(|_| ())
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StoreError {
    NotFound {
        id: String,
    },
    AlreadyAdopted {
        id: String,
    },
    /// Nothing was written; trying again later is safe.
    Unavailable(String),
    /// Nothing was written: the write region is moving (or moved since this task last looked);
    /// trying again in a second is safe (503 with `Retry-After`).
    WritesPaused(String),
    /// The outcome is unknown.
    Failed(String),
}

impl From<StoreError> for ApiError {
    fn from(error: StoreError) -> ApiError {
        match error {
            StoreError::NotFound { id } => ApiError::not_found(format!("no mysfit with id {id:?}")),
            StoreError::AlreadyAdopted { id } => {
                ApiError::conflict(format!("mysfit {id:?} has already been adopted"))
            }
            StoreError::Unavailable(message) | StoreError::WritesPaused(message) => {
                ApiError::unavailable(message)
            }
            StoreError::Failed(message) => ApiError::bad_gateway(message),
        }
    }
}

/// The catalogue table: read in the local region's replica, written in the write region's.
#[derive(Clone)]
pub struct MysfitsTable {
    client: Client,
    name: String,
    regions: std::sync::Arc<RegionClients>,
    control: std::sync::Arc<ControlView>,
    likes: std::sync::Arc<LikeQueue>,
}

/// `BatchGetItem` calls per read back while DynamoDB leaves keys unprocessed, and the pause
/// before the second (doubled before each further one: 50, 100, 200, 400 ms). Keys come back
/// unprocessed when the table is throttled, and DynamoDB's reference asks for exponential
/// backoff then: an immediate retry meets the same throttling.
pub const READ_BACK_ATTEMPTS: u32 = 5;
pub const READ_BACK_PAUSE: Duration = Duration::from_millis(50);

/// Transactions tried per write while DynamoDB cancels them only for a conflict.
pub const CONFLICT_ATTEMPTS: u32 = 3;

/// The pause before conflict retry `attempt` (1, 2): 5-15 ms, then 10-30 ms, spread by the
/// clock's nanoseconds so that the writes that conflicted do not meet again in step.
fn conflict_pause(attempt: u32) -> Duration {
    let base = 5 * u64::from(attempt);
    let spread = u64::from(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |since| since.subsec_nanos()),
    ) % (2 * base + 1);
    Duration::from_millis(base + spread)
}

/// A transaction canceled for a conflict and nothing else (no condition failed).
fn only_conflicts<T>(
    result: &Result<
        T,
        SdkError<TransactWriteItemsError, aws_sdk_dynamodb::config::http::HttpResponse>,
    >,
) -> bool {
    let Err(SdkError::ServiceError(failure)) = result else {
        return false;
    };
    let TransactWriteItemsError::TransactionCanceledException(canceled) = failure.err() else {
        return false;
    };
    let codes: Vec<&str> = canceled
        .cancellation_reasons()
        .iter()
        .map(|reason| reason.code().unwrap_or("None"))
        .collect();
    codes.contains(&"TransactionConflict")
        && codes
            .iter()
            .all(|code| matches!(*code, "TransactionConflict" | "None"))
}

/// Which of the transaction's two items a cancellation reason is about.
const CONTROL_CHECK: usize = 0;
const MYSFIT_UPDATE: usize = 1;

impl MysfitsTable {
    /// The table in `client`'s region, which is also the home region (where writes go while the
    /// table has no control item) unless [`MysfitsTable::with_home_region`] says otherwise.
    pub fn new(client: Client, name: impl Into<String>) -> MysfitsTable {
        let regions = RegionClients::new(client.clone());
        let home_region = regions.local_region().to_string();
        MysfitsTable {
            client,
            name: name.into(),
            regions: std::sync::Arc::new(regions),
            control: std::sync::Arc::new(ControlView::new(home_region)),
            likes: std::sync::Arc::default(),
        }
    }

    /// `MYSFITS_HOME_REGION`: the write region while no control item exists yet.
    pub fn with_home_region(mut self, home_region: impl Into<String>) -> MysfitsTable {
        self.control = std::sync::Arc::new(ControlView::new(home_region));
        self
    }

    /// Sends `region`'s calls through `client` (instead of a client derived from the local one).
    pub fn with_region_client(self, region: &str, client: Client) -> MysfitsTable {
        self.regions.insert(region, client);
        self
    }

    pub fn local_region(&self) -> &str {
        self.regions.local_region()
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    /// Every mysfit, or those of one alignment (a query on that alignment's index), ordered by id.
    pub async fn list(&self, filter: Option<Filter>) -> Result<Vec<Mysfit>, StoreError> {
        let operation = if filter.is_some() { "Query" } else { "Scan" };
        let span = self.call_span(operation);
        let items = match filter {
            None => self
                .client
                .scan()
                .table_name(&self.name)
                .into_paginator()
                .items()
                .send()
                .collect::<Result<Vec<_>, _>>()
                .instrument(span.clone())
                .await
                .map_err(|error| self.failure(&span, "Scan", error))?,
            Some(filter) => self
                .client
                .query()
                .table_name(&self.name)
                .index_name(filter.alignment.index())
                .key_condition_expression("#alignment = :value")
                .expression_attribute_names("#alignment", filter.alignment.attribute())
                .expression_attribute_values(":value", AttributeValue::S(filter.value.into()))
                .into_paginator()
                .items()
                .send()
                .collect::<Result<Vec<_>, _>>()
                .instrument(span.clone())
                .await
                .map_err(|error| self.failure(&span, "Query", error))?,
        };
        let mut mysfits = items
            .iter()
            .filter(|item| !write_region::is_control_item(item))
            .map(|item| self.read(item))
            .collect::<Result<Vec<_>, _>>()?;
        mysfits.sort_by(|left, right| left.id.cmp(&right.id));
        Ok(mysfits)
    }

    pub async fn get(&self, id: &str) -> Result<Mysfit, StoreError> {
        if id == write_region::CONTROL_ID {
            return Err(StoreError::NotFound { id: id.into() });
        }
        let span = self.call_span("GetItem");
        let output = self
            .client
            .get_item()
            .table_name(&self.name)
            .key(mysfit::ID, AttributeValue::S(id.into()))
            .return_consumed_capacity(ReturnConsumedCapacity::Total)
            .send()
            .instrument(span.clone())
            .await
            .map_err(|error| self.failure(&span, "GetItem", error))?;
        record_capacity(&span, output.consumed_capacity());
        match output.item() {
            Some(item) => self.read(item),
            None => Err(StoreError::NotFound { id: id.into() }),
        }
    }

    /// Marks a mysfit adopted, once across all regions: a second adoption is `AlreadyAdopted`.
    pub async fn adopt(&self, id: &str) -> Result<Mysfit, StoreError> {
        let update = Update::builder()
            .table_name(&self.name)
            .key(mysfit::ID, AttributeValue::S(id.into()))
            .update_expression("SET #adopted = :adopted ADD #version :one")
            .condition_expression(
                "attribute_exists(#id) AND (attribute_not_exists(#adopted) OR #adopted = :available)",
            )
            .expression_attribute_names("#id", mysfit::ID)
            .expression_attribute_names("#adopted", mysfit::ADOPTED)
            .expression_attribute_names("#version", write_region::VERSION)
            .expression_attribute_values(":adopted", AttributeValue::Bool(true))
            .expression_attribute_values(":available", AttributeValue::Bool(false))
            .expression_attribute_values(":one", AttributeValue::N("1".into()))
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld)
            .build()
            .expect("table, key and expression are set");
        self.write(id, update, |old_item| match old_item {
            Some(_) => StoreError::AlreadyAdopted { id: id.into() },
            None => StoreError::NotFound { id: id.into() },
        })
        .await
    }

    /// Adds one like, atomically, to an existing mysfit. The answer is the mysfit as read right
    /// after the write in the write region: its count includes this like (and maybe others').
    /// Likes that come while a write is under way share the next one (see [`crate::like_queue`]).
    pub async fn like(&self, id: &str) -> Result<Mysfit, StoreError> {
        let (waiter, answer) = Waiter::new(id);
        if self.likes.push(waiter) {
            let table = self.clone();
            tokio::spawn(async move { table.write_queued_likes().await });
        }
        answer.await.unwrap_or_else(|_| {
            Err(StoreError::Failed(format!(
                "the write of the like of mysfit {id:?} ended without an answer; whether it was \
                 counted is unknown"
            )))
        })
    }

    /// The queue's writer: writes batches of likes until none waits.
    async fn write_queued_likes(&self) {
        // A panic in a write must not leave the queue waiting for a writer that is gone.
        struct Abandon<'a>(&'a LikeQueue);
        impl Drop for Abandon<'_> {
            fn drop(&mut self) {
                if std::thread::panicking() {
                    self.0.abandon();
                }
            }
        }
        let _abandon = Abandon(&self.likes);
        while let Some(batch) = self.likes.next_batch() {
            let likes = batch.likes();
            tracing::debug!(
                mysfits = likes.len(),
                likes = likes.iter().map(|(_, count)| count).sum::<u64>(),
                "writing likes"
            );
            let request = batch.request();
            match request.clone().run(self.commit_likes(&likes)).await {
                Commit::Answered(outcomes) => batch.answer(outcomes),
                // The read back runs beside the next batch's transaction: only transactions on
                // the same items conflict (the control item is in each), a plain read never
                // does, so a like waits for one transaction in flight, not for its read too.
                Commit::Written(written) => {
                    let table = self.clone();
                    tokio::spawn(request.run(async move {
                        let outcomes = table.read_back_written(&likes, written).await;
                        batch.answer(outcomes);
                    }));
                }
            }
        }
    }

    /// One transaction for `likes` (each mysfit with its number of likes): the control check,
    /// then `ADD Likes n` on each. A mysfit that does not exist cancels it, so that one is
    /// answered "not found" and the others are written without it (nothing was written). Once it
    /// is committed, [`MysfitsTable::read_back_written`] gives one outcome per mysfit, in order.
    async fn commit_likes(&self, likes: &[(String, u64)]) -> Commit {
        let everyone = |error: StoreError| Commit::Answered(vec![Err(error); likes.len()]);
        let target = match self.write_target().await {
            Ok(target) => target,
            Err(error) => return everyone(error),
        };
        let check = match self.control_check(&target) {
            Ok(check) => check,
            Err(error) => return everyone(error),
        };
        let client = self.regions.client(target.region());
        let mut outcomes: Vec<Option<Result<Mysfit, StoreError>>> = vec![None; likes.len()];
        // Indexes into `likes` of the mysfits still to write.
        let mut pending: Vec<usize> = (0..likes.len()).collect();
        let mut attempt = 1;
        loop {
            let mut request = client
                .transact_write_items()
                .transact_items(
                    TransactWriteItem::builder()
                        .condition_check(check.clone())
                        .build(),
                )
                .return_consumed_capacity(ReturnConsumedCapacity::Total);
            for &index in &pending {
                let (id, count) = &likes[index];
                request = request.transact_items(
                    TransactWriteItem::builder()
                        .update(self.like_update(id, *count))
                        .build(),
                );
            }
            let span = self.call_span("TransactWriteItems");
            let result = request.send().instrument(span.clone()).await;
            if attempt < CONFLICT_ATTEMPTS && only_conflicts(&result) {
                tokio::time::sleep(conflict_pause(attempt)).await;
                attempt += 1;
                continue;
            }
            let failure = match result {
                Ok(output) => {
                    record_capacities(&span, output.consumed_capacity());
                    break;
                }
                Err(SdkError::ServiceError(failure)) => failure,
                Err(error) => {
                    let error = self.failure(&span, "TransactWriteItems", error);
                    return Commit::Answered(fill(outcomes, &pending, error));
                }
            };
            let TransactWriteItemsError::TransactionCanceledException(canceled) = failure.err()
            else {
                let error =
                    self.failure(&span, "TransactWriteItems", SdkError::ServiceError(failure));
                return Commit::Answered(fill(outcomes, &pending, error));
            };
            let reasons = canceled.cancellation_reasons();
            let code = |action: usize| reasons.get(action).and_then(|reason| reason.code());
            if code(CONTROL_CHECK) == Some("ConditionalCheckFailed") {
                self.control.forget();
                let error = self.paused(&target, "the write region moved or is moving");
                return Commit::Answered(fill(outcomes, &pending, error));
            }
            // Action 1 + k is the update of pending[k].
            let unknown: Vec<usize> = (0..pending.len())
                .filter(|k| code(MYSFIT_UPDATE + k) == Some("ConditionalCheckFailed"))
                .collect();
            if !unknown.is_empty() {
                for &k in &unknown {
                    let id = &likes[pending[k]].0;
                    outcomes[pending[k]] = Some(Err(StoreError::NotFound { id: id.clone() }));
                }
                let mut k = 0;
                pending.retain(|_| {
                    k += 1;
                    !unknown.contains(&(k - 1))
                });
                if pending.is_empty() {
                    return Commit::Answered(finished(outcomes));
                }
                continue;
            }
            let codes: Vec<&str> = reasons
                .iter()
                .map(|reason| reason.code().unwrap_or("None"))
                .collect();
            let error = if codes.iter().any(|code| {
                matches!(
                    *code,
                    "TransactionConflict" | "ThrottlingError" | "ProvisionedThroughputExceeded"
                )
            }) {
                // A conflicting transaction, throttling or capacity: nothing was written.
                let ids: Vec<&str> = pending
                    .iter()
                    .map(|&index| likes[index].0.as_str())
                    .collect();
                StoreError::Unavailable(format!(
                    "DynamoDB canceled the write of the likes of {} in {} ({}); try again shortly",
                    ids.join(", "),
                    target.region(),
                    codes.join(", ")
                ))
            } else {
                self.failure(&span, "TransactWriteItems", SdkError::ServiceError(failure))
            };
            return Commit::Answered(fill(outcomes, &pending, error));
        }
        Commit::Written(Written {
            client,
            outcomes,
            pending,
        })
    }

    /// The mysfits of a committed transaction read back, and every outcome of its likes.
    async fn read_back_written(
        &self,
        likes: &[(String, u64)],
        written: Written,
    ) -> Vec<Result<Mysfit, StoreError>> {
        let Written {
            client,
            mut outcomes,
            pending,
        } = written;
        let ids: Vec<&str> = pending
            .iter()
            .map(|&index| likes[index].0.as_str())
            .collect();
        let read = self.read_back_all(&client, &ids).await;
        for (&index, outcome) in pending.iter().zip(read) {
            outcomes[index] = Some(outcome);
        }
        finished(outcomes)
    }

    /// `ADD Likes count` (and the version) on an existing mysfit.
    fn like_update(&self, id: &str, count: u64) -> Update {
        Update::builder()
            .table_name(&self.name)
            .key(mysfit::ID, AttributeValue::S(id.into()))
            .update_expression("ADD #likes :count, #version :one")
            .condition_expression("attribute_exists(#id)")
            .expression_attribute_names("#id", mysfit::ID)
            .expression_attribute_names("#likes", mysfit::LIKES)
            .expression_attribute_names("#version", write_region::VERSION)
            .expression_attribute_values(":count", AttributeValue::N(count.to_string()))
            .expression_attribute_values(":one", AttributeValue::N("1".into()))
            .build()
            .expect("table, key and expression are set")
    }

    /// Where writes go now: the kept view of the control item, else the local replica's.
    pub async fn write_target(&self) -> Result<WriteTarget, StoreError> {
        match self.control.current() {
            Some(target) => Ok(target),
            None => self.read_control().await,
        }
    }

    /// Reads the control item from the local replica (replication brings a move here within
    /// the replication lag; until then a write meets a failed control check and reads again).
    async fn read_control(&self) -> Result<WriteTarget, StoreError> {
        let span = self.call_span("GetItem");
        let output = self
            .client
            .get_item()
            .table_name(&self.name)
            .set_key(Some(Control::key()))
            .send()
            .instrument(span.clone())
            .await
            .map_err(|error| self.failure(&span, "GetItem", error))?;
        let control = match output.item() {
            None => None,
            Some(item) => Some(Control::from_item(item).map_err(|problem| {
                tracing::error!(table = %self.name, %problem, "malformed control item");
                StoreError::Failed(format!(
                    "the write-region control item in table {} is malformed: {problem}",
                    self.name
                ))
            })?),
        };
        Ok(self.control.keep(control))
    }

    /// One write: the control check and `update` in one transaction in the write region's
    /// table, then the mysfit read back there. `item_failed` names the failure when the mysfit's
    /// own condition fails, from the item as it was (if it exists).
    async fn write(
        &self,
        id: &str,
        update: Update,
        item_failed: impl FnOnce(
            Option<&std::collections::HashMap<String, AttributeValue>>,
        ) -> StoreError,
    ) -> Result<Mysfit, StoreError> {
        let target = self.write_target().await?;
        let check = self.control_check(&target)?;
        let client = self.regions.client(target.region());
        let request = client
            .transact_write_items()
            .transact_items(TransactWriteItem::builder().condition_check(check).build())
            .transact_items(TransactWriteItem::builder().update(update).build())
            .return_consumed_capacity(ReturnConsumedCapacity::Total);
        let mut attempt = 1;
        let (span, result) = loop {
            let span = self.call_span("TransactWriteItems");
            let result = request.clone().send().instrument(span.clone()).await;
            // Every write checks the one control item, so concurrent writes (any mysfits) can
            // cancel one another with TransactionConflict; nothing was written, so a new
            // transaction (with its own token) is tried after a short, spread pause.
            if attempt < CONFLICT_ATTEMPTS && only_conflicts(&result) {
                tokio::time::sleep(conflict_pause(attempt)).await;
                attempt += 1;
                continue;
            }
            break (span, result);
        };
        match result {
            Ok(output) => record_capacities(&span, output.consumed_capacity()),
            Err(SdkError::ServiceError(failure)) => {
                if let TransactWriteItemsError::TransactionCanceledException(canceled) =
                    failure.err()
                {
                    let reasons = canceled.cancellation_reasons();
                    let failed_condition = |index: usize| {
                        reasons
                            .get(index)
                            .and_then(|reason| reason.code())
                            .is_some_and(|code| code == "ConditionalCheckFailed")
                    };
                    if failed_condition(CONTROL_CHECK) {
                        self.control.forget();
                        return Err(self.paused(&target, "the write region moved or is moving"));
                    }
                    if failed_condition(MYSFIT_UPDATE) {
                        let old_item = reasons
                            .get(MYSFIT_UPDATE)
                            .and_then(|reason| reason.item())
                            .filter(|item| !item.is_empty());
                        return Err(item_failed(old_item));
                    }
                    let codes: Vec<&str> = reasons
                        .iter()
                        .map(|reason| reason.code().unwrap_or("None"))
                        .collect();
                    // A conflicting transaction, throttling or capacity: nothing was written.
                    if codes.iter().any(|code| {
                        matches!(
                            *code,
                            "TransactionConflict"
                                | "ThrottlingError"
                                | "ProvisionedThroughputExceeded"
                        )
                    }) {
                        return Err(StoreError::Unavailable(format!(
                            "DynamoDB canceled the write of mysfit {id:?} in {} ({}); try again shortly",
                            target.region(),
                            codes.join(", ")
                        )));
                    }
                }
                return Err(self.failure(
                    &span,
                    "TransactWriteItems",
                    SdkError::ServiceError(failure),
                ));
            }
            Err(error) => return Err(self.failure(&span, "TransactWriteItems", error)),
        }
        self.read_back(&client, id).await
    }

    /// The `ConditionCheck` that `target` is still the write region (or, unseeded, that no
    /// control item exists yet); refused at once while a move is under way.
    fn control_check(&self, target: &WriteTarget) -> Result<ConditionCheck, StoreError> {
        let mut check = ConditionCheck::builder()
            .table_name(&self.name)
            .set_key(Some(Control::key()))
            .expression_attribute_names("#write_region", write_region::WRITE_REGION);
        check = match target {
            WriteTarget::Seeded(control) => {
                if control.state == ControlState::Moving {
                    return Err(self.paused(target, "a write-region move is under way"));
                }
                check
                    .condition_expression(
                        "#write_region = :write_region AND #epoch = :epoch AND #state = :active",
                    )
                    .expression_attribute_names("#epoch", write_region::EPOCH)
                    .expression_attribute_names("#state", write_region::STATE)
                    .expression_attribute_values(
                        ":write_region",
                        AttributeValue::S(control.write_region.clone()),
                    )
                    .expression_attribute_values(
                        ":epoch",
                        AttributeValue::N(control.epoch.to_string()),
                    )
                    .expression_attribute_values(
                        ":active",
                        AttributeValue::S(ControlState::Active.as_str().into()),
                    )
            }
            WriteTarget::Unseeded { .. } => {
                check.condition_expression("attribute_not_exists(#write_region)")
            }
        };
        Ok(check.build().expect("table, key and condition are set"))
    }

    /// The mysfit as the write region's table has it right after a write (a consistent read).
    async fn read_back(&self, client: &Client, id: &str) -> Result<Mysfit, StoreError> {
        let span = self.call_span("GetItem");
        let output = client
            .get_item()
            .table_name(&self.name)
            .key(mysfit::ID, AttributeValue::S(id.into()))
            .consistent_read(true)
            .send()
            .instrument(span.clone())
            .await
            .map_err(|error| match self.failure(&span, "GetItem", error) {
                StoreError::Unavailable(message) | StoreError::Failed(message) => {
                    StoreError::Failed(format!(
                        "the write of mysfit {id:?} was applied, but reading it back failed: {message}"
                    ))
                }
                other => other,
            })?;
        match output.item() {
            Some(item) => self.read(item),
            None => Err(StoreError::NotFound { id: id.into() }),
        }
    }

    /// The mysfits as the write region's table has them right after a write, in the order of
    /// `ids` (distinct): one consistent `GetItem` for one, a consistent `BatchGetItem` (at most
    /// 100 keys) for more, asking again for the keys it leaves unprocessed.
    async fn read_back_all(
        &self,
        client: &Client,
        ids: &[&str],
    ) -> Vec<Result<Mysfit, StoreError>> {
        if let [id] = ids {
            return vec![self.read_back(client, id).await];
        }
        let applied_but = |why: String| {
            StoreError::Failed(format!(
                "the likes of {} were applied, but reading them back failed: {why}",
                ids.join(", ")
            ))
        };
        let mut found: std::collections::HashMap<String, Result<Mysfit, StoreError>> =
            std::collections::HashMap::with_capacity(ids.len());
        let mut keys: Vec<std::collections::HashMap<String, AttributeValue>> = ids
            .iter()
            .map(|id| {
                std::collections::HashMap::from([(
                    mysfit::ID.to_string(),
                    AttributeValue::S(id.to_string()),
                )])
            })
            .collect();
        for attempt in 1..=READ_BACK_ATTEMPTS {
            let span = self.call_span("BatchGetItem");
            let request = KeysAndAttributes::builder()
                .set_keys(Some(keys))
                .consistent_read(true)
                .build()
                .expect("keys are set");
            let output = match client
                .batch_get_item()
                .request_items(&self.name, request)
                .return_consumed_capacity(ReturnConsumedCapacity::Total)
                .send()
                .instrument(span.clone())
                .await
            {
                Ok(output) => output,
                Err(error) => {
                    let message = match self.failure(&span, "BatchGetItem", error) {
                        StoreError::Unavailable(message) | StoreError::Failed(message) => message,
                        other => format!("{other:?}"),
                    };
                    let error = applied_but(message);
                    return ids
                        .iter()
                        .map(|id| found.remove(*id).unwrap_or_else(|| Err(error.clone())))
                        .collect();
                }
            };
            record_capacities(&span, output.consumed_capacity());
            for item in output
                .responses()
                .and_then(|tables| tables.get(&self.name))
                .into_iter()
                .flatten()
            {
                if let Some(AttributeValue::S(id)) = item.get(mysfit::ID) {
                    found.insert(id.clone(), self.read(item));
                }
            }
            keys = output
                .unprocessed_keys()
                .and_then(|tables| tables.get(&self.name))
                .map(|left| left.keys().to_vec())
                .unwrap_or_default();
            if keys.is_empty() {
                break;
            }
            if attempt < READ_BACK_ATTEMPTS {
                tokio::time::sleep(READ_BACK_PAUSE * 2u32.pow(attempt - 1)).await;
            }
        }
        let unread: Vec<String> = keys
            .iter()
            .filter_map(|key| match key.get(mysfit::ID) {
                Some(AttributeValue::S(id)) => Some(id.clone()),
                _ => None,
            })
            .collect();
        ids.iter()
            .map(|id| {
                found.remove(*id).unwrap_or_else(|| {
                    if unread.iter().any(|left| left == id) {
                        Err(StoreError::Failed(format!(
                            "the like of mysfit {id:?} was applied, but DynamoDB left it unread \
                             {READ_BACK_ATTEMPTS} times (UnprocessedKeys)"
                        )))
                    } else {
                        Err(StoreError::NotFound { id: id.to_string() })
                    }
                })
            })
            .collect()
    }

    fn paused(&self, target: &WriteTarget, why: &str) -> StoreError {
        tracing::info!(table = %self.name, write_region = target.region(), why, "write refused");
        StoreError::WritesPaused(format!(
            "writes are paused: {why} (write region was {}); nothing was written, try again in {} s",
            target.region(),
            write_region::RETRY_AFTER_SECONDS
        ))
    }

    /// The table's status when it exists and can serve requests (ACTIVE, or UPDATING — e.g. while
    /// a replica is being added).
    pub async fn check_ready(&self) -> Result<String, StoreError> {
        let span = self.call_span("DescribeTable");
        let output = self
            .client
            .describe_table()
            .table_name(&self.name)
            .send()
            .instrument(span.clone())
            .await
            .map_err(|error| self.failure(&span, "DescribeTable", error))?;
        let status = output
            .table()
            .and_then(|table| table.table_status())
            .map(|status| status.as_str().to_string())
            .unwrap_or_else(|| "UNKNOWN".into());
        if status == "ACTIVE" || status == "UPDATING" {
            Ok(status)
        } else {
            Err(StoreError::Unavailable(format!(
                "table {} is {status}, not ACTIVE",
                self.name
            )))
        }
    }

    fn read(
        &self,
        item: &std::collections::HashMap<String, AttributeValue>,
    ) -> Result<Mysfit, StoreError> {
        Mysfit::from_item(item).map_err(|malformed| {
            tracing::error!(table = %self.name, id = %malformed.id, problem = %malformed.problem, "malformed item");
            StoreError::Failed(format!(
                "item {:?} in table {} is malformed: {}",
                malformed.id, self.name, malformed.problem
            ))
        })
    }

    /// The client span of one DynamoDB call (none unless the request is recorded), with the
    /// attributes the X-Ray exporter turns into a DynamoDB subsegment. The SDK's own operation
    /// span has the operation but neither the table nor the consumed capacity, so it is not
    /// exported (see `service_common::telemetry`).
    fn call_span(&self, operation: &'static str) -> tracing::Span {
        if !telemetry::recording() {
            // A request not sampled builds no span (see `service_common::telemetry::decide`).
            return tracing::Span::none();
        }
        tracing::debug_span!(
            "dynamodb",
            otel.name = %format_args!("DynamoDB.{operation}"),
            otel.kind = "client",
            rpc.system = "aws-api",
            rpc.service = "DynamoDB",
            rpc.method = operation,
            db.system.name = "aws.dynamodb",
            aws.dynamodb.table_names = %self.name,
            aws.dynamodb.consumed_capacity = tracing::field::Empty,
            otel.status_code = tracing::field::Empty,
            error.r#type = tracing::field::Empty,
        )
    }

    /// Classifies and logs a failed call (see the module documentation), and marks its span.
    fn failure<E, R>(
        &self,
        span: &tracing::Span,
        operation: &str,
        error: SdkError<E, R>,
    ) -> StoreError
    where
        E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
        R: std::fmt::Debug + Send + Sync + 'static,
    {
        span.record("otel.status_code", "ERROR");
        span.record("error.type", error_kind(&error));
        tracing::error!(
            table = %self.name,
            operation,
            error = %DisplayErrorContext(&error),
            "DynamoDB call failed"
        );
        let table = &self.name;
        match &error {
            // The SDK returns the last attempt's error: a write whose connection failed may
            // have been applied by an earlier attempt that timed out ("the request MAY have been
            // sent"), so only a read is safe to try again.
            SdkError::DispatchFailure(_) if writes(operation) => StoreError::Failed(format!(
                "DynamoDB could not be reached for {operation} on table {table} after the \
                 SDK's retries; an earlier attempt may have been applied, so the outcome is \
                 unknown"
            )),
            SdkError::DispatchFailure(_) => StoreError::Unavailable(format!(
                "DynamoDB is unreachable ({operation} on table {table}); try again shortly"
            )),
            SdkError::TimeoutError(_) => StoreError::Failed(format!(
                "DynamoDB did not answer {operation} on table {table} in time"
            )),
            SdkError::ServiceError(failure) => {
                let code = failure.err().code().unwrap_or("unknown");
                let message = failure.err().message().unwrap_or("");
                match code {
                    "ResourceNotFoundException" => StoreError::Unavailable(format!(
                        "table {table} does not exist in this region (or its index is missing)"
                    )),
                    "ProvisionedThroughputExceededException"
                    | "ThrottlingException"
                    | "RequestLimitExceeded" => StoreError::Unavailable(format!(
                        "DynamoDB throttled {operation} on table {table}; try again shortly"
                    )),
                    _ => StoreError::Failed(format!(
                        "DynamoDB refused {operation} on table {table}: {code}: {message}"
                    )),
                }
            }
            _ => StoreError::Failed(format!(
                "DynamoDB call {operation} on table {table} failed: {}",
                DisplayErrorContext(&error)
            )),
        }
    }
}

/// Whether `operation` changes the table: its failures are never called "nothing written"
/// unless DynamoDB said so.
fn writes(operation: &str) -> bool {
    matches!(
        operation,
        "TransactWriteItems" | "UpdateItem" | "PutItem" | "DeleteItem" | "BatchWriteItem"
    )
}

/// How a transaction of likes ended.
enum Commit {
    /// Every like has its outcome (nothing was written, or every mysfit was unknown).
    Answered(Vec<Result<Mysfit, StoreError>>),
    /// Written: the mysfits of `pending` (indexes into the likes) are to be read back with
    /// `client` (the write region's); the others have their outcome in `outcomes`.
    Written(Written),
}

struct Written {
    client: Client,
    outcomes: Vec<Option<Result<Mysfit, StoreError>>>,
    pending: Vec<usize>,
}

/// `error` for every mysfit of `pending`, and the outcomes complete.
fn fill(
    mut outcomes: Vec<Option<Result<Mysfit, StoreError>>>,
    pending: &[usize],
    error: StoreError,
) -> Vec<Result<Mysfit, StoreError>> {
    for &index in pending {
        outcomes[index] = Some(Err(error.clone()));
    }
    finished(outcomes)
}

fn finished(outcomes: Vec<Option<Result<Mysfit, StoreError>>>) -> Vec<Result<Mysfit, StoreError>> {
    outcomes
        .into_iter()
        .map(|outcome| outcome.expect("every mysfit of the write has an outcome"))
        .collect()
}

/// The capacity units of a call that returns one entry per table, summed on its span.
fn record_capacities(span: &tracing::Span, capacities: &[ConsumedCapacity]) {
    let units: Vec<f64> = capacities
        .iter()
        .filter_map(ConsumedCapacity::capacity_units)
        .collect();
    if !units.is_empty() {
        span.record("aws.dynamodb.consumed_capacity", units.iter().sum::<f64>());
    }
}

/// The capacity units a call consumed (asked for with `ReturnConsumedCapacity: TOTAL`), on its
/// span as `aws.dynamodb.consumed_capacity`.
fn record_capacity(span: &tracing::Span, capacity: Option<&ConsumedCapacity>) {
    if let Some(units) = capacity.and_then(ConsumedCapacity::capacity_units) {
        span.record("aws.dynamodb.consumed_capacity", units);
    }
}

/// The error's DynamoDB code, or what kind of failure it was when DynamoDB did not answer.
fn error_kind<E: ProvideErrorMetadata, R>(error: &SdkError<E, R>) -> String {
    match error {
        SdkError::ServiceError(failure) => failure.err().code().unwrap_or("unknown").to_string(),
        SdkError::DispatchFailure(_) => "DispatchFailure".into(),
        SdkError::TimeoutError(_) => "TimeoutError".into(),
        SdkError::ResponseError(_) => "ResponseError".into(),
        _ => "SdkError".into(),
    }
}
