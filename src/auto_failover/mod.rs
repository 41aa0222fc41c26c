//! Failover without a human: CloudWatch alarms in every region, and an ARC Region
//! switch plan (templates/recovery.yaml) that the alarms trigger and that scales the standby's
//! services up to the serving region's size. Traffic itself moves by Global Accelerator's
//! endpoint health (the load balancers' target health), so nothing of ours has to run during an
//! outage; see docs/auto-failover.md for the values and why.
//!
//! This module holds the `auto_failover:` settings (validated once, in [`crate::config`]) and the
//! requests of its stacks: templates/alarms.yaml in every region (after its app stack), and
//! templates/recovery.yaml in the home region (after both alarm stacks).

pub mod status;

use std::collections::BTreeMap;

use serde::Deserialize;

use crate::app::{RegionName, SERVICES};
use crate::aws::RegionClients;
use crate::config::{Config, RegionSettings};
use crate::error::{Error, Result};
use crate::stack::outputs::AppOutputs;
use crate::stack::{StackKind, StackRequest};

/// Parameters of templates/alarms.yaml (one stack per region, after its app stack).
pub mod alarms_parameter {
    pub const APP_NAME: &str = "AppName";
    /// The load balancer as CloudWatch's `LoadBalancer` dimension names it (`app/NAME/ID`).
    pub const LOAD_BALANCER: &str = "LoadBalancerFullName";
    pub const TABLE_NAME: &str = "TableName";
    /// The other region of the pair: the `ReceivingRegion` of the replication latency alarm.
    pub const PEER_REGION: &str = "PeerRegion";
    /// Share of requests (percent) answered 5xx above which a region counts as failing.
    pub const ERROR_RATE_PERCENT: &str = "ErrorRatePercent";
    /// Replication latency (ms) towards the peer region above which the data alarm fires.
    pub const REPLICATION_LATENCY_MS: &str = "ReplicationLatencyMs";

    /// The parameter naming `service`'s target group (`targetgroup/NAME/ID`).
    pub fn target_group(service: &crate::app::Service) -> String {
        let resource = service.target_group_resource;
        format!("{resource}FullName")
    }
}

/// Parameters of templates/recovery.yaml.
pub mod recovery_parameter {
    pub const APP_NAME: &str = "AppName";
    pub const PRIMARY_REGION: &str = "PrimaryRegion";
    pub const STANDBY_REGION: &str = "StandbyRegion";
    pub const ALL: [&str; 3] = [APP_NAME, PRIMARY_REGION, STANDBY_REGION];
}

/// Auto failover's stacks that exist although the config has it off (it was on at an earlier
/// deploy): the recovery stack in the home region, an alarms stack in any region, as (region,
/// region name, kind). Empty when it is on. Asked concurrently; a region that does not answer
/// is an error, as it would be for the deploy.
pub async fn leftover_stacks(
    config: &Config,
    clients: &BTreeMap<RegionName, RegionClients>,
) -> Result<Vec<(RegionName, String, StackKind)>> {
    if config.auto_failover.enabled {
        return Ok(Vec::new());
    }
    let mut wanted = Vec::new();
    for region in config.regions() {
        if region.home {
            wanted.push((region, StackKind::Recovery));
        }
        wanted.push((region, StackKind::Alarms));
    }
    let found =
        futures::future::try_join_all(wanted.into_iter().map(|(region, kind)| async move {
            let Some(clients) = clients.get(&region.key()) else {
                return Ok(None);
            };
            let stack = kind.stack_name(&config.app);
            Ok::<_, Error>(
                crate::teardown::removal::describe_stack(clients, &stack)
                    .await?
                    .map(|_| (region.key(), region.name.clone(), kind)),
            )
        }))
        .await?;
    Ok(found.into_iter().flatten().collect())
}

/// The alarms of templates/alarms.yaml that say a region is failing (5xx rate, a target group
/// with no healthy host), by name: what `drill --kill` watches. The replication latency alarm is
/// about the data, not the region's health, and is left out.
pub fn failure_alarm_names(app: &str) -> Vec<String> {
    [
        "5xx-rate",
        "mysfits-no-healthy-targets",
        "like-no-healthy-targets",
    ]
    .iter()
    .map(|suffix| format!("{app}-{suffix}"))
    .collect()
}

/// The recovery stack's output naming the Region switch plan.
pub const PLAN_ARN_OUTPUT: &str = "PlanArn";

/// The `auto_failover:` section of the config file. Unknown keys are errors.
#[derive(Debug, Default, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AutoFailoverFile {
    pub enabled: Option<bool>,
    pub error_rate_percent: Option<u32>,
    pub replication_latency_ms: Option<u32>,
}

/// Auto failover, validated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AutoFailoverSettings {
    pub enabled: bool,
    /// 1-100: the share of 5xx answers (target and load balancer) over three minutes that makes
    /// a region fail over.
    pub error_rate_percent: u32,
    /// Replication latency (ms) averaged over five minutes above which the data alarm fires.
    pub replication_latency_ms: u32,
}

impl AutoFailoverSettings {
    /// Off; when on, 10 % errors and 60 s of replication latency. 10 %: well above the few
    /// 5xx a deploy or a single bad task causes, far below "the region is down" (~100 %).
    /// 60 s: replication is typically under a second, so a minute behind is an incident.
    pub const DEFAULT: AutoFailoverSettings = AutoFailoverSettings {
        enabled: false,
        error_rate_percent: 10,
        replication_latency_ms: 60_000,
    };

    /// Validates the section against the app's regions (home first).
    pub fn from_file(
        file: Option<&AutoFailoverFile>,
        region_names: &[String],
    ) -> Result<AutoFailoverSettings> {
        let file = file.cloned().unwrap_or_default();
        let settings = AutoFailoverSettings {
            enabled: file
                .enabled
                .unwrap_or(AutoFailoverSettings::DEFAULT.enabled),
            error_rate_percent: file
                .error_rate_percent
                .unwrap_or(AutoFailoverSettings::DEFAULT.error_rate_percent),
            replication_latency_ms: file
                .replication_latency_ms
                .unwrap_or(AutoFailoverSettings::DEFAULT.replication_latency_ms),
        };
        if !(1..=100).contains(&settings.error_rate_percent) {
            return Err(Error::config(
                format!(
                    "auto_failover.error_rate_percent is {}: it must be a whole percentage from 1 to 100",
                    settings.error_rate_percent
                ),
                "write the share of 5xx answers that means a region is failing, e.g. `error_rate_percent: 10`",
            ));
        }
        if !(1_000..=3_600_000).contains(&settings.replication_latency_ms) {
            return Err(Error::config(
                format!(
                    "auto_failover.replication_latency_ms is {}: it must be from 1000 (1 s) to 3600000 (1 h)",
                    settings.replication_latency_ms
                ),
                "replication is typically under a second; e.g. `replication_latency_ms: 60000` alarms when a region is a minute behind",
            ));
        }
        if settings.enabled && region_names.len() != 2 {
            return Err(Error::config(
                format!(
                    "auto_failover takes exactly two regions, {} are configured ({})",
                    region_names.len(),
                    region_names.join(", ")
                ),
                "an ARC Region switch plan pairs exactly two regions: configure two, or set `auto_failover: {enabled: false}` and use `mysfits failover`",
            ));
        }
        Ok(settings)
    }
}

/// The alarms stack of `region`, from what its app stack reported (the load balancer's and the
/// target groups' ARNs, whose last part is the name CloudWatch's dimensions use: the template
/// could `GetAtt ...FullName`, but the app stack is the one that holds those resources).
pub fn alarms_request(
    config: &Config,
    region: &RegionSettings,
    app: &AppOutputs,
) -> Result<StackRequest> {
    let settings = &config.auto_failover;
    let peer = config
        .regions()
        .find(|other| other.name != region.name)
        .unwrap_or(region);
    let mut parameters = BTreeMap::from([
        (alarms_parameter::APP_NAME.to_string(), config.app.clone()),
        (
            alarms_parameter::LOAD_BALANCER.to_string(),
            cloudwatch_name(&app.load_balancer_arn, ":loadbalancer/")?,
        ),
        (
            alarms_parameter::TABLE_NAME.to_string(),
            config.table_name(),
        ),
        (alarms_parameter::PEER_REGION.to_string(), peer.name.clone()),
        (
            alarms_parameter::ERROR_RATE_PERCENT.to_string(),
            settings.error_rate_percent.to_string(),
        ),
        (
            alarms_parameter::REPLICATION_LATENCY_MS.to_string(),
            settings.replication_latency_ms.to_string(),
        ),
    ]);
    for service in &SERVICES {
        let outputs = app.service(service).ok_or_else(|| {
            Error::internal(format!("app outputs of {} lack {}", app.region, service.id))
        })?;
        parameters.insert(
            alarms_parameter::target_group(service),
            format!(
                "targetgroup/{}",
                cloudwatch_name(&outputs.target_group_arn, ":targetgroup/")?
            ),
        );
    }
    let (tag_key, tag_value) = config.app_tag();
    Ok(StackRequest {
        kind: StackKind::Alarms,
        stack_name: StackKind::Alarms.stack_name(&config.app),
        region: region.name.clone(),
        parameters,
        tags: BTreeMap::from([(tag_key.to_string(), tag_value.to_string())]),
    })
}

/// What follows `marker` in an ELB ARN: `app/NAME/ID` for a load balancer, `NAME/ID` for a
/// target group (CloudWatch's `TargetGroup` dimension is `targetgroup/NAME/ID`).
fn cloudwatch_name(arn: &str, marker: &str) -> Result<String> {
    arn.split_once(marker)
        .map(|(_, name)| name.to_string())
        .filter(|name| name.split('/').count() >= 2)
        .ok_or_else(|| {
            Error::config(
                format!("{arn:?} is not an Elastic Load Balancing ARN with {marker:?}"),
                "the app stack reports an unexpected load balancer or target group: run `mysfits deploy` again, or report this",
            )
        })
}

/// The recovery stack (the Region switch plan and its execution role), made in the home region:
/// CloudFormation is regional, the plan itself is global (its ARN has no region; its control
/// plane is in us-east-1, its executions run from every region of the plan).
/// Only for an app with auto failover on, which [`AutoFailoverSettings::from_file`] allows with
/// exactly two regions only.
pub fn recovery_request(config: &Config) -> StackRequest {
    let home = config.home();
    let standby = config.others().next().unwrap_or(home);
    let (tag_key, tag_value) = config.app_tag();
    StackRequest {
        kind: StackKind::Recovery,
        stack_name: StackKind::Recovery.stack_name(&config.app),
        region: home.name.clone(),
        parameters: BTreeMap::from([
            (recovery_parameter::APP_NAME.to_string(), config.app.clone()),
            (
                recovery_parameter::PRIMARY_REGION.to_string(),
                home.name.clone(),
            ),
            (
                recovery_parameter::STANDBY_REGION.to_string(),
                standby.name.clone(),
            ),
        ]),
        tags: BTreeMap::from([(tag_key.to_string(), tag_value.to_string())]),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn regions(names: &[&str]) -> Vec<String> {
        names.iter().map(|name| name.to_string()).collect()
    }

    #[test]
    fn the_watched_alarms_are_the_templates_failure_alarms() {
        let template = crate::stack::StackKind::Alarms.template();
        let named: Vec<&str> = template
            .lines()
            .filter_map(|line| line.trim().strip_prefix("AlarmName: !Sub \"${AppName}-"))
            .map(|rest| rest.trim_end_matches('"'))
            .filter(|suffix| *suffix != "replication-latency")
            .collect();
        let watched = failure_alarm_names("shop");
        assert_eq!(watched.len(), named.len(), "{named:?}");
        for suffix in named {
            assert!(watched.contains(&format!("shop-{suffix}")), "{suffix}");
        }
    }

    #[test]
    fn off_by_default_and_defaults_when_on() {
        let two = regions(&["us-east-1", "us-west-2"]);
        assert_eq!(
            AutoFailoverSettings::from_file(None, &two).expect("valid"),
            AutoFailoverSettings::DEFAULT
        );
        let on = AutoFailoverFile {
            enabled: Some(true),
            ..AutoFailoverFile::default()
        };
        let settings = AutoFailoverSettings::from_file(Some(&on), &two).expect("valid");
        assert!(settings.enabled);
        assert_eq!(settings.error_rate_percent, 10);
        assert_eq!(settings.replication_latency_ms, 60_000);
    }

    #[test]
    fn bounds_and_region_count_are_refused_with_the_fix() {
        let two = regions(&["us-east-1", "us-west-2"]);
        let refused = |file: AutoFailoverFile, names: &[String]| {
            AutoFailoverSettings::from_file(Some(&file), names)
                .expect_err("refused")
                .to_string()
        };
        let zero = refused(
            AutoFailoverFile {
                error_rate_percent: Some(0),
                ..AutoFailoverFile::default()
            },
            &two,
        );
        assert!(
            zero.contains("auto_failover.error_rate_percent is 0"),
            "{zero}"
        );
        let fast = refused(
            AutoFailoverFile {
                replication_latency_ms: Some(10),
                ..AutoFailoverFile::default()
            },
            &two,
        );
        assert!(
            fast.contains("auto_failover.replication_latency_ms is 10"),
            "{fast}"
        );
        let three = refused(
            AutoFailoverFile {
                enabled: Some(true),
                ..AutoFailoverFile::default()
            },
            &regions(&["us-east-1", "us-west-2", "eu-west-1"]),
        );
        assert!(
            three.contains("auto_failover takes exactly two regions, 3 are configured"),
            "{three}"
        );
        // Off, any number of regions is fine.
        assert!(
            AutoFailoverSettings::from_file(
                None,
                &regions(&["us-east-1", "us-west-2", "eu-west-1"])
            )
            .is_ok()
        );
    }

    #[test]
    fn cloudwatch_dimensions_are_the_ends_of_the_elb_arns() {
        assert_eq!(
            cloudwatch_name(
                "arn:aws:elasticloadbalancing:us-east-1:123456789012:loadbalancer/app/demo/50dc6c495c0c9188",
                ":loadbalancer/"
            )
            .expect("load balancer"),
            "app/demo/50dc6c495c0c9188"
        );
        assert_eq!(
            cloudwatch_name(
                "arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/demo-mysfits/73e2d6bc24d8a067",
                ":targetgroup/"
            )
            .expect("target group"),
            "demo-mysfits/73e2d6bc24d8a067"
        );
        assert!(cloudwatch_name("arn:aws:ecs:us-east-1:1:cluster/demo", ":loadbalancer/").is_err());
    }

    #[test]
    fn unknown_keys_are_errors() {
        assert!(serde_yaml::from_str::<AutoFailoverFile>("enable: true\n").is_err());
        assert!(serde_yaml::from_str::<AutoFailoverFile>("enabled: sometimes\n").is_err());
    }
}
