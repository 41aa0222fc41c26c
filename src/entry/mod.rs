//! The global traffic entry point: one address in front of both regions' load balancers.
//!
//! Two modes, chosen in the config file (`entry_point:`):
//! - AWS Global Accelerator (default): accelerator `{app}`, listener TCP 80 and 443, one endpoint
//!   group per app region holding that region's ALB. Traffic dials (0-100 %) say which regions
//!   serve; the control plane is us-west-2 whatever the app's regions are.
//! - Route 53 failover records in a hosted zone the user owns: one alias record per region at the
//!   configured domain, PRIMARY and SECONDARY, each with an HTTP health check of its ALB. Exactly
//!   two regions: a failover pair has two members.
//!
//! Which region serves is not a property of a region but the entry point's [`TrafficSplit`]: a
//! new entry point sends everything to the home region, a failover moves the split, a redeploy
//! keeps it.
//!
//! The lifecycle is [`ensure`] (a deploy step after both app stacks), [`describe`] (status and
//! failover read it), [`shift`] (failover) and [`remove_accelerator`] (teardown, which finds the
//! app's accelerators and health checks by tag, whatever mode the app was deployed in). Each of them
//! tells an endpoint that does not implement the service (moto answers 500 for Global Accelerator)
//! apart from a real failure: the first is reported as [`EntryState::Unavailable`] so that a deploy
//! against an emulator goes on, the second is an error.

pub mod accelerator;
pub mod route53;

use std::collections::BTreeMap;
use std::time::Duration;

use aws_smithy_runtime_api::client::orchestrator::HttpResponse;
use aws_smithy_runtime_api::client::result::SdkError;
use aws_smithy_types::error::metadata::ProvideErrorMetadata;
use serde::Serialize;

use crate::app::RegionName;
use crate::aws::{Patience, RegionClients, aws_error, error_message};
use crate::config::{Config, EntryPointMode, TrafficPolicy};
use crate::error::{Error, Result};
use crate::progress::Events;
use crate::stack::deploy::StackResult;

/// Entry-point control planes answer in well under a second; waiting longer only delays the
/// moment a failover says it has to rely on health-driven routing instead.
pub const CONTROL_PATIENCE: Patience = Patience {
    connect: Duration::from_secs(3),
    attempt: Duration::from_secs(10),
    operation: Duration::from_secs(25),
    max_attempts: 3,
};

/// How long deploy waits for a new or changed entry point to be deployed (Global Accelerator
/// takes a few minutes for a new accelerator; Route 53 changes are in sync in about a minute).
pub const DEPLOY_WAIT_LIMIT: Duration = Duration::from_secs(15 * 60);

/// The Global Accelerator dial of the region that serves and of the one that stands by.
pub const DIAL_SERVING: f32 = 100.0;
pub const DIAL_STANDBY: f32 = 0.0;

/// The entry point's control-plane client and what identifies the app's entry point in it.
#[derive(Debug, Clone)]
pub struct EntryPoint {
    pub app: String,
    /// The endpoint override in effect, if any (an emulator, a dead port in a test).
    pub endpoint: Option<String>,
    pub control: Control,
    /// How a new entry point shares traffic (`entry_point.traffic`); Route 53 records follow it
    /// on every deploy (failover or weighted records).
    pub traffic: TrafficPolicy,
}

#[derive(Debug, Clone)]
pub enum Control {
    GlobalAccelerator(aws_sdk_globalaccelerator::Client),
    Route53 {
        client: aws_sdk_route53::Client,
        hosted_zone_id: String,
        domain: String,
    },
}

/// A Global Accelerator client that does not retry an emulator's "no such service" page.
pub fn global_accelerator_client(
    sdk_config: &aws_config::SdkConfig,
) -> aws_sdk_globalaccelerator::Client {
    let mut builder = aws_sdk_globalaccelerator::config::Builder::from(sdk_config)
        .retry_classifier(crate::aws::retries::RefusedIsFinal)
        .interceptor(crate::aws::retries::RetryNotes);
    if sdk_config.endpoint_url().is_some() {
        builder = builder.retry_classifier(crate::aws::EmulatorLacksService);
    }
    aws_sdk_globalaccelerator::Client::from_conf(builder.build())
}

/// A Route 53 client that does not retry an emulator's "no such service" page.
pub fn route53_client(sdk_config: &aws_config::SdkConfig) -> aws_sdk_route53::Client {
    let mut builder = aws_sdk_route53::config::Builder::from(sdk_config)
        .retry_classifier(crate::aws::retries::RefusedIsFinal)
        .interceptor(crate::aws::retries::RetryNotes);
    if sdk_config.endpoint_url().is_some() {
        builder = builder.retry_classifier(crate::aws::EmulatorLacksService);
    }
    aws_sdk_route53::Client::from_conf(builder.build())
}

impl EntryPoint {
    /// Builds the client for the configured mode, in its control region, with the endpoint
    /// override the config file gives that region (else `--endpoint-url`).
    pub async fn new(config: &Config, patience: Patience) -> EntryPoint {
        let settings = &config.entry_point;
        let sdk_config = crate::aws::sdk_config_for(
            config.profile.as_deref(),
            settings.mode.control_region(),
            settings.control_endpoint.as_deref(),
            patience,
        )
        .await;
        let control = match &settings.mode {
            EntryPointMode::GlobalAccelerator => {
                Control::GlobalAccelerator(global_accelerator_client(&sdk_config))
            }
            EntryPointMode::Route53 {
                hosted_zone_id,
                domain,
            } => Control::Route53 {
                client: route53_client(&sdk_config),
                hosted_zone_id: hosted_zone_id.clone(),
                domain: domain.clone(),
            },
        };
        EntryPoint {
            app: config.app.clone(),
            endpoint: settings.control_endpoint.clone(),
            control,
            traffic: settings.traffic.clone(),
        }
    }

    pub fn mode(&self) -> &'static str {
        match self.control {
            Control::GlobalAccelerator(_) => "global-accelerator",
            Control::Route53 { .. } => "route53",
        }
    }

    fn control_region(&self) -> &'static str {
        match self.control {
            Control::GlobalAccelerator(_) => crate::aws::GLOBAL_ACCELERATOR_REGION,
            Control::Route53 { .. } => crate::config::ROUTE53_CONTROL_REGION,
        }
    }

    /// Sorts a failed control-plane call: an endpoint that does not implement the service, an
    /// endpoint that does not answer, or a real failure.
    pub(crate) fn call_error<E>(
        &self,
        operation: &str,
        error: &SdkError<E, HttpResponse>,
    ) -> CallError
    where
        E: ProvideErrorMetadata + std::error::Error + 'static,
    {
        let region = self.control_region();
        if crate::aws::no_answer(error) {
            return CallError::Unreachable {
                reason: format!(
                    "{operation}: the {} control plane ({region}{}) did not answer: {}",
                    self.mode(),
                    self.endpoint
                        .as_deref()
                        .map(|endpoint| format!(" at {endpoint}"))
                        .unwrap_or_default(),
                    error_message(error)
                ),
                error: Box::new(aws_error(operation, region, error)),
            };
        }
        if let Some(endpoint) = &self.endpoint
            && let Some(answer) = crate::aws::service_missing(error)
        {
            return CallError::Unavailable {
                endpoint: endpoint.clone(),
                reason: format!(
                    "{operation} answered {answer}: the endpoint does not implement {}",
                    self.mode()
                ),
            };
        }
        CallError::failed(aws_error(operation, region, error))
    }
}

/// How a control-plane call failed.
#[derive(Debug)]
pub(crate) enum CallError {
    /// The endpoint answered but does not implement the service.
    Unavailable {
        endpoint: String,
        reason: String,
    },
    /// The endpoint did not answer in time.
    Unreachable {
        reason: String,
        error: Box<Error>,
    },
    Failed(Box<Error>),
}

impl CallError {
    pub(crate) fn failed(error: Error) -> CallError {
        CallError::Failed(Box::new(error))
    }

    /// For operations that must succeed whatever the endpoint is.
    fn into_error(self) -> Error {
        match self {
            CallError::Unavailable { endpoint, reason } => Error::config(
                format!("the entry point's control plane at {endpoint} is unavailable: {reason}"),
                "point the entry point's control endpoint at a service that offers it",
            ),
            CallError::Unreachable { error, .. } | CallError::Failed(error) => *error,
        }
    }

    /// For operations that must succeed (deploy, teardown): only "unavailable" is tolerated.
    fn into_state(self) -> Result<EntryState> {
        match self {
            CallError::Unavailable { endpoint, reason } => {
                Ok(EntryState::Unavailable { endpoint, reason })
            }
            CallError::Unreachable { error, .. } | CallError::Failed(error) => Err(*error),
        }
    }
}

/// One region's load balancer, as the entry point needs it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RegionalLoadBalancer {
    pub region: String,
    /// The app's home region (the first configured): a new entry point sends its traffic here.
    pub home: bool,
    pub arn: String,
    pub dns_name: String,
    /// The load balancer's own hosted zone, needed for Route 53 alias records.
    pub canonical_hosted_zone_id: Option<String>,
}

impl RegionalLoadBalancer {
    /// From a deployed app stack: the ARN from its outputs (or the `LoadBalancer` resource when
    /// the stack reports no outputs), DNS name and hosted zone from ELB itself.
    pub async fn from_app_stack(
        clients: &RegionClients,
        home: bool,
        app: &StackResult,
    ) -> Result<RegionalLoadBalancer> {
        let outputs = app.app_outputs()?;
        let arn = outputs.load_balancer_arn.clone();
        let described = clients
            .elbv2
            .describe_load_balancers()
            .load_balancer_arns(&arn)
            .send()
            .await
            .map_err(|error| aws_error("DescribeLoadBalancers", &clients.region, &error))?;
        let balancer = described.load_balancers().first().ok_or_else(|| {
            Error::config(
                format!("load balancer {arn} of stack {} is gone", app.stack_name),
                "deploy again so the app stack recreates it",
            )
        })?;
        let dns_name = balancer
            .dns_name()
            .map(str::to_string)
            .or(outputs.dns_name)
            .ok_or_else(|| {
                Error::config(
                    format!("load balancer {arn} reports no DNS name"),
                    "wait until it is active, then deploy again",
                )
            })?;
        Ok(RegionalLoadBalancer {
            region: clients.region.clone(),
            home,
            arn,
            dns_name,
            canonical_hosted_zone_id: balancer.canonical_hosted_zone_id().map(str::to_string),
        })
    }
}

/// What the entry point looks like now.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum EntryState {
    Present(EntryDescription),
    /// Not created (yet), or removed.
    Absent,
    /// The endpoint in use does not implement the service (e.g. moto and Global Accelerator).
    Unavailable {
        endpoint: String,
        reason: String,
    },
    /// The control plane did not answer.
    Unreachable {
        reason: String,
    },
}

impl EntryState {
    pub fn description(&self) -> Option<&EntryDescription> {
        match self {
            EntryState::Present(description) => Some(description),
            _ => None,
        }
    }

    /// One line for people.
    pub fn summary(&self, mode: &str) -> String {
        match self {
            EntryState::Present(description) => format!(
                "{mode} {} ({}) {}",
                description.name,
                description.address.as_deref().unwrap_or("no address yet"),
                description.status
            ),
            EntryState::Absent => format!("{mode}: not created (run `mysfits deploy`)"),
            EntryState::Unavailable { endpoint, reason } => {
                format!("{mode}: unavailable at this endpoint ({endpoint}): {reason}")
            }
            EntryState::Unreachable { reason } => format!("{mode}: unreachable: {reason}"),
        }
    }
}

/// An existing entry point.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct EntryDescription {
    pub mode: String,
    /// Accelerator name, or the record name.
    pub name: String,
    /// Accelerator ARN, or the hosted zone id.
    pub id: String,
    /// Where clients connect: the accelerator's DNS name, or the domain.
    pub address: Option<String>,
    pub static_ips: Vec<String>,
    /// DEPLOYED / IN_PROGRESS (Global Accelerator); INSYNC for Route 53.
    pub status: String,
    pub enabled: bool,
    pub regions: Vec<RegionTraffic>,
}

impl EntryDescription {
    /// The one region that receives traffic by configuration, if exactly one does.
    pub fn serving_region(&self) -> Option<&str> {
        self.split().serving_region().map(RegionName::as_str)
    }

    /// The traffic split as configured: dials (Global Accelerator), or 100 for the PRIMARY record
    /// and 0 for the SECONDARY (Route 53).
    pub fn split(&self) -> TrafficSplit {
        TrafficSplit {
            weights: self
                .regions
                .iter()
                .map(|region| (RegionName::new(&region.region), region.weight()))
                .collect(),
        }
    }

    pub fn region(&self, name: &str) -> Option<&RegionTraffic> {
        self.regions.iter().find(|region| region.region == name)
    }
}

/// One region's share of the traffic.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RegionTraffic {
    pub region: String,
    /// ALB ARN (Global Accelerator) or ALB DNS name (Route 53 alias target).
    pub target: String,
    /// Global Accelerator traffic dial, 0-100.
    pub traffic_dial: Option<f32>,
    /// Route 53 failover role: PRIMARY or SECONDARY.
    pub failover: Option<String>,
    /// Route 53 weighted record: its weight (0-100 as mysfits writes it).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub weight: Option<u8>,
    /// What the entry point's own health checking says (HEALTHY, UNHEALTHY, INITIAL, ...).
    pub health: Option<String>,
    pub health_check_id: Option<String>,
}

impl RegionTraffic {
    /// The share of new connections this region is configured to get, 0-100.
    fn weight(&self) -> u8 {
        match (self.traffic_dial, self.weight, self.failover.as_deref()) {
            (Some(dial), _, _) => dial.clamp(0.0, 100.0).round() as u8,
            (None, Some(weight), _) => weight.min(TrafficSplit::ALL),
            (None, None, Some("PRIMARY")) => TrafficSplit::ALL,
            _ => 0,
        }
    }

    /// "dial 100%", "weight 50" or "PRIMARY record".
    pub fn share(&self) -> String {
        match (&self.traffic_dial, &self.weight, &self.failover) {
            (Some(dial), _, _) => format!("dial {dial:.0}%"),
            (None, Some(weight), _) => format!("weight {weight}"),
            (None, None, Some(failover)) => format!("{failover} record"),
            (None, None, None) => "-".to_string(),
        }
    }
}

/// Which regions receive new connections, and how much: a weight of 0-100 per region (the
/// Global Accelerator traffic dial; PRIMARY = 100 and SECONDARY = 0 for Route 53 records).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize)]
pub struct TrafficSplit {
    weights: BTreeMap<RegionName, u8>,
}

impl TrafficSplit {
    /// The weight of the region that takes everything.
    pub const ALL: u8 = 100;

    /// A new entry point: the home region takes everything, every other region stands by.
    pub fn initial(load_balancers: &[RegionalLoadBalancer]) -> TrafficSplit {
        TrafficSplit {
            weights: load_balancers
                .iter()
                .map(|balancer| {
                    let weight = if balancer.home { TrafficSplit::ALL } else { 0 };
                    (RegionName::new(&balancer.region), weight)
                })
                .collect(),
        }
    }

    /// A new entry point under `policy`: [`TrafficSplit::initial`] for active-passive, the
    /// configured weights for active-active (a region the weights do not name: 0).
    pub fn configured(
        policy: &TrafficPolicy,
        load_balancers: &[RegionalLoadBalancer],
    ) -> TrafficSplit {
        match policy {
            TrafficPolicy::ActivePassive => TrafficSplit::initial(load_balancers),
            TrafficPolicy::ActiveActive { weights } => TrafficSplit {
                weights: load_balancers
                    .iter()
                    .map(|balancer| {
                        let weight = weights.get(&balancer.region).copied().unwrap_or(0);
                        (RegionName::new(&balancer.region), weight)
                    })
                    .collect(),
            },
        }
    }

    /// A split from weights per region (0-100 each, larger values are taken as 100).
    pub fn from_weights(weights: impl IntoIterator<Item = (RegionName, u8)>) -> TrafficSplit {
        TrafficSplit {
            weights: weights
                .into_iter()
                .map(|(region, weight)| (region, weight.min(TrafficSplit::ALL)))
                .collect(),
        }
    }

    /// Every region's weight, in name order.
    pub fn weights(&self) -> impl Iterator<Item = (RegionName, u8)> + '_ {
        self.weights
            .iter()
            .map(|(region, weight)| (*region, *weight))
    }

    /// "us-east-1=50 us-west-2=50".
    pub fn text(&self) -> String {
        self.weights()
            .map(|(region, weight)| format!("{region}={weight}"))
            .collect::<Vec<_>>()
            .join(" ")
    }

    /// The weight of `region`; 0 for a region the split does not know.
    pub fn weight(&self, region: &str) -> u8 {
        self.weights
            .get(&RegionName::new(region))
            .copied()
            .unwrap_or(0)
    }

    /// The regions that get new connections, in name order.
    pub fn serving(&self) -> Vec<RegionName> {
        self.weights
            .iter()
            .filter(|(_, weight)| **weight > 0)
            .map(|(region, _)| *region)
            .collect()
    }

    /// The one region that gets new connections, if exactly one does.
    pub fn serving_region(&self) -> Option<RegionName> {
        match self.serving().as_slice() {
            [only] => Some(*only),
            _ => None,
        }
    }

    /// The Global Accelerator dial of `region`.
    pub fn dial(&self, region: &str) -> f32 {
        f32::from(self.weight(region))
    }
}

/// What [`ensure`] did.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct EntryReport {
    pub mode: String,
    pub changed: bool,
    pub actions: Vec<String>,
    #[serde(flatten)]
    pub state: EntryState,
}

impl EntryReport {
    /// One line for the deploy progress view.
    pub fn summary(&self) -> String {
        let state = self.state.summary(&self.mode);
        if self.changed {
            format!("{state} ({})", self.actions.join(", "))
        } else {
            format!("{state} (unchanged)")
        }
    }
}

/// Creates the entry point, or brings it in line with the load balancers, and waits until it is
/// deployed (at most `wait_limit`). Idempotent: an unchanged app writes nothing.
///
/// `load_balancers` holds one entry per app region (from [`RegionalLoadBalancer::from_app_stack`]),
/// exactly one of them home. A new entry point gets [`TrafficSplit::initial`] (all traffic to
/// home); an existing one keeps its current split, so a deploy after a failover does not fail
/// back. Route 53 mode refuses more than two regions.
///
/// An endpoint that does not implement the service (an emulator) gives
/// `Ok` with [`EntryState::Unavailable`], so deploy goes on and says so; any other failure is an
/// error.
pub async fn ensure(
    entry: &EntryPoint,
    load_balancers: &[RegionalLoadBalancer],
    events: &Events,
    step: &str,
    wait_limit: Duration,
) -> Result<EntryReport> {
    check_one_home(load_balancers)?;
    let outcome = match &entry.control {
        Control::GlobalAccelerator(client) => {
            accelerator::ensure(entry, client, load_balancers, events, step, wait_limit).await
        }
        Control::Route53 {
            client,
            hosted_zone_id,
            domain,
        } => {
            route53::ensure(
                entry,
                client,
                hosted_zone_id,
                domain,
                load_balancers,
                events,
                step,
                wait_limit,
            )
            .await
        }
    };
    entry_report(entry, outcome, events, step)
}

/// The part of the entry point that needs no load balancer, made first (Global Accelerator
/// mode: the accelerator and its listener, see [`accelerator::prepare`]); `None` in Route 53 mode
/// (its records need the load balancers) and from an endpoint without the service (said as a
/// note, like [`ensure`]). `creation` is unique to this app's creation (its home registry stack
/// id), so a rerun after a crash finds the accelerator its first try created.
pub async fn prepare(
    entry: &EntryPoint,
    creation: &str,
    events: &Events,
    step: &str,
) -> Result<Option<accelerator::Prepared>> {
    let Control::GlobalAccelerator(client) = &entry.control else {
        return Ok(None);
    };
    match accelerator::prepare(entry, client, creation, events, step).await {
        Ok(prepared) => Ok(Some(prepared)),
        Err(error) => {
            let state = error.into_state()?;
            events.note(step, state.summary(entry.mode()));
            Ok(None)
        }
    }
}

/// [`ensure`] on what [`prepare`] made: the endpoint groups on its listener and the wait (by ARN,
/// never by listing: ListAccelerators may not list an accelerator created a moment ago). Without
/// a prepared accelerator it is [`ensure`].
pub async fn ensure_prepared(
    entry: &EntryPoint,
    prepared: Option<accelerator::Prepared>,
    load_balancers: &[RegionalLoadBalancer],
    events: &Events,
    step: &str,
    wait_limit: Duration,
) -> Result<EntryReport> {
    match (&entry.control, prepared) {
        (Control::GlobalAccelerator(client), Some(prepared)) => {
            check_one_home(load_balancers)?;
            let outcome = accelerator::complete(
                entry,
                client,
                prepared,
                load_balancers,
                events,
                step,
                wait_limit,
            )
            .await;
            entry_report(entry, outcome, events, step)
        }
        _ => ensure(entry, load_balancers, events, step, wait_limit).await,
    }
}

fn check_one_home(load_balancers: &[RegionalLoadBalancer]) -> Result<()> {
    let homes = load_balancers
        .iter()
        .filter(|balancer| balancer.home)
        .count();
    if homes != 1 {
        return Err(Error::internal(format!(
            "the entry point was handed {homes} home load balancers of {} (exactly one expected)",
            load_balancers.len()
        )));
    }
    Ok(())
}

fn entry_report(
    entry: &EntryPoint,
    outcome: std::result::Result<(EntryDescription, Vec<String>), CallError>,
    events: &Events,
    step: &str,
) -> Result<EntryReport> {
    match outcome {
        Ok((description, actions)) => Ok(EntryReport {
            mode: entry.mode().to_string(),
            changed: !actions.is_empty(),
            actions,
            state: EntryState::Present(description),
        }),
        Err(error) => {
            let state = error.into_state()?;
            events.note(step, state.summary(entry.mode()));
            Ok(EntryReport {
                mode: entry.mode().to_string(),
                changed: false,
                actions: Vec::new(),
                state,
            })
        }
    }
}

/// The entry point as it is now. Never fails: what could not be learnt is the state.
pub async fn describe(entry: &EntryPoint) -> EntryState {
    let outcome = match &entry.control {
        Control::GlobalAccelerator(client) => accelerator::describe(entry, client).await,
        Control::Route53 {
            client,
            hosted_zone_id,
            domain,
        } => route53::describe(entry, client, hosted_zone_id, domain).await,
    };
    match outcome {
        Ok(Some(description)) => EntryState::Present(description),
        Ok(None) => EntryState::Absent,
        Err(CallError::Unavailable { endpoint, reason }) => {
            EntryState::Unavailable { endpoint, reason }
        }
        Err(CallError::Unreachable { reason, .. }) => EntryState::Unreachable { reason },
        Err(CallError::Failed(error)) => EntryState::Unreachable {
            reason: error.to_string(),
        },
    }
}

/// Moves the entry point to `split` (every region it names; the others keep their weight): the
/// regions whose weight rises first, then those whose weight falls, so capacity never dips.
///
/// Global Accelerator: one UpdateEndpointGroup per group whose dial changes (dial and endpoints
/// together), the rising ones, one wait until DEPLOYED, then the falling ones and a second wait.
/// Route 53: weighted records get their new weights in one atomic change batch (UPSERT), waited
/// for until INSYNC; failover records can only say "one region takes everything", so another
/// split is refused with the way to get weighted records.
///
/// A control plane that does not answer or lacks the service gives [`ShiftOutcome::Skipped`],
/// as [`shift`] does.
pub async fn set_split(
    entry: &EntryPoint,
    split: &TrafficSplit,
    events: &Events,
    step: &str,
    wait_limit: Duration,
) -> Result<ShiftOutcome> {
    let outcome = match &entry.control {
        Control::GlobalAccelerator(client) => {
            accelerator::set_split(entry, client, split, events, step, wait_limit).await
        }
        Control::Route53 {
            client,
            hosted_zone_id,
            domain,
        } => {
            route53::set_split(
                entry,
                client,
                hosted_zone_id,
                domain,
                split,
                events,
                step,
                wait_limit,
            )
            .await
        }
    };
    match outcome {
        Ok(outcome) => Ok(outcome),
        Err(CallError::Unavailable { endpoint, reason }) => Ok(ShiftOutcome::Skipped {
            reason: format!("{} is unavailable at {endpoint}: {reason}", entry.mode()),
        }),
        Err(CallError::Unreachable { reason, .. }) => Ok(ShiftOutcome::Skipped {
            reason: format!(
                "{reason}; the split was not changed (health-driven routing still moves traffic away from a region that fails)"
            ),
        }),
        Err(CallError::Failed(error)) => Err(*error),
    }
}

/// What [`shift`] did.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "outcome", rename_all = "snake_case")]
pub enum ShiftOutcome {
    /// The control plane now sends new connections to the target region.
    Shifted {
        actions: Vec<String>,
        /// From the first write until the change was deployed (DEPLOYED / INSYNC).
        control_plane_ms: u64,
    },
    /// The target region already serves; nothing was written.
    AlreadyServing,
    /// The control plane could not be used; traffic moves by health alone (if at all).
    Skipped { reason: String },
}

impl ShiftOutcome {
    /// The shift phase's line, for a shift to `target`.
    pub fn summary(&self, target: &str) -> String {
        match self {
            ShiftOutcome::Shifted {
                actions,
                control_plane_ms,
            } => format!(
                "{} (control plane {:.1}s)",
                actions.join(", "),
                *control_plane_ms as f64 / 1000.0
            ),
            ShiftOutcome::AlreadyServing => format!("{target} already receives the traffic"),
            ShiftOutcome::Skipped { .. } => "skipped (see below)".to_string(),
        }
    }
}

/// Makes `to` the one region that gets new connections; `from` is the region that serves now
/// (named in what is reported).
///
/// Global Accelerator: the target's dial goes to 100 % first and every other serving group's
/// (the source's) to 0 % after, each waited for until DEPLOYED, so capacity never dips; groups
/// at 0 % stay untouched. Route 53: the two records swap their PRIMARY/SECONDARY roles in one
/// atomic change batch, waited for until INSYNC.
///
/// A control plane that does not answer is not an error: the outcome says the shift was skipped
/// and why, because during a regional outage health-driven routing (Global Accelerator endpoint
/// health, Route 53 health checks) is what moves traffic.
pub async fn shift(
    entry: &EntryPoint,
    from: &str,
    to: &str,
    events: &Events,
    step: &str,
    wait_limit: Duration,
) -> Result<ShiftOutcome> {
    let outcome = match &entry.control {
        Control::GlobalAccelerator(client) => {
            accelerator::shift(entry, client, to, events, step, wait_limit).await
        }
        Control::Route53 {
            client,
            hosted_zone_id,
            domain,
        } => {
            route53::shift(
                entry,
                client,
                hosted_zone_id,
                domain,
                to,
                events,
                step,
                wait_limit,
            )
            .await
        }
    };
    match outcome {
        Ok(outcome) => Ok(outcome),
        Err(CallError::Unavailable { endpoint, reason }) => Ok(ShiftOutcome::Skipped {
            reason: format!("{} is unavailable at {endpoint}: {reason}", entry.mode()),
        }),
        Err(CallError::Unreachable { reason, .. }) => Ok(ShiftOutcome::Skipped {
            reason: format!(
                "{reason}; {}",
                match entry.control {
                    Control::GlobalAccelerator(_) => format!(
                        "Global Accelerator still routes by endpoint health: with no healthy endpoint in {from} it sends traffic to {to} whatever the dials say"
                    ),
                    Control::Route53 { .. } => format!(
                        "Route 53 still answers by health checks: when {from}'s check fails, DNS answers with {to}"
                    ),
                }
            ),
        }),
        Err(CallError::Failed(error)) => Err(*error),
    }
}

/// Removes one accelerator found by its ARN (teardown finds the app's accelerators by tag, in
/// whatever mode the app was deployed): disable, wait until deployed, endpoint groups, listeners,
/// accelerator. Returns what was removed.
pub async fn remove_accelerator(
    entry: &EntryPoint,
    arn: &str,
    events: &Events,
    step: &str,
    wait_limit: Duration,
) -> Result<Vec<String>> {
    let Control::GlobalAccelerator(client) = &entry.control else {
        return Err(Error::internal(
            "an accelerator can only be removed through a Global Accelerator client",
        ));
    };
    accelerator::remove_by_arn(entry, client, arn, events, step, wait_limit)
        .await
        .map_err(CallError::into_error)
}
