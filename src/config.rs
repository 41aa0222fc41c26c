//! Validated settings: flags, then environment (clap reads both), then `mysfits.yaml`, then defaults.
//!
//! Everything a command needs to know about regions, names and endpoints is decided here once, so
//! the rest of the code never re-reads flags or files and never sees an unchecked value.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::aws::identity::AwsSetup;
use crate::cli::{GlobalArgs, OutputFormat};
use crate::error::{Error, Result};

pub const DEFAULT_APP: &str = "mysfits";
pub const DEFAULT_CONFIG_FILE: &str = "mysfits.yaml";

/// The config file as written by the user. Unknown keys are errors, so a typo never goes unseen.
#[derive(Debug, Default, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConfigFile {
    pub app: Option<String>,
    /// Shorthand for a two-region list: the home region.
    pub region: Option<String>,
    /// Shorthand for a two-region list: the second region.
    pub secondary_region: Option<String>,
    pub endpoint_url: Option<String>,
    /// The app's regions in order (the first is home), or settings per region name.
    #[serde(default)]
    pub regions: RegionsFile,
    /// How users reach the app: `mode: global-accelerator` (default) or `mode: route53`.
    pub entry_point: Option<EntryPointFile>,
    /// Distributed tracing of the services (OpenTelemetry → X-Ray).
    pub tracing: Option<TracingFile>,
    /// Alarms and an ARC Region switch plan that fail over without a human.
    pub auto_failover: Option<crate::auto_failover::AutoFailoverFile>,
}

/// The `tracing:` section of the config file.
#[derive(Debug, Default, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TracingFile {
    pub enabled: Option<bool>,
    pub sample_ratio: Option<f64>,
}

/// Tracing of the services, validated: a collector sidecar in every task and the share of
/// requests that start a trace.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct TracingSettings {
    pub enabled: bool,
    /// 0 to 1, at most [`TracingSettings::RATIO_DECIMALS`] decimals.
    pub sample_ratio: f64,
}

impl TracingSettings {
    /// On, one request in ten: a few traces a minute even at demo traffic, a small X-Ray bill
    /// and CPU cost under load. Requests arriving with a sampled trace header are always traced.
    pub const DEFAULT: TracingSettings = TracingSettings {
        enabled: true,
        sample_ratio: 0.1,
    };
    /// What the template's TraceSampleRatio pattern takes.
    pub const RATIO_DECIMALS: usize = 6;

    fn from_file(file: Option<&TracingFile>) -> Result<TracingSettings> {
        let file = file.cloned().unwrap_or_default();
        let sample_ratio = file
            .sample_ratio
            .unwrap_or(TracingSettings::DEFAULT.sample_ratio);
        let scaled = sample_ratio * 10f64.powi(TracingSettings::RATIO_DECIMALS as i32);
        if !sample_ratio.is_finite() || !(0.0..=1.0).contains(&sample_ratio) {
            return Err(Error::config(
                format!("tracing.sample_ratio is {sample_ratio}: it must be a number from 0 to 1"),
                "write the share of requests to trace, e.g. `sample_ratio: 0.1` for one in ten (0 traces only requests that arrive with a sampled trace header)",
            ));
        }
        if (scaled - scaled.round()).abs() > 1e-6 {
            return Err(Error::config(
                format!(
                    "tracing.sample_ratio is {sample_ratio}: it has more than {} decimals",
                    TracingSettings::RATIO_DECIMALS
                ),
                "round it, e.g. `sample_ratio: 0.000001` is the smallest share above 0",
            ));
        }
        Ok(TracingSettings {
            enabled: file.enabled.unwrap_or(TracingSettings::DEFAULT.enabled),
            sample_ratio,
        })
    }

    /// The ratio as the template's TraceSampleRatio takes it (`0.1`, `1`, `0`: no exponent).
    pub fn sample_ratio_parameter(&self) -> String {
        let text = format!("{:.*}", TracingSettings::RATIO_DECIMALS, self.sample_ratio);
        let text = text.trim_end_matches('0').trim_end_matches('.');
        if text.is_empty() {
            "0".to_string()
        } else {
            text.to_string()
        }
    }
}

/// The `entry_point:` section of the config file.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(tag = "mode", rename_all = "kebab-case", deny_unknown_fields)]
pub enum EntryPointFile {
    /// AWS Global Accelerator: two static anycast IPs, traffic dials per region.
    GlobalAccelerator {
        #[serde(default)]
        traffic: Option<TrafficPolicyName>,
        #[serde(default)]
        weights: Option<BTreeMap<String, serde_yaml::Value>>,
    },
    /// Route 53 failover records (with health checks) in a hosted zone the user owns; weighted
    /// records with `traffic: active-active`.
    #[serde(rename = "route53")]
    Route53 {
        hosted_zone_id: String,
        domain: String,
        #[serde(default)]
        traffic: Option<TrafficPolicyName>,
        #[serde(default)]
        weights: Option<BTreeMap<String, serde_yaml::Value>>,
    },
}

impl EntryPointFile {
    /// No `entry_point:` section: Global Accelerator, active-passive.
    pub const DEFAULT: EntryPointFile = EntryPointFile::GlobalAccelerator {
        traffic: None,
        weights: None,
    };

    fn traffic(
        &self,
    ) -> (
        Option<TrafficPolicyName>,
        Option<&BTreeMap<String, serde_yaml::Value>>,
    ) {
        match self {
            EntryPointFile::GlobalAccelerator { traffic, weights }
            | EntryPointFile::Route53 {
                traffic, weights, ..
            } => (*traffic, weights.as_ref()),
        }
    }
}

/// `entry_point.traffic:` as written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum TrafficPolicyName {
    ActivePassive,
    ActiveActive,
}

/// How a new entry point shares traffic among the app's regions, validated.
///
/// - `ActivePassive` (default): the home region takes everything, every other region stands by
///   (Global Accelerator dials 100 and 0; Route 53 PRIMARY and SECONDARY failover records).
/// - `ActiveActive`: every region serves, with a weight of 0-100 each (default 100 for every
///   region). With Global Accelerator the weight is the region's traffic dial: the share of the
///   traffic that *arrives at that region's endpoint group* (clients go to the nearest healthy
///   group first) which the group keeps; the rest goes on to the other groups. It is not a
///   share of all traffic: 100 everywhere means every region serves the clients nearest to it.
///   With Route 53 the weights are weighted records: each region gets weight / sum of all
///   weights of the DNS answers.
///
/// Only a new entry point starts with this split: a redeploy keeps the split that failover or
/// `mysfits traffic set` left (Route 53 records that change from failover to weighted, or back,
///  start with it too).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum TrafficPolicy {
    #[default]
    ActivePassive,
    ActiveActive {
        /// One weight per app region, 0-100, at least one above 0.
        weights: BTreeMap<String, u8>,
    },
}

impl TrafficPolicy {
    pub fn label(&self) -> &'static str {
        match self {
            TrafficPolicy::ActivePassive => "active-passive",
            TrafficPolicy::ActiveActive { .. } => "active-active",
        }
    }

    pub fn is_active_active(&self) -> bool {
        matches!(self, TrafficPolicy::ActiveActive { .. })
    }
}

/// The weight every region gets under `traffic: active-active` when `weights:` does not name it:
/// each region keeps all the traffic that reaches it.
pub const DEFAULT_ACTIVE_WEIGHT: u8 = 100;

/// The global entry point in front of both regions' load balancers, resolved and validated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EntryPointSettings {
    pub mode: EntryPointMode,
    pub traffic: TrafficPolicy,
    /// Where the entry point's control-plane calls go: the config file's endpoint for the control
    /// region (us-west-2 for Global Accelerator, us-east-1 for Route 53), else the shared one.
    pub control_endpoint: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EntryPointMode {
    GlobalAccelerator,
    Route53 {
        /// The zone id without the `/hostedzone/` prefix.
        hosted_zone_id: String,
        /// Lower case, without the trailing dot.
        domain: String,
    },
}

impl EntryPointMode {
    pub fn label(&self) -> &'static str {
        match self {
            EntryPointMode::GlobalAccelerator => "global-accelerator",
            EntryPointMode::Route53 { .. } => "route53",
        }
    }

    /// The region whose API endpoint manages this kind of entry point.
    pub fn control_region(&self) -> &'static str {
        match self {
            EntryPointMode::GlobalAccelerator => crate::app::region::GLOBAL_ACCELERATOR_REGION,
            EntryPointMode::Route53 { .. } => ROUTE53_CONTROL_REGION,
        }
    }
}

/// The tag (value: the app's name) on everything mysfits creates, directly or through its stacks.
pub const APP_TAG: &str = "mysfits:app";

/// Route 53's control plane (and its request signing region) is us-east-1.
pub const ROUTE53_CONTROL_REGION: &str = "us-east-1";

/// The `regions:` key: either the app's regions as a list, in order, the first being home
/// (`- us-east-1` or `- name: us-east-1` with settings), or (the older form) a map of settings per
/// region name, the regions themselves coming from `region:` / `secondary_region:` or the flags.
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub enum RegionsFile {
    List(Vec<RegionEntryFile>),
    Settings(BTreeMap<String, RegionFile>),
}

impl Default for RegionsFile {
    fn default() -> Self {
        RegionsFile::Settings(BTreeMap::new())
    }
}

/// One item of the `regions:` list.
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub enum RegionEntryFile {
    Name(String),
    Settings(RegionFile),
}

impl RegionsFile {
    /// The listed regions in order (empty for the map form).
    fn listed(&self) -> Result<Vec<String>> {
        let RegionsFile::List(entries) = self else {
            return Ok(Vec::new());
        };
        entries
            .iter()
            .map(|entry| match entry {
                RegionEntryFile::Name(name) => Ok(name.clone()),
                RegionEntryFile::Settings(settings) => settings.name.clone().ok_or_else(|| {
                    Error::config(
                        "an entry of the regions: list has settings but no name",
                        "write each entry as `- us-east-1` or `- name: us-east-1` followed by its settings",
                    )
                }),
            })
            .collect()
    }

    /// Settings per region name, whichever form the file uses.
    fn settings(&self) -> BTreeMap<String, RegionFile> {
        match self {
            RegionsFile::Settings(map) => map.clone(),
            RegionsFile::List(entries) => entries
                .iter()
                .filter_map(|entry| match entry {
                    RegionEntryFile::Name(_) => None,
                    RegionEntryFile::Settings(settings) => {
                        Some((settings.name.clone()?, settings.clone()))
                    }
                })
                .collect(),
        }
    }
}

/// Per-region settings in the config file.
#[derive(Debug, Default, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RegionFile {
    /// The region, in the list form of `regions:` (the map form has it as the key).
    pub name: Option<String>,
    /// Where this region's AWS API calls go (an emulator, or a dead port in a test).
    pub endpoint_url: Option<String>,
    /// Registry that stands in for this region's ECR registry (a local OCI registry).
    pub registry_url: Option<String>,
    /// Two availability zones to use instead of the first two the region lists.
    pub availability_zones: Option<Vec<String>>,
    /// Tasks per service in this region.
    pub desired_count: Option<u32>,
    /// Upper bound for auto scaling in this region.
    pub max_count: Option<u32>,
    /// ACM certificate (of this region) for HTTPS on the load balancer; HTTP redirects to it.
    pub certificate_arn: Option<String>,
}

/// One region of the app, fully resolved.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RegionSettings {
    pub name: String,
    /// The first region of the list: the table is created here, the dashboard lives here.
    pub home: bool,
    pub endpoint_url: Option<String>,
    pub registry_url: Option<String>,
    pub availability_zones: Option<[String; 2]>,
    pub desired_count: u32,
    pub max_count: u32,
    pub certificate_arn: Option<String>,
}

impl RegionSettings {
    /// This region as a `Copy` key for plan steps and per-region maps.
    pub fn key(&self) -> crate::app::RegionName {
        crate::app::RegionName::new(&self.name)
    }
}

/// Everything a command needs, validated.
#[derive(Debug, Clone)]
pub struct Config {
    pub app: String,
    /// The app's regions, home first; at least one, no duplicates.
    pub regions: Vec<RegionSettings>,
    pub profile: Option<String>,
    pub output: OutputFormat,
    pub assume_yes: bool,
    pub config_file: Option<PathBuf>,
    pub entry_point: EntryPointSettings,
    pub tracing: TracingSettings,
    pub auto_failover: crate::auto_failover::AutoFailoverSettings,
    /// Where the region list came from (`--regions`, `AWS_REGION`, the config file, ...).
    pub region_source: String,
    /// Where the SDK will find credentials, and the profile in effect.
    pub aws: AwsSetup,
    /// `-v` count: 1 and more print the identity and settings before the work.
    pub verbose: u8,
}

impl Config {
    /// Builds the config from parsed flags (which already include the environment) and the
    /// config file (`--config`, or `./mysfits.yaml` when it exists).
    pub async fn load(global: &GlobalArgs) -> Result<Config> {
        let (file, path) = match &global.config {
            Some(path) => (read_config_file(path)?, Some(path.clone())),
            None => {
                let default = PathBuf::from(DEFAULT_CONFIG_FILE);
                if default.exists() {
                    (read_config_file(&default)?, Some(default))
                } else {
                    (ConfigFile::default(), None)
                }
            }
        };
        let named_profile = global.profile.as_deref().map(|name| {
            let source = if std::env::var("AWS_PROFILE").is_ok_and(|value| value == name) {
                "AWS_PROFILE"
            } else {
                "--profile"
            };
            (name, source)
        });
        let aws = AwsSetup::read(named_profile).await?;
        let ambient = ambient_region(|key| std::env::var(key).ok(), &aws);
        let mut config = Config::resolve_with(global, file, aws, ambient)?;
        config.config_file = path;
        Ok(config)
    }

    /// Merges flags over the file and checks every value, without looking at the environment's
    /// AWS settings.
    pub fn resolve(global: &GlobalArgs, file: ConfigFile) -> Result<Config> {
        Config::resolve_with(global, file, AwsSetup::default(), None)
    }

    /// [`Config::resolve`] with the AWS setup and the region the AWS environment names
    /// (`AWS_REGION`, ...), which serves when neither flags nor the file name one.
    pub fn resolve_with(
        global: &GlobalArgs,
        file: ConfigFile,
        aws: AwsSetup,
        ambient: Option<AmbientRegion>,
    ) -> Result<Config> {
        let app = global
            .app
            .clone()
            .or(file.app.clone())
            .unwrap_or_else(|| DEFAULT_APP.to_string());
        validate_app_name(&app)?;

        let (names, region_source) = region_names(global, &file, ambient)?;
        let shared_endpoint = global.endpoint_url.clone().or(file.endpoint_url.clone());
        if let Some(endpoint) = &shared_endpoint {
            validate_url(endpoint, "--endpoint-url")?;
        }
        let entry_file = file.entry_point.clone().unwrap_or(EntryPointFile::DEFAULT);
        if matches!(entry_file, EntryPointFile::Route53 { .. }) && names.len() > 2 {
            return Err(Error::config(
                format!(
                    "entry_point mode route53 takes at most two regions, {} are configured ({})",
                    names.len(),
                    names.join(", ")
                ),
                "Route 53 failover records pair one primary with one secondary: use two regions, or `mode: global-accelerator` for more",
            ));
        }
        let per_region = file.regions.settings();
        warn_about_unused_settings(&per_region, &names, entry_control_region(&entry_file));

        let regions = names
            .iter()
            .enumerate()
            .map(|(index, name)| {
                let region_file = per_region.get(name).cloned().unwrap_or_default();
                region_settings(name, index == 0, region_file, shared_endpoint.as_deref())
            })
            .collect::<Result<Vec<_>>>()?;
        let entry_point =
            entry_point_settings(entry_file, &names, &per_region, shared_endpoint.as_deref())?;
        let tracing = TracingSettings::from_file(file.tracing.as_ref())?;
        let auto_failover = crate::auto_failover::AutoFailoverSettings::from_file(
            file.auto_failover.as_ref(),
            &names,
        )?;

        Ok(Config {
            app,
            regions,
            profile: global.profile.clone(),
            output: global.output,
            assume_yes: global.yes,
            config_file: None,
            entry_point,
            tracing,
            auto_failover,
            region_source,
            aws,
            verbose: global.verbose,
        })
    }

    /// Every region of the app, home first.
    pub fn regions(&self) -> impl DoubleEndedIterator<Item = &RegionSettings> + Clone {
        self.regions.iter()
    }

    /// The home region: the table's origin and the dashboard's region.
    pub fn home(&self) -> &RegionSettings {
        &self.regions[0]
    }

    /// Every region but home, in the configured order.
    pub fn others(&self) -> impl DoubleEndedIterator<Item = &RegionSettings> + Clone {
        self.regions.iter().skip(1)
    }

    /// The region of this name, if it is one of the app's.
    pub fn region_named(&self, name: &str) -> Option<&RegionSettings> {
        self.regions.iter().find(|region| region.name == name)
    }

    /// The region of this key, if it is one of the app's.
    pub fn region_of(&self, key: crate::app::RegionName) -> Option<&RegionSettings> {
        self.region_named(key.as_str())
    }

    /// The region names, home first.
    pub fn region_names(&self) -> Vec<&str> {
        self.regions
            .iter()
            .map(|region| region.name.as_str())
            .collect()
    }

    /// The DynamoDB table (and its replicas) that holds the catalogue.
    pub fn table_name(&self) -> String {
        crate::app::names::table(&self.app)
    }

    /// Every app stack carries this tag, so that status and teardown can find what is ours.
    pub fn app_tag(&self) -> (&'static str, &str) {
        (APP_TAG, &self.app)
    }
}

/// A region named by the AWS environment rather than by mysfits' own flags or file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AmbientRegion {
    pub name: String,
    /// `AWS_REGION`, `AWS_DEFAULT_REGION` or the profile it came from.
    pub source: String,
}

/// The region the AWS tools would use: `AWS_REGION`, then `AWS_DEFAULT_REGION` (the AWS CLI's),
/// then the `region` of the profile in effect.
pub fn ambient_region(
    env: impl Fn(&str) -> Option<String>,
    aws: &AwsSetup,
) -> Option<AmbientRegion> {
    let from_env = ["AWS_REGION", "AWS_DEFAULT_REGION"]
        .into_iter()
        .find_map(|key| {
            env(key)
                .filter(|value| !value.is_empty())
                .map(|name| AmbientRegion {
                    name,
                    source: key.to_string(),
                })
        });
    from_env.or_else(|| {
        aws.profile_region.clone().map(|name| AmbientRegion {
            name,
            source: format!("profile {} in {}", aws.profile, aws.config_path.display()),
        })
    })
}

/// The flag's name, or its environment variable's when that holds the same value (clap reads
/// both into one field, so this is the best guess at what the user wrote).
fn flag_or_env(flag: &str, variable: &str, value: &str) -> String {
    if std::env::var(variable).is_ok_and(|set| set == value) {
        variable.to_string()
    } else {
        flag.to_string()
    }
}

/// The app's regions, home first, and where they came from: `--regions`, else `--region`
/// (+ `--secondary-region`), else the file's `regions:` list, else its `region:`
/// (+ `secondary_region:`), else the AWS environment's region (+ the secondary one). Flags
/// replace the file's list; the file's settings per region still apply by name.
fn region_names(
    global: &GlobalArgs,
    file: &ConfigFile,
    ambient: Option<AmbientRegion>,
) -> Result<(Vec<String>, String)> {
    let listed = file.regions.listed()?;
    if !listed.is_empty() && (file.region.is_some() || file.secondary_region.is_some()) {
        return Err(Error::config(
            "the config file has both a regions: list and region:/secondary_region:",
            "keep one: the regions: list (first is home), or region: and secondary_region:",
        ));
    }
    let secondary = || {
        global
            .secondary_region
            .clone()
            .or(file.secondary_region.clone())
    };
    let (names, source, label) = if !global.regions.is_empty() {
        let label = flag_or_env("--regions", "MYSFITS_REGIONS", &global.regions.join(","));
        (global.regions.clone(), "--regions", label)
    } else if let Some(home) = &global.region {
        let second = global.secondary_region.clone().or_else(|| {
            listed
                .is_empty()
                .then(|| file.secondary_region.clone())
                .flatten()
        });
        let label = flag_or_env("--region", "MYSFITS_REGION", home);
        let names = std::iter::once(home.clone()).chain(second).collect();
        (names, "--region", label)
    } else if !listed.is_empty() {
        (
            listed,
            "regions",
            "the config file's regions: list".to_string(),
        )
    } else if let Some(home) = &file.region {
        let names = std::iter::once(home.clone()).chain(secondary()).collect();
        (names, "region", "the config file's region:".to_string())
    } else if let Some(ambient) = ambient {
        let names = std::iter::once(ambient.name).chain(secondary()).collect();
        (names, "ambient", ambient.source)
    } else {
        return Err(Error::config(
            "no region given",
            "pass --region (e.g. --region us-east-1 --secondary-region us-west-2) or --regions us-east-1,us-west-2, set MYSFITS_REGION or AWS_REGION, list `regions:` in mysfits.yaml, or give the AWS profile a region (`aws configure set region us-east-1`)",
        ));
    };
    for (index, name) in names.iter().enumerate() {
        let flag = match (source, index) {
            ("--region", 0) => "--region",
            ("ambient", 0) => label.as_str(),
            ("--region" | "ambient", _) => "--secondary-region",
            ("region", 0) => "region",
            ("region", _) => "secondary_region",
            (other, _) => other,
        };
        validate_region(name, flag)?;
        if names[..index].contains(name) {
            return Err(Error::config(
                format!("region {name} is given twice ({flag})"),
                "list each region once; the second one is the disaster-recovery region (e.g. us-west-2 for us-east-1)",
            ));
        }
    }
    Ok((names, label))
}

/// The region whose endpoint manages the entry point (its settings are not an app region's).
fn entry_control_region(entry: &EntryPointFile) -> &'static str {
    match entry {
        EntryPointFile::Route53 { .. } => ROUTE53_CONTROL_REGION,
        EntryPointFile::GlobalAccelerator { .. } => crate::app::region::GLOBAL_ACCELERATOR_REGION,
    }
}

fn warn_about_unused_settings(
    per_region: &BTreeMap<String, RegionFile>,
    names: &[String],
    control_region: &str,
) {
    for configured in per_region.keys() {
        if !names.contains(configured) && configured != control_region {
            tracing::warn!(
                "the config file has settings for {configured}, which is not one of the app's regions ({})",
                names.join(", ")
            );
        }
    }
}

fn region_settings(
    name: &str,
    home: bool,
    file: RegionFile,
    shared_endpoint: Option<&str>,
) -> Result<RegionSettings> {
    let key = format!("regions.{name}");
    if file.name.as_deref().is_some_and(|named| named != name) {
        return Err(Error::config(
            format!("{key} has a `name:` of its own"),
            "write `name:` only in the list form of regions: (`- name: us-east-1`); in the map form the key is the name",
        ));
    }
    if let Some(endpoint) = &file.endpoint_url {
        validate_url(endpoint, &format!("{key}.endpoint_url"))?;
    }
    if let Some(registry) = &file.registry_url {
        validate_url(registry, &format!("{key}.registry_url"))?;
    }
    let availability_zones = match file.availability_zones {
        None => None,
        Some(zones) => match <[String; 2]>::try_from(zones) {
            Ok([first, second])
                if first != second && first.starts_with(name) && second.starts_with(name) =>
            {
                Some([first, second])
            }
            Ok(_) | Err(_) => {
                return Err(Error::config(
                    format!("{key}.availability_zones must list two different zones of {name}"),
                    format!(
                        "write e.g. `availability_zones: [{name}a, {name}b]`, or remove the key"
                    ),
                ));
            }
        },
    };
    // Home serves from the start; the others stand by with one task per service.
    let desired_count = file.desired_count.unwrap_or(if home { 2 } else { 1 });
    let max_count = file.max_count.unwrap_or(desired_count.max(1) * 4);
    if desired_count > max_count || max_count == 0 || max_count > 100 {
        return Err(Error::config(
            format!("{key}: desired_count {desired_count} and max_count {max_count} do not fit"),
            "use 0 <= desired_count <= max_count <= 100, with max_count at least 1",
        ));
    }
    if let Some(arn) = &file.certificate_arn {
        validate_certificate_arn(arn, name, &format!("{key}.certificate_arn"))?;
    }
    Ok(RegionSettings {
        name: name.to_string(),
        home,
        endpoint_url: file.endpoint_url.or(shared_endpoint.map(str::to_string)),
        registry_url: file.registry_url,
        availability_zones,
        desired_count,
        max_count,
        certificate_arn: file.certificate_arn,
    })
}

fn entry_point_settings(
    file: EntryPointFile,
    names: &[String],
    regions: &BTreeMap<String, RegionFile>,
    shared_endpoint: Option<&str>,
) -> Result<EntryPointSettings> {
    let (traffic, weights) = file.traffic();
    let traffic = traffic_policy(traffic, weights, names)?;
    let mode = match file {
        EntryPointFile::GlobalAccelerator { .. } => EntryPointMode::GlobalAccelerator,
        EntryPointFile::Route53 {
            hosted_zone_id,
            domain,
            ..
        } => EntryPointMode::Route53 {
            hosted_zone_id: validate_hosted_zone_id(&hosted_zone_id)?,
            domain: validate_domain(&domain)?,
        },
    };
    let control_endpoint = regions
        .get(mode.control_region())
        .and_then(|region| region.endpoint_url.clone())
        .or(shared_endpoint.map(str::to_string));
    Ok(EntryPointSettings {
        mode,
        traffic,
        control_endpoint,
    })
}

/// `entry_point.traffic` and `entry_point.weights`, checked against the app's regions.
fn traffic_policy(
    traffic: Option<TrafficPolicyName>,
    weights: Option<&BTreeMap<String, serde_yaml::Value>>,
    names: &[String],
) -> Result<TrafficPolicy> {
    match (traffic.unwrap_or(TrafficPolicyName::ActivePassive), weights) {
        (TrafficPolicyName::ActivePassive, None) => Ok(TrafficPolicy::ActivePassive),
        (TrafficPolicyName::ActivePassive, Some(_)) => Err(Error::config(
            "entry_point.weights is set, but entry_point.traffic is active-passive (the home region takes everything)",
            "add `traffic: active-active` to entry_point:, or remove weights:",
        )),
        (TrafficPolicyName::ActiveActive, weights) => {
            let mut chosen: BTreeMap<String, u8> = names
                .iter()
                .map(|name| (name.clone(), DEFAULT_ACTIVE_WEIGHT))
                .collect();
            for (region, value) in weights.into_iter().flatten() {
                if !names.contains(region) {
                    return Err(Error::config(
                        format!(
                            "entry_point.weights names {region}, which is not one of the app's regions ({})",
                            names.join(", ")
                        ),
                        "give weights only to the app's regions (regions: in mysfits.yaml, or --regions)",
                    ));
                }
                let weight = value
                    .as_u64()
                    .filter(|weight| *weight <= u64::from(crate::entry::TrafficSplit::ALL))
                    .and_then(|weight| u8::try_from(weight).ok())
                    .ok_or_else(|| {
                        Error::config(
                            format!(
                                "entry_point.weights.{region} is {}: a weight is a whole number from 0 to 100",
                                yaml_value_text(value)
                            ),
                            format!("write e.g. `{region}: 50`"),
                        )
                    })?;
                chosen.insert(region.clone(), weight);
            }
            if chosen.values().all(|weight| *weight == 0) {
                return Err(Error::config(
                    "entry_point.weights are all 0: no region would take traffic",
                    "give at least one region a weight above 0",
                ));
            }
            Ok(TrafficPolicy::ActiveActive { weights: chosen })
        }
    }
}

/// A YAML scalar as the user wrote it, for an error message.
fn yaml_value_text(value: &serde_yaml::Value) -> String {
    serde_yaml::to_string(value)
        .map(|text| text.trim().to_string())
        .unwrap_or_else(|_| format!("{value:?}"))
}

/// Accepts `Z0123456789ABC` or `/hostedzone/Z0123456789ABC` (as the console and CLI show it).
fn validate_hosted_zone_id(id: &str) -> Result<String> {
    let bare = id.trim().trim_start_matches("/hostedzone/");
    let valid = (1..=32).contains(&bare.len())
        && bare
            .chars()
            .all(|character| character.is_ascii_uppercase() || character.is_ascii_digit());
    if valid {
        Ok(bare.to_string())
    } else {
        Err(Error::config(
            format!("entry_point.hosted_zone_id {id:?} is not a Route 53 hosted zone id"),
            "copy the id from `aws route53 list-hosted-zones` (e.g. Z0123456789ABCDEFGHIJ)",
        ))
    }
}

/// A DNS name the app answers on, e.g. `mysfits.example.com` (the zone's apex works too).
fn validate_domain(domain: &str) -> Result<String> {
    let lower = domain.trim().trim_end_matches('.').to_ascii_lowercase();
    let labels: Vec<&str> = lower.split('.').collect();
    let valid = lower.len() <= 253
        && labels.len() >= 2
        && labels.iter().all(|label| {
            (1..=63).contains(&label.len())
                && !label.starts_with('-')
                && !label.ends_with('-')
                && label.chars().all(|character| {
                    character.is_ascii_lowercase() || character.is_ascii_digit() || character == '-'
                })
        });
    if valid {
        Ok(lower)
    } else {
        Err(Error::config(
            format!("entry_point.domain {domain:?} is not a DNS name"),
            "use a name inside the hosted zone, e.g. `domain: mysfits.example.com`",
        ))
    }
}

fn read_config_file(path: &Path) -> Result<ConfigFile> {
    let text = std::fs::read_to_string(path).map_err(|error| {
        Error::io(
            format!("could not read config file {}", path.display()),
            error,
        )
    })?;
    serde_yaml::from_str(&text).map_err(|error| {
        Error::config(
            format!("config file {} is not valid: {error}", path.display()),
            "see examples/mysfits.yaml for the keys and their meaning",
        )
    })
}

/// App names become parts of stack, repository, table and load balancer names, which limit length
/// and characters; the tightest is the ALB name (32 characters). ECR repository names
/// (`{app}/mysfits-service`) allow a separator only between letters or digits
/// (`[a-z0-9]+(?:[._-][a-z0-9]+)*` per path component), so `--` is refused too.
pub fn validate_app_name(app: &str) -> Result<()> {
    let valid = (2..=21).contains(&app.len())
        && app.starts_with(|character: char| character.is_ascii_lowercase())
        && app.chars().all(|character| {
            character.is_ascii_lowercase() || character.is_ascii_digit() || character == '-'
        })
        && !app.ends_with('-')
        && !app.contains("--");
    if valid {
        Ok(())
    } else {
        Err(Error::config(
            format!("app name {app:?} is not usable in AWS resource names"),
            "use 2-21 characters: lowercase letters, digits and single '-' between them, starting with a letter (e.g. --app mysfits)",
        ))
    }
}

/// Region names look like `us-east-1`, `eu-central-2`, `us-gov-west-1`.
pub fn validate_region(region: &str, flag: &str) -> Result<()> {
    let parts: Vec<&str> = region.split('-').collect();
    let valid = parts.len() >= 3
        && parts[0].len() == 2
        && parts[..parts.len() - 1].iter().all(|part| {
            !part.is_empty() && part.chars().all(|character| character.is_ascii_lowercase())
        })
        && parts[parts.len() - 1].parse::<u8>().is_ok();
    if valid {
        Ok(())
    } else {
        Err(Error::config(
            format!("{flag} {region:?} is not an AWS region name"),
            "use a region code such as us-east-1 or eu-west-2 (`aws ec2 describe-regions` lists them)",
        ))
    }
}

/// An ACM certificate ARN of `region`: a load balancer takes only certificates of its own region
/// (unlike CloudFront, which wants us-east-1), the usual mistake with a second region.
fn validate_certificate_arn(arn: &str, region: &str, key: &str) -> Result<()> {
    let parts: Vec<&str> = arn.splitn(6, ':').collect();
    let well_formed = matches!(
        parts.as_slice(),
        ["arn", partition, "acm", _, account, resource]
            if partition.starts_with("aws")
                && account.len() == 12
                && account.bytes().all(|byte| byte.is_ascii_digit())
                && resource.strip_prefix("certificate/").is_some_and(|id| !id.is_empty())
    );
    if !well_formed {
        return Err(Error::config(
            format!("{key} {arn:?} is not an ACM certificate ARN"),
            format!(
                "write it as arn:aws:acm:{region}:ACCOUNT:certificate/ID (`aws acm list-certificates --region {region}`)"
            ),
        ));
    }
    if parts[3] != region {
        return Err(Error::config(
            format!(
                "{key} is a certificate of {}, but a load balancer in {region} can only use certificates of {region}",
                parts[3]
            ),
            format!("request or import the certificate in ACM in {region} and use that ARN"),
        ));
    }
    Ok(())
}

fn validate_url(url: &str, key: &str) -> Result<()> {
    let rest = url
        .strip_prefix("http://")
        .or_else(|| url.strip_prefix("https://"));
    match rest {
        Some(host) if !host.is_empty() && !host.starts_with('/') => Ok(()),
        _ => Err(Error::config(
            format!("{key} {url:?} is not an http(s) URL"),
            "write it as http://HOST:PORT or https://HOST",
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn global(region: Option<&str>, secondary: Option<&str>) -> GlobalArgs {
        GlobalArgs {
            region: region.map(str::to_string),
            secondary_region: secondary.map(str::to_string),
            ..GlobalArgs::default()
        }
    }

    #[test]
    fn flags_win_over_the_file_and_endpoints_resolve_per_region() {
        let file: ConfigFile = serde_yaml::from_str(
            "region: eu-west-1\nsecondary_region: eu-central-1\nendpoint_url: http://127.0.0.1:1\n\
             regions:\n  us-west-2:\n    endpoint_url: http://127.0.0.1:2\n    desired_count: 3\n",
        )
        .expect("valid yaml");
        let config =
            Config::resolve(&global(Some("us-east-1"), Some("us-west-2")), file).expect("valid");
        assert_eq!(config.home().name, "us-east-1");
        assert_eq!(
            config.home().endpoint_url.as_deref(),
            Some("http://127.0.0.1:1")
        );
        let secondary = config.region_named("us-west-2").expect("secondary");
        assert_eq!(
            secondary.endpoint_url.as_deref(),
            Some("http://127.0.0.1:2")
        );
        assert_eq!((secondary.desired_count, secondary.max_count), (3, 12));
        assert_eq!(config.table_name(), "mysfits-mysfits");
    }

    #[test]
    fn the_entry_point_defaults_to_global_accelerator_with_the_us_west_2_endpoint() {
        let file: ConfigFile = serde_yaml::from_str(
            "endpoint_url: http://127.0.0.1:1\nregions:\n  us-west-2:\n    endpoint_url: http://127.0.0.1:2\n",
        )
        .expect("valid yaml");
        let config = Config::resolve(&global(Some("eu-west-1"), None), file).expect("valid");
        assert_eq!(config.entry_point.mode, EntryPointMode::GlobalAccelerator);
        assert_eq!(
            config.entry_point.control_endpoint.as_deref(),
            Some("http://127.0.0.1:2")
        );

        let file: ConfigFile = serde_yaml::from_str(
            "endpoint_url: http://127.0.0.1:1\nentry_point:\n  mode: route53\n  hosted_zone_id: /hostedzone/Z0ABC\n  domain: Mysfits.Example.com.\n",
        )
        .expect("valid yaml");
        let config = Config::resolve(&global(Some("eu-west-1"), None), file).expect("valid");
        assert_eq!(
            config.entry_point.mode,
            EntryPointMode::Route53 {
                hosted_zone_id: "Z0ABC".into(),
                domain: "mysfits.example.com".into()
            }
        );
        assert_eq!(
            config.entry_point.control_endpoint.as_deref(),
            Some("http://127.0.0.1:1")
        );
        assert!(
            serde_yaml::from_str::<ConfigFile>(
                "entry_point:\n  mode: route53\n  hosted_zone_id: Z1\n  domain: a.example.com\n  ttl: 5\n"
            )
            .is_err(),
            "unknown keys in entry_point are errors"
        );
    }

    fn traffic_of(yaml: &str) -> Result<TrafficPolicy> {
        let file: ConfigFile = serde_yaml::from_str(yaml)
            .map_err(|error| Error::config(format!("not valid: {error}"), "fix the yaml"))?;
        Config::resolve(&global(Some("us-east-1"), Some("us-west-2")), file)
            .map(|config| config.entry_point.traffic)
    }

    #[test]
    fn traffic_is_active_passive_by_default_and_active_active_weighs_every_region() {
        assert_eq!(
            traffic_of("app: demo\n").expect("valid"),
            TrafficPolicy::ActivePassive
        );
        assert_eq!(
            traffic_of("entry_point:\n  mode: global-accelerator\n").expect("valid"),
            TrafficPolicy::ActivePassive
        );
        let weights = |pairs: &[(&str, u8)]| TrafficPolicy::ActiveActive {
            weights: pairs
                .iter()
                .map(|(region, weight)| (region.to_string(), *weight))
                .collect(),
        };
        assert_eq!(
            traffic_of("entry_point:\n  mode: global-accelerator\n  traffic: active-active\n")
                .expect("valid"),
            weights(&[("us-east-1", 100), ("us-west-2", 100)]),
            "a region without a weight keeps all the traffic that reaches it"
        );
        assert_eq!(
            traffic_of(
                "entry_point:\n  mode: route53\n  hosted_zone_id: Z1\n  domain: a.example.com\n  traffic: active-active\n  weights: {us-east-1: 70, us-west-2: 0}\n"
            )
            .expect("valid"),
            weights(&[("us-east-1", 70), ("us-west-2", 0)])
        );
    }

    #[test]
    fn bad_traffic_weights_name_the_setting_and_the_fix() {
        let error = |yaml: &str| traffic_of(yaml).expect_err("refused").to_string();
        let active = "entry_point:\n  mode: global-accelerator\n  traffic: active-active\n";
        let stranger = error(&format!("{active}  weights: {{eu-west-1: 50}}\n"));
        assert!(
            stranger.contains("entry_point.weights names eu-west-1, which is not one of the app's regions (us-east-1, us-west-2)"),
            "{stranger}"
        );
        for (written, shown) in [
            ("101", "101"),
            ("-1", "-1"),
            ("50.5", "50.5"),
            ("half", "half"),
        ] {
            let message = error(&format!("{active}  weights: {{us-west-2: {written}}}\n"));
            assert!(
                message.contains(&format!(
                    "entry_point.weights.us-west-2 is {shown}: a weight is a whole number from 0 to 100"
                )),
                "{message}"
            );
        }
        let all_zero = error(&format!(
            "{active}  weights: {{us-east-1: 0, us-west-2: 0}}\n"
        ));
        assert!(all_zero.contains("are all 0"), "{all_zero}");
        let passive =
            error("entry_point:\n  mode: global-accelerator\n  weights: {us-east-1: 50}\n");
        assert!(
            passive.contains("add `traffic: active-active`"),
            "{passive}"
        );
        let unknown = error("entry_point:\n  mode: global-accelerator\n  traffic: active-ish\n");
        assert!(unknown.contains("active-ish"), "{unknown}");
    }

    fn tracing_of(yaml: &str) -> Result<TracingSettings> {
        let file: ConfigFile = serde_yaml::from_str(yaml).expect("valid yaml");
        Config::resolve(&global(Some("us-east-1"), None), file).map(|config| config.tracing)
    }

    #[test]
    fn tracing_defaults_on_at_one_in_ten_and_the_ratio_reaches_the_template_without_exponent() {
        let default = tracing_of("app: a1\n").expect("valid");
        assert_eq!(default, TracingSettings::DEFAULT);
        assert_eq!(default.sample_ratio_parameter(), "0.1");
        let off = tracing_of("tracing:\n  enabled: false\n").expect("valid");
        assert!(!off.enabled);
        for (ratio, parameter) in [
            ("0", "0"),
            ("1", "1"),
            ("1.0", "1"),
            ("0.25", "0.25"),
            ("0.000001", "0.000001"),
            ("1e-6", "0.000001"),
        ] {
            let tracing = tracing_of(&format!("tracing:\n  sample_ratio: {ratio}\n")).expect(ratio);
            assert_eq!(tracing.sample_ratio_parameter(), parameter, "{ratio}");
        }
    }

    #[test]
    fn a_sample_ratio_out_of_range_or_too_fine_is_refused_with_the_fix() {
        for (ratio, says) in [
            (
                "1.5",
                "tracing.sample_ratio is 1.5: it must be a number from 0 to 1",
            ),
            (
                "-0.1",
                "tracing.sample_ratio is -0.1: it must be a number from 0 to 1",
            ),
            (
                ".nan",
                "tracing.sample_ratio is NaN: it must be a number from 0 to 1",
            ),
            (
                "0.1234567",
                "tracing.sample_ratio is 0.1234567: it has more than 6 decimals",
            ),
        ] {
            let error = tracing_of(&format!("tracing:\n  sample_ratio: {ratio}\n"))
                .expect_err(ratio)
                .to_string();
            assert!(error.contains(says), "{ratio}: {error}");
            assert!(error.contains("fix:"), "{ratio}: {error}");
        }
        assert!(
            serde_yaml::from_str::<ConfigFile>("tracing:\n  enable: true\n").is_err(),
            "unknown keys in tracing are errors"
        );
        assert!(
            serde_yaml::from_str::<ConfigFile>("tracing:\n  sample_ratio: often\n").is_err(),
            "a ratio that is not a number is an error"
        );
    }

    #[test]
    fn bad_values_name_the_setting_and_the_fix() {
        let same = Config::resolve(
            &global(Some("us-east-1"), Some("us-east-1")),
            ConfigFile::default(),
        );
        assert!(
            same.expect_err("same region")
                .to_string()
                .contains("region us-east-1 is given twice (--secondary-region)")
        );
        let bad_region = Config::resolve(&global(Some("useast1"), None), ConfigFile::default());
        assert!(
            bad_region
                .expect_err("bad region")
                .to_string()
                .contains("not an AWS region name")
        );
        let missing = Config::resolve(&global(None, None), ConfigFile::default());
        assert!(
            missing
                .expect_err("missing")
                .to_string()
                .contains("pass --region")
        );
        assert!(validate_app_name("Mysfits").is_err());
        // ECR: a separator must be followed by a letter or digit.
        assert!(validate_app_name("my--app").is_err());
        assert!(validate_app_name("my-app-2").is_ok());
        assert!(validate_app_name("a-very-long-application-name").is_err());
        assert!(serde_yaml::from_str::<ConfigFile>("regoin: us-east-1").is_err());
        let unknown_mode = serde_yaml::from_str::<ConfigFile>("entry_point:\n  mode: cloudfront\n");
        assert!(unknown_mode.is_err());
        let bad_zone: ConfigFile = serde_yaml::from_str(
            "entry_point:\n  mode: route53\n  hosted_zone_id: not a zone\n  domain: a.example.com\n",
        )
        .expect("yaml");
        assert!(
            Config::resolve(&global(Some("us-east-1"), None), bad_zone)
                .expect_err("zone")
                .to_string()
                .contains("entry_point.hosted_zone_id")
        );
        let bad_domain: ConfigFile = serde_yaml::from_str(
            "entry_point:\n  mode: route53\n  hosted_zone_id: Z1\n  domain: -bad-.example.com\n",
        )
        .expect("yaml");
        assert!(
            Config::resolve(&global(Some("us-east-1"), None), bad_domain)
                .expect_err("domain")
                .to_string()
                .contains("entry_point.domain")
        );
        let zones: ConfigFile = serde_yaml::from_str(
            "regions:\n  us-east-1:\n    availability_zones: [us-west-2a, us-west-2b]\n",
        )
        .expect("yaml");
        let wrong_zones = Config::resolve(&global(Some("us-east-1"), None), zones);
        assert!(
            wrong_zones
                .expect_err("zones")
                .to_string()
                .contains("two different zones of us-east-1")
        );
    }

    #[test]
    fn a_certificate_must_be_an_acm_arn_of_its_own_region() {
        let resolve = |arn: &str| {
            let file: ConfigFile = serde_yaml::from_str(&format!(
                "regions:\n  us-west-2:\n    certificate_arn: \"{arn}\"\n"
            ))
            .expect("yaml");
            Config::resolve(&global(Some("us-east-1"), Some("us-west-2")), file)
        };
        let good = "arn:aws:acm:us-west-2:123456789012:certificate/0a1b2c3d";
        let config = resolve(good).expect("a certificate of us-west-2");
        assert_eq!(
            config
                .region_named("us-west-2")
                .expect("secondary")
                .certificate_arn
                .as_deref(),
            Some(good)
        );
        assert_eq!(config.home().certificate_arn, None);
        let other_region = resolve("arn:aws:acm:us-east-1:123456789012:certificate/0a1b2c3d")
            .expect_err("a certificate of another region")
            .to_string();
        assert!(
            other_region
                .contains("regions.us-west-2.certificate_arn is a certificate of us-east-1")
                && other_region.contains("in ACM in us-west-2"),
            "{other_region}"
        );
        for bad in [
            "arn:aws:iam::123456789012:server-certificate/x",
            "arn:aws:acm:us-west-2:1234:certificate/x",
            "arn:aws:acm:us-west-2:123456789012:certificate/",
            "0a1b2c3d",
        ] {
            let error = resolve(bad).expect_err(bad).to_string();
            assert!(
                error.contains("is not an ACM certificate ARN"),
                "{bad}: {error}"
            );
        }
    }

    #[test]
    fn regions_come_as_a_list_home_first_with_settings_by_name() {
        let file: ConfigFile = serde_yaml::from_str(
            "regions:\n  - us-east-1\n  - name: us-west-2\n    desired_count: 3\n  - eu-west-1\n",
        )
        .expect("valid yaml");
        let config = Config::resolve(&GlobalArgs::default(), file).expect("valid");
        assert_eq!(
            config.region_names(),
            ["us-east-1", "us-west-2", "eu-west-1"]
        );
        assert!(config.home().home && config.home().name == "us-east-1");
        assert_eq!(
            config
                .others()
                .map(|region| region.home)
                .collect::<Vec<_>>(),
            [false, false]
        );
        let counts: Vec<u32> = config
            .regions()
            .map(|region| region.desired_count)
            .collect();
        assert_eq!(counts, [2, 3, 1], "home 2, others 1 unless set");
        assert_eq!(
            config.region_named("eu-west-1").map(|r| r.max_count),
            Some(4)
        );
        assert!(config.region_named("ap-south-1").is_none());
    }

    #[test]
    fn flags_replace_the_list_and_keep_its_settings() {
        let file: ConfigFile = serde_yaml::from_str(
            "regions:\n  - us-east-1\n  - name: eu-west-1\n    desired_count: 3\n",
        )
        .expect("valid yaml");
        let global = GlobalArgs {
            regions: vec!["eu-west-1".into(), "us-east-1".into(), "us-west-2".into()],
            ..GlobalArgs::default()
        };
        let config = Config::resolve(&global, file.clone()).expect("valid");
        assert_eq!(
            config.region_names(),
            ["eu-west-1", "us-east-1", "us-west-2"]
        );
        assert_eq!(config.home().desired_count, 3);
        let shorthand =
            Config::resolve(&self::global(Some("us-west-2"), None), file).expect("valid");
        assert_eq!(
            shorthand.region_names(),
            ["us-west-2"],
            "--region replaces the list"
        );
    }

    #[test]
    fn bad_region_lists_name_the_problem() {
        let resolve = |yaml: &str, global: GlobalArgs| {
            let file: ConfigFile = serde_yaml::from_str(yaml).expect("yaml");
            Config::resolve(&global, file).expect_err(yaml).to_string()
        };
        let twice = resolve(
            "regions: [us-east-1, us-west-2, us-east-1]\n",
            GlobalArgs::default(),
        );
        assert!(
            twice.contains("region us-east-1 is given twice (regions)"),
            "{twice}"
        );
        let both = resolve(
            "region: us-east-1\nregions: [us-west-2]\n",
            GlobalArgs::default(),
        );
        assert!(both.contains("both a regions: list and region:"), "{both}");
        let route53 = resolve(
            "regions: [us-east-1, us-west-2, eu-west-1]\nentry_point:\n  mode: route53\n  hosted_zone_id: Z1\n  domain: a.example.com\n",
            GlobalArgs::default(),
        );
        assert!(
            route53.contains("route53 takes at most two regions, 3 are configured"),
            "{route53}"
        );
        let nameless = resolve("regions:\n  - desired_count: 1\n", GlobalArgs::default());
        assert!(nameless.contains("has settings but no name"), "{nameless}");
        let named_in_map = resolve(
            "regions:\n  us-east-1:\n    name: us-west-2\n",
            global(Some("us-east-1"), None),
        );
        assert!(
            named_in_map.contains("regions.us-east-1 has a `name:`"),
            "{named_in_map}"
        );
        let bad = resolve("regions: [us-east-1, uswest2]\n", GlobalArgs::default());
        assert!(
            bad.contains("regions \"uswest2\" is not an AWS region name"),
            "{bad}"
        );
    }
}
