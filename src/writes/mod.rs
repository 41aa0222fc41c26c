//! The write region of the catalogue table: which region takes every adoption and like (see
//! `mysfits_catalogue::write_region` for why there is one), read from each region's replica
//! ([`describe`]), created by the deploy ([`seed`]) and moved by failover ([`move_write_region`]).
//!
//! A move is fenced, so that no write is acknowledged twice or lost:
//! 1. freeze: in the old write region, the control item becomes `moving` (on condition that it
//!    still names that region, `active`, at the epoch read): from then on the services' control
//!    check fails there, and no write commits anywhere;
//! 2. drain: wait until the new region's replica has the frozen control item and every mysfit's
//!    `Version` the old region has (consistent reads in both), bounded; the time it took is the
//!    replication lag, reported;
//! 3. switch: in the new region, the control item becomes `{new region, epoch + 1, active}` on
//!    condition that its replica still has the frozen epoch.
//!
//! A drain that runs out rolls back (the old region `active` again, same epoch) and refuses with
//! the figures. An old region that does not answer at all is refused unless forced: forced, the
//! new region is made active directly under the next epoch, and writes the old region
//! acknowledged but had not replicated yet may be lost (the recovery point is the replication lag).

use std::collections::HashMap;
use std::time::Duration;

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_dynamodb::types::AttributeValue;
use aws_smithy_runtime_api::client::orchestrator::HttpResponse;
use mysfits_catalogue::mysfit;
use mysfits_catalogue::write_region::{self as control_item, Control, ControlState};
use serde::Serialize;
use tokio::time::Instant;

use crate::aws::{aws_error, error_code};
use crate::error::{Error, Result};
use crate::wait::{Backoff, Pacing};

/// How long a move waits for the new region's replica before it rolls back. Global tables
/// replicate "typically under a second", with no bound promised.
pub const DRAIN_LIMIT: Duration = Duration::from_secs(60);
/// The pauses between two comparisons of the replicas while draining.
pub const DRAIN_BACKOFF: Backoff = Backoff::doubling(
    Duration::from_millis(100),
    Duration::from_secs(2),
    DRAIN_LIMIT,
);

/// The pauses between attempts of a control-item write that met a transaction: every service
/// write is a transaction that checks the control item, and DynamoDB rejects a plain write to
/// an item an unfinished transaction includes (`TransactionConflictException`, not retried by
/// the SDK). Each attempt is conditional, so trying again is safe.
pub const CONFLICT_BACKOFF: Backoff = Backoff::doubling(
    Duration::from_millis(50),
    Duration::from_millis(800),
    Duration::from_secs(10),
);

/// `send` again while DynamoDB answers that a transaction holds the item.
async fn past_transactions<T, E, Fut>(
    send: impl FnMut() -> Fut,
) -> std::result::Result<T, SdkError<E, HttpResponse>>
where
    Fut: std::future::Future<Output = std::result::Result<T, SdkError<E, HttpResponse>>>,
    E: ProvideErrorMetadata,
{
    crate::wait::retry(CONFLICT_BACKOFF, send, |error| {
        error_code(error) == Some("TransactionConflictException")
    })
    .await
}

/// The catalogue table in one region, through that region's client.
#[derive(Debug, Clone, Copy)]
pub struct Replica<'a> {
    pub region: &'a str,
    pub client: &'a Client,
    pub table: &'a str,
}

/// The control item as one region's replica has it (`None`: not seeded there, or not replicated
/// yet), read with a consistent read in that region.
pub async fn describe(replica: Replica<'_>) -> Result<Option<Control>> {
    read_control(replica).await.map_err(|error| {
        aws_error(
            "reading the write-region control item",
            replica.region,
            &error,
        )
    })
}

async fn read_control(
    replica: Replica<'_>,
) -> std::result::Result<
    Option<Control>,
    SdkError<aws_sdk_dynamodb::operation::get_item::GetItemError>,
> {
    let output = replica
        .client
        .get_item()
        .table_name(replica.table)
        .set_key(Some(Control::key()))
        .consistent_read(true)
        .send()
        .await?;
    Ok(output.item().and_then(|item| Control::from_item(item).ok()))
}

/// What [`seed`] found or made.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SeedOutcome {
    pub control: ControlSummary,
    /// False when a control item was there already (left as it was: a move may have happened).
    pub created: bool,
}

/// The control item in reports.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ControlSummary {
    pub write_region: String,
    pub epoch: u64,
    pub state: String,
}

impl From<&Control> for ControlSummary {
    fn from(control: &Control) -> ControlSummary {
        ControlSummary {
            write_region: control.write_region.clone(),
            epoch: control.epoch,
            state: control.state.as_str().into(),
        }
    }
}

/// Creates the control item in the home region (`{home, epoch 1, active}`) unless one exists:
/// a conditional put that never overwrites, so a deploy after a move keeps the moved region.
pub async fn seed(home: Replica<'_>) -> Result<SeedOutcome> {
    let control = Control {
        write_region: home.region.to_string(),
        epoch: 1,
        state: ControlState::Active,
    };
    // Read first: a redeploy then writes nothing (a refused conditional put is still a write
    // request, billed and counted as one).
    if let Some(existing) = describe(home).await? {
        return Ok(SeedOutcome {
            control: ControlSummary::from(&existing),
            created: false,
        });
    }
    let result = home
        .client
        .put_item()
        .table_name(home.table)
        .set_item(Some(control.to_item()))
        .condition_expression("attribute_not_exists(#id)")
        .expression_attribute_names("#id", mysfit::ID)
        .send()
        .await;
    match result {
        Ok(_) => Ok(SeedOutcome {
            control: ControlSummary::from(&control),
            created: true,
        }),
        Err(SdkError::ServiceError(failure))
            if failure.err().is_conditional_check_failed_exception() =>
        {
            let existing = describe(home).await?.ok_or_else(|| Error::Aws {
                operation: "seeding the write-region control item".into(),
                region: home.region.into(),
                message: "the put was refused as existing, but no readable control item is there"
                    .into(),
                fix: format!(
                    "look at item MysfitId={:?} in table {}: fix or delete it, then deploy again",
                    control_item::CONTROL_ID,
                    home.table
                ),
            })?;
            Ok(SeedOutcome {
                control: ControlSummary::from(&existing),
                created: false,
            })
        }
        Err(error) => Err(aws_error(
            "seeding the write-region control item",
            home.region,
            &error,
        )),
    }
}

/// How a move ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum MoveOutcome {
    /// Frozen, drained and switched.
    Moved,
    /// The new region was the active write region already: nothing was changed.
    AlreadyThere,
    /// The old region did not answer; the new one was made active without a drain.
    Forced,
}

/// The figures of one move, for the failover report.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct MoveReport {
    pub from: String,
    pub to: String,
    pub outcome: MoveOutcome,
    pub epoch_before: u64,
    pub epoch_after: u64,
    /// From the freeze until the new region's replica had everything (the replication lag as
    /// seen by this move, plus one look's pause at most).
    pub drain_ms: Option<u64>,
    /// From the freeze until the switch: how long writes were refused.
    pub writes_paused_ms: Option<u64>,
    /// Mysfits whose `Version` was compared between the replicas.
    pub items_compared: usize,
    /// What a forced move may have lost.
    pub warning: Option<String>,
}

impl MoveReport {
    /// One line for the failover's phase list.
    pub fn summary(&self) -> String {
        match self.outcome {
            MoveOutcome::Moved => format!(
                "write region {} -> {} (epoch {}), replica drained in {:.1}s over {} mysfits, writes paused {:.1}s",
                self.from,
                self.to,
                self.epoch_after,
                self.drain_ms.unwrap_or(0) as f64 / 1000.0,
                self.items_compared,
                self.writes_paused_ms.unwrap_or(0) as f64 / 1000.0
            ),
            MoveOutcome::AlreadyThere => format!(
                "write region already {} (epoch {})",
                self.to, self.epoch_after
            ),
            MoveOutcome::Forced => format!(
                "write region {} -> {} (epoch {}) FORCED, without a drain",
                self.from, self.to, self.epoch_after
            ),
        }
    }
}

#[derive(Debug, Clone, Copy, Default)]
pub struct MoveOptions {
    /// Switch even when the old write region does not answer (see the module documentation).
    pub force: bool,
}

/// Moves the write region from `from` to `to` (see the module documentation).
pub async fn move_write_region(
    from: Replica<'_>,
    to: Replica<'_>,
    options: MoveOptions,
) -> Result<MoveReport> {
    move_with_backoff(from, to, options, DRAIN_BACKOFF).await
}

/// [`move_write_region`] with the drain's pauses and limit given.
pub async fn move_with_backoff(
    from: Replica<'_>,
    to: Replica<'_>,
    options: MoveOptions,
    drain: Backoff,
) -> Result<MoveReport> {
    let current = match read_control(from).await {
        Ok(control) => control,
        Err(error) if unreachable(&error) => {
            // Moved already (a failover run again while the old region is down): nothing to do.
            if let Ok(Some(control)) = read_control(to).await
                && control.write_region == to.region
                && control.state == ControlState::Active
            {
                return Ok(MoveReport {
                    from: from.region.into(),
                    to: to.region.into(),
                    outcome: MoveOutcome::AlreadyThere,
                    epoch_before: control.epoch,
                    epoch_after: control.epoch,
                    drain_ms: None,
                    writes_paused_ms: None,
                    items_compared: 0,
                    warning: None,
                });
            }
            if !options.force {
                return Err(Error::Aws {
                    operation: format!("freezing writes to move the write region to {}", to.region),
                    region: from.region.into(),
                    message: format!(
                        "the write region does not answer ({}); nothing was changed",
                        aws_sdk_dynamodb::error::DisplayErrorContext(&error)
                    ),
                    fix: format!(
                        "if {from} is down, run again with --force: {to} becomes the write region \
                         at once, and writes {from} acknowledged but had not replicated yet may be \
                         lost (up to the replication lag)",
                        from = from.region,
                        to = to.region
                    ),
                });
            }
            return force_switch(from, to).await;
        }
        Err(error) => {
            return Err(aws_error(
                "reading the write-region control item",
                from.region,
                &error,
            ));
        }
    };
    let epoch = match &current {
        Some(control) if control.write_region == to.region => {
            if control.state == ControlState::Active {
                return Ok(MoveReport {
                    from: from.region.into(),
                    to: to.region.into(),
                    outcome: MoveOutcome::AlreadyThere,
                    epoch_before: control.epoch,
                    epoch_after: control.epoch,
                    drain_ms: None,
                    writes_paused_ms: None,
                    items_compared: 0,
                    warning: None,
                });
            }
            return Err(Error::config(
                format!(
                    "the write-region control item in {} names {} but is {} (epoch {})",
                    from.region, to.region, control.state, control.epoch
                ),
                format!(
                    "a move to {} did not finish: run it again from the region that was frozen, or look at item {:?} in each region (mysfits status)",
                    to.region,
                    control_item::CONTROL_ID
                ),
            ));
        }
        Some(control) if control.write_region != from.region => {
            return Err(Error::config(
                format!(
                    "the write region is {}, not {} (epoch {})",
                    control.write_region, from.region, control.epoch
                ),
                format!(
                    "move it from {} instead (mysfits status shows the write region)",
                    control.write_region
                ),
            ));
        }
        Some(control) => control.epoch,
        None => 0,
    };
    let frozen_at = Instant::now();
    // A control item already `moving` in `from` is a move that stopped half-way: it resumes.
    if current
        .as_ref()
        .is_none_or(|control| control.state == ControlState::Active)
    {
        freeze(from, current.as_ref()).await?;
    }
    let drained = drain_into(from, to, epoch, drain).await;
    let items_compared = match drained {
        Ok(items) => items,
        Err(behind) => {
            let resumed = resume(from, epoch).await;
            return Err(Error::Timeout {
                what: format!(
                    "{}'s replica to catch up with {} before moving the write region ({})",
                    to.region, from.region, behind
                ),
                waited: frozen_at.elapsed(),
                fix: match resumed {
                    Ok(()) => format!(
                        "nothing was moved and writes go to {} again (epoch {epoch}); check the table's ReplicationLatency from {} to {}, then try again",
                        from.region, from.region, to.region
                    ),
                    Err(error) => format!(
                        "the move was rolled back only partly: writes stay refused until {} is active again ({error}); run the failover again",
                        from.region
                    ),
                },
            });
        }
    };
    let drain_ms = millis(frozen_at.elapsed());
    switch(to, from.region, epoch).await?;
    Ok(MoveReport {
        from: from.region.into(),
        to: to.region.into(),
        outcome: MoveOutcome::Moved,
        epoch_before: epoch,
        epoch_after: epoch + 1,
        drain_ms: Some(drain_ms),
        writes_paused_ms: Some(millis(frozen_at.elapsed())),
        items_compared,
        warning: None,
    })
}

/// Whether a call never reached DynamoDB or DynamoDB could not serve it: the region is down.
fn unreachable<E: aws_sdk_dynamodb::error::ProvideErrorMetadata, R>(
    error: &SdkError<E, R>,
) -> bool {
    match error {
        SdkError::DispatchFailure(_) | SdkError::TimeoutError(_) => true,
        SdkError::ServiceError(_) => matches!(
            error_code(error),
            Some("InternalServerError" | "ServiceUnavailable")
        ),
        _ => false,
    }
}

fn millis(duration: Duration) -> u64 {
    u64::try_from(duration.as_millis()).unwrap_or(u64::MAX)
}

fn text(value: &str) -> AttributeValue {
    AttributeValue::S(value.into())
}

/// Step 1: from here on no write commits in `from` (the services' control check fails).
async fn freeze(from: Replica<'_>, current: Option<&Control>) -> Result<()> {
    let request = from
        .client
        .update_item()
        .table_name(from.table)
        .set_key(Some(Control::key()))
        .update_expression("SET #write_region = :from, #epoch = :epoch, #state = :moving")
        .expression_attribute_names("#write_region", control_item::WRITE_REGION)
        .expression_attribute_names("#epoch", control_item::EPOCH)
        .expression_attribute_names("#state", control_item::STATE)
        .expression_attribute_values(":from", text(from.region))
        .expression_attribute_values(":moving", text(ControlState::Moving.as_str()))
        .expression_attribute_values(
            ":epoch",
            AttributeValue::N(current.map_or(0, |control| control.epoch).to_string()),
        );
    let request = match current {
        Some(_) => request
            .condition_expression("#write_region = :from AND #state = :active AND #epoch = :epoch")
            .expression_attribute_values(":active", text(ControlState::Active.as_str())),
        // Not seeded: the services write in their home region on condition that no control
        // item exists there; creating it frozen stops them.
        None => request.condition_expression("attribute_not_exists(#write_region)"),
    };
    match past_transactions(|| request.clone().send()).await {
        Ok(_) => Ok(()),
        Err(SdkError::ServiceError(failure))
            if failure.err().is_conditional_check_failed_exception() =>
        {
            Err(Error::config(
                format!(
                    "the write-region control item in {} changed while the move started",
                    from.region
                ),
                "another move may be running: wait for it, check `mysfits status`, then try again",
            ))
        }
        Err(error) => Err(aws_error(
            "freezing writes (write-region control item)",
            from.region,
            &error,
        )),
    }
}

/// Step 2: waits until `to` has the frozen control item and every version `from` has. `Ok`:
/// how many mysfits were compared; `Err`: what was still behind at the limit.
async fn drain_into(
    from: Replica<'_>,
    to: Replica<'_>,
    epoch: u64,
    backoff: Backoff,
) -> std::result::Result<usize, String> {
    let mut pacing = Pacing::start(backoff);
    loop {
        // A failed read is no lag to wait out (a missing replica, refused permissions): the
        // drain ends at once and the move is rolled back.
        let behind = match compare(from, to, epoch).await {
            Ok(Ok(items)) => return Ok(items),
            Ok(Err(behind)) => behind,
            Err(error) => return Err(format!("the comparison failed: {error}")),
        };
        if !pacing.pause().await {
            return Err(behind);
        }
    }
}

/// One look: `Ok(Ok(n))` when caught up over n mysfits, `Ok(Err(what))` when not yet.
async fn compare(
    from: Replica<'_>,
    to: Replica<'_>,
    epoch: u64,
) -> Result<std::result::Result<usize, String>> {
    let frozen = Control {
        write_region: from.region.into(),
        epoch,
        state: ControlState::Moving,
    };
    match read_control(to).await {
        Ok(Some(control)) if control == frozen => {}
        Ok(_) => return Ok(Err("the frozen control item has not replicated yet".into())),
        Err(error) => {
            return Err(aws_error(
                "reading the write-region control item",
                to.region,
                &error,
            ));
        }
    }
    let (old, new) = tokio::try_join!(versions(from), versions(to))?;
    let behind = old
        .iter()
        .filter(|(id, version)| new.get(*id) != Some(version))
        .count();
    if behind == 0 {
        Ok(Ok(old.len()))
    } else {
        Ok(Err(format!(
            "{behind} of {} mysfits not replicated yet",
            old.len()
        )))
    }
}

/// Every mysfit's `Version` in one replica (a consistent Scan of the key and version only).
async fn versions(replica: Replica<'_>) -> Result<HashMap<String, u64>> {
    let items = replica
        .client
        .scan()
        .table_name(replica.table)
        .consistent_read(true)
        .projection_expression("#id, #version")
        .expression_attribute_names("#id", mysfit::ID)
        .expression_attribute_names("#version", control_item::VERSION)
        .into_paginator()
        .items()
        .send()
        .collect::<std::result::Result<Vec<_>, _>>()
        .await
        .map_err(|error| aws_error("comparing the replicas (Scan)", replica.region, &error))?;
    Ok(items
        .iter()
        .filter(|item| !control_item::is_control_item(item))
        .filter_map(|item| {
            let AttributeValue::S(id) = item.get(mysfit::ID)? else {
                return None;
            };
            let version = match item.get(control_item::VERSION) {
                Some(AttributeValue::N(number)) => number.parse().unwrap_or(0),
                _ => 0,
            };
            Some((id.clone(), version))
        })
        .collect())
}

/// Step 3: `to` takes writes under the next epoch, if its replica still has the frozen one.
async fn switch(to: Replica<'_>, from_region: &str, epoch: u64) -> Result<()> {
    let next = Control {
        write_region: to.region.into(),
        epoch: epoch + 1,
        state: ControlState::Active,
    };
    let request = to
        .client
        .put_item()
        .table_name(to.table)
        .set_item(Some(next.to_item()))
        .condition_expression("#write_region = :from AND #epoch = :epoch AND #state = :moving")
        .expression_attribute_names("#write_region", control_item::WRITE_REGION)
        .expression_attribute_names("#epoch", control_item::EPOCH)
        .expression_attribute_names("#state", control_item::STATE)
        .expression_attribute_values(":from", text(from_region))
        .expression_attribute_values(":epoch", AttributeValue::N(epoch.to_string()))
        .expression_attribute_values(":moving", text(ControlState::Moving.as_str()));
    let result = past_transactions(|| request.clone().send()).await;
    match result {
        Ok(_) => Ok(()),
        Err(SdkError::ServiceError(failure))
            if failure.err().is_conditional_check_failed_exception() =>
        {
            Err(Error::config(
                format!(
                    "the write-region control item in {} changed during the move (epoch {epoch} expected)",
                    to.region
                ),
                format!(
                    "writes stay refused until one region is active: check `mysfits status`, then run the failover again (or with --force to make {} active)",
                    to.region
                ),
            ))
        }
        Err(error) => Err(aws_error(
            "switching the write region (control item)",
            to.region,
            &error,
        )),
    }
}

/// Rollback of a drain that ran out: `from` active again under the same epoch.
async fn resume(from: Replica<'_>, epoch: u64) -> Result<()> {
    let request = from
        .client
        .update_item()
        .table_name(from.table)
        .set_key(Some(Control::key()))
        .update_expression("SET #state = :active")
        .condition_expression("#write_region = :from AND #epoch = :epoch AND #state = :moving")
        .expression_attribute_names("#write_region", control_item::WRITE_REGION)
        .expression_attribute_names("#epoch", control_item::EPOCH)
        .expression_attribute_names("#state", control_item::STATE)
        .expression_attribute_values(":from", text(from.region))
        .expression_attribute_values(":epoch", AttributeValue::N(epoch.to_string()))
        .expression_attribute_values(":moving", text(ControlState::Moving.as_str()))
        .expression_attribute_values(":active", text(ControlState::Active.as_str()));
    past_transactions(|| request.clone().send())
        .await
        .map(|_| ())
        .map_err(|error| {
            aws_error(
                "resuming writes (write-region control item)",
                from.region,
                &error,
            )
        })
}

/// `from` is down: `to` becomes active under the epoch after the one its replica has.
async fn force_switch(from: Replica<'_>, to: Replica<'_>) -> Result<MoveReport> {
    let seen = describe(to).await?;
    let epoch = seen.as_ref().map_or(0, |control| control.epoch);
    let next = Control {
        write_region: to.region.into(),
        epoch: epoch + 1,
        state: ControlState::Active,
    };
    let request = to
        .client
        .put_item()
        .table_name(to.table)
        .set_item(Some(next.to_item()))
        .expression_attribute_names("#epoch", control_item::EPOCH);
    let request = match seen {
        Some(_) => request
            .condition_expression("#epoch = :epoch")
            .expression_attribute_values(":epoch", AttributeValue::N(epoch.to_string())),
        None => request.condition_expression("attribute_not_exists(#epoch)"),
    };
    past_transactions(|| request.clone().send())
        .await
        .map_err(|error| match &error {
            SdkError::ServiceError(failure)
                if failure.err().is_conditional_check_failed_exception() =>
            {
                Error::config(
                    format!(
                        "the write-region control item in {} changed during the forced move",
                        to.region
                    ),
                    "check `mysfits status`, then run the failover again",
                )
            }
            _ => aws_error(
                "switching the write region (control item)",
                to.region,
                &error,
            ),
        })?;
    Ok(MoveReport {
        from: from.region.into(),
        to: to.region.into(),
        outcome: MoveOutcome::Forced,
        epoch_before: epoch,
        epoch_after: epoch + 1,
        drain_ms: None,
        writes_paused_ms: None,
        items_compared: 0,
        warning: Some(format!(
            "{} did not answer: {} took writes at once, without waiting for replication; writes {} acknowledged and had not replicated yet may be lost (up to the replication lag)",
            from.region, to.region, from.region
        )),
    })
}
