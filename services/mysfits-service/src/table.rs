//! Every DynamoDB call of the service, and what its failures mean over HTTP.
//!
//! Writes are single conditional requests, never read-then-write: adopting is
//! `SET Adopted = true` on condition "exists and not adopted", liking is `ADD Likes 1` on condition
//! "exists". Concurrent requests are therefore exact (N likes add N; of two adoptions one wins),
//! and a failed condition tells apart "unknown mysfit" from "already adopted" through
//! `ReturnValuesOnConditionCheckFailure`, without a second read.
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
use aws_sdk_dynamodb::operation::update_item::UpdateItemError;
use aws_sdk_dynamodb::types::{
    AttributeDefinition, AttributeValue, BillingMode, ConsumedCapacity, GlobalSecondaryIndex,
    KeySchemaElement, KeyType, Projection, ProjectionType, ReturnConsumedCapacity, ReturnValue,
    ReturnValuesOnConditionCheckFailure, ScalarAttributeType,
};
use aws_smithy_types::error::display::DisplayErrorContext;
use service_common::ApiError;
use tracing::Instrument;

use crate::mysfit::{self, Alignment, Filter, Mysfit};

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
            StoreError::Unavailable(message) => ApiError::unavailable(message),
            StoreError::Failed(message) => ApiError::bad_gateway(message),
        }
    }
}

/// The catalogue table.
#[derive(Debug, Clone)]
pub struct MysfitsTable {
    client: Client,
    name: String,
}

impl MysfitsTable {
    pub fn new(client: Client, name: impl Into<String>) -> MysfitsTable {
        MysfitsTable {
            client,
            name: name.into(),
        }
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
            .map(|item| self.read(item))
            .collect::<Result<Vec<_>, _>>()?;
        mysfits.sort_by(|left, right| left.id.cmp(&right.id));
        Ok(mysfits)
    }

    pub async fn get(&self, id: &str) -> Result<Mysfit, StoreError> {
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

    /// Marks a mysfit adopted, once: a second adoption is `AlreadyAdopted`.
    pub async fn adopt(&self, id: &str) -> Result<Mysfit, StoreError> {
        let span = self.call_span("UpdateItem");
        let result = self
            .client
            .update_item()
            .table_name(&self.name)
            .key(mysfit::ID, AttributeValue::S(id.into()))
            .update_expression("SET #adopted = :adopted")
            .condition_expression(
                "attribute_exists(#id) AND (attribute_not_exists(#adopted) OR #adopted = :available)",
            )
            .expression_attribute_names("#id", mysfit::ID)
            .expression_attribute_names("#adopted", mysfit::ADOPTED)
            .expression_attribute_values(":adopted", AttributeValue::Bool(true))
            .expression_attribute_values(":available", AttributeValue::Bool(false))
            .return_values(ReturnValue::AllNew)
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld)
            .return_consumed_capacity(ReturnConsumedCapacity::Total)
            .send()
            .instrument(span.clone())
            .await;
        match result {
            Ok(output) => {
                record_capacity(&span, output.consumed_capacity());
                self.read(output.attributes().unwrap_or(&Default::default()))
            }
            Err(SdkError::ServiceError(failure)) => match failure.err() {
                UpdateItemError::ConditionalCheckFailedException(check) => {
                    if check.item().is_some_and(|item| !item.is_empty()) {
                        Err(StoreError::AlreadyAdopted { id: id.into() })
                    } else {
                        Err(StoreError::NotFound { id: id.into() })
                    }
                }
                _ => Err(self.failure(&span, "UpdateItem", SdkError::ServiceError(failure))),
            },
            Err(error) => Err(self.failure(&span, "UpdateItem", error)),
        }
    }

    /// Adds one like, atomically, to an existing mysfit.
    pub async fn like(&self, id: &str) -> Result<Mysfit, StoreError> {
        let span = self.call_span("UpdateItem");
        let result = self
            .client
            .update_item()
            .table_name(&self.name)
            .key(mysfit::ID, AttributeValue::S(id.into()))
            .update_expression("ADD #likes :one")
            .condition_expression("attribute_exists(#id)")
            .expression_attribute_names("#id", mysfit::ID)
            .expression_attribute_names("#likes", mysfit::LIKES)
            .expression_attribute_values(":one", AttributeValue::N("1".into()))
            .return_values(ReturnValue::AllNew)
            .return_consumed_capacity(ReturnConsumedCapacity::Total)
            .send()
            .instrument(span.clone())
            .await;
        match result {
            Ok(output) => {
                record_capacity(&span, output.consumed_capacity());
                self.read(output.attributes().unwrap_or(&Default::default()))
            }
            Err(SdkError::ServiceError(failure))
                if failure.err().is_conditional_check_failed_exception() =>
            {
                Err(StoreError::NotFound { id: id.into() })
            }
            Err(error) => Err(self.failure(&span, "UpdateItem", error)),
        }
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

    /// The client span of one DynamoDB call (`debug`: off, at no cost, unless traces are
    /// exported), with the attributes the X-Ray exporter turns into a DynamoDB subsegment. The
    /// SDK's own operation span has the operation but neither the table nor the consumed
    /// capacity, so it is not exported (see `service_common::telemetry`).
    fn call_span(&self, operation: &'static str) -> tracing::Span {
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
