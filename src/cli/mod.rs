//! Command-line definitions (clap). No IO here: [`crate::config`] validates what is parsed.
//! Parse with [`parse`] / [`try_parse_from`] (not clap's own `Cli::parse`): they add each command's
//! global options ([`global`]) and its examples ([`examples`]).

mod examples;
mod global;

pub use global::{command, parse, try_parse_from};

use crate::app::{SERVICES, Service, services};
use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum, ValueHint};

#[derive(Debug, Parser)]
#[command(
    name = "mysfits",
    version,
    about = "Deploy and operate the Mythical Mysfits app on AWS in several regions",
    long_about = "Deploy the Mythical Mysfits adoption app to AWS (ECS Fargate behind ALBs, DynamoDB \
                  global table, ECR images built without Docker) in a home region and one or more \
                  disaster-recovery regions, then fail over, watch and tear it down.",
    after_help = examples::MYSFITS
)]
pub struct Cli {
    #[command(flatten)]
    pub global: GlobalArgs,

    #[command(subcommand)]
    pub command: Command,
}

/// Global options: given before the command or after it, each offered only by the commands it means
/// something to ([`global`]). Most also come from the environment or the config file; the flag
/// wins over the environment, which wins over the file.
#[derive(Debug, Args, Clone, Default)]
#[command(next_help_heading = "Global options")]
pub struct GlobalArgs {
    /// Home AWS region (e.g. us-east-1): the table's origin and the dashboard's region
    #[arg(
        long,
        env = "MYSFITS_REGION",
        conflicts_with = "regions",
        value_parser = RegionNameParser,
        hide_possible_values = true
    )]
    pub region: Option<String>,

    /// Disaster-recovery region (e.g. us-west-2); shorthand for a second entry of --regions
    #[arg(
        long,
        env = "MYSFITS_SECONDARY_REGION",
        conflicts_with = "regions",
        value_name = "REGION",
        value_parser = RegionNameParser,
        hide_possible_values = true
    )]
    pub secondary_region: Option<String>,

    /// All the app's regions, home first (e.g. us-east-1,us-west-2,eu-west-1)
    #[arg(
        long,
        env = "MYSFITS_REGIONS",
        value_delimiter = ',',
        value_name = "REGION,...",
        value_parser = RegionNameParser,
        hide_possible_values = true
    )]
    pub regions: Vec<String>,

    /// Application name, used as the prefix of every resource name [default: mysfits]
    #[arg(long, env = "MYSFITS_APP", value_name = "NAME")]
    pub app: Option<String>,

    /// AWS profile from ~/.aws/config
    #[arg(long, env = "AWS_PROFILE", value_name = "NAME")]
    pub profile: Option<String>,

    /// Send every AWS call to this endpoint (an emulator); per-region endpoints go in the config file
    #[arg(long, env = "AWS_ENDPOINT_URL", value_name = "URL", value_hint = ValueHint::Url)]
    pub endpoint_url: Option<String>,

    /// Config file [default: ./mysfits.yaml if present]
    #[arg(long, env = "MYSFITS_CONFIG", value_name = "FILE", value_hint = ValueHint::FilePath)]
    pub config: Option<PathBuf>,

    /// Result format on stdout; progress always goes to stderr
    #[arg(long, value_enum, value_name = "FORMAT", default_value_t = OutputFormat::Text)]
    pub output: OutputFormat,

    /// Answer yes to the confirmation prompt (teardown, dashboard delete)
    #[arg(long, short = 'y')]
    pub yes: bool,

    /// More detail on stderr (-v, -vv)
    #[arg(long, short = 'v', action = clap::ArgAction::Count)]
    pub verbose: u8,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, Default)]
pub enum OutputFormat {
    #[default]
    Text,
    Json,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Create or update the whole app in every region
    #[command(after_help = examples::DEPLOY)]
    Deploy(DeployArgs),
    /// Show what deploy would do: the steps and each stack's change set (exit 0 no changes, 1 changes, 2 error)
    #[command(after_help = examples::PLAN)]
    Plan,
    /// Every region side by side: stacks, services, targets, replicas, replication, images, traffic
    #[command(after_help = examples::STATUS)]
    Status,
    /// Move traffic to another region after checking it is ready
    #[command(after_help = examples::FAILOVER)]
    Failover(FailoverArgs),
    /// Show the entry point's traffic split between regions, or move it (`traffic set`)
    #[command(after_help = examples::TRAFFIC)]
    Traffic(TrafficArgs),
    /// The multi-region CloudWatch dashboard
    #[command(subcommand, after_help = examples::DASHBOARD)]
    Dashboard(DashboardCommand),
    /// Remove everything the app created in every region and verify nothing is left
    #[command(after_help = examples::TEARDOWN)]
    Teardown(TeardownArgs),
    /// Build the service images (without Docker) and optionally push them to ECR
    #[command(after_help = examples::BUILD)]
    Build(BuildArgs),
    /// Recent log lines of a service, from every region merged by time
    #[command(after_help = examples::LOGS)]
    Logs(LogsArgs),
    /// Every region's X-Ray service map side by side, and the slowest traces as waterfalls
    #[command(after_help = examples::TRACES)]
    Traces(TracesArgs),
    /// Fail over and back under bounded load; report errors, latency and time to recover
    #[command(after_help = examples::DRILL)]
    Drill(DrillArgs),
    /// Print the least-privilege IAM policy the operator running mysfits needs
    #[command(after_help = examples::IAM_POLICY)]
    IamPolicy,
    /// Print a shell completion script
    #[command(after_help = examples::COMPLETIONS)]
    Completions(CompletionsArgs),
}

#[derive(Debug, Args, Default)]
pub struct DeployArgs {
    /// Print the plan and the change sets without changing anything
    #[arg(long)]
    pub dry_run: bool,
    /// Skip loading the seed catalogue into the table
    #[arg(long)]
    pub no_seed: bool,
    /// Use prebuilt static service binaries from this directory instead of running cargo
    #[arg(long, value_name = "DIR", env = "MYSFITS_PREBUILT_BINARIES", value_hint = ValueHint::DirPath)]
    pub prebuilt_binaries: Option<PathBuf>,
    /// Build the service binaries from this mysfits source checkout (needs Rust)
    #[arg(long, value_name = "DIR")]
    pub from_source: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct FailoverArgs {
    /// Region to move traffic to [default: with two regions the one not serving now; with more,
    /// the home region (failback), and required while home serves]
    #[arg(long, value_name = "REGION", value_parser = RegionNameParser, hide_possible_values = true)]
    pub to: Option<String>,
    /// Check readiness and print what would happen, change nothing
    #[arg(long)]
    pub dry_run: bool,
    /// Go on even if the target region is not ready
    #[arg(long)]
    pub force: bool,
    /// Most replication latency (source to target, CloudWatch ReplicationLatency) that counts as ready
    #[arg(long, value_name = "MS", default_value_t = 5000)]
    pub max_replication_latency_ms: u32,
    /// Longest wait, in seconds, for the scale-up, the entry point change and the verification
    #[arg(long, value_name = "SECONDS", default_value_t = 600)]
    pub timeout: u64,
    /// Probe this URL after the shift instead of the entry point (e.g. your own domain in front of it)
    #[arg(long, value_name = "URL", value_hint = ValueHint::Url)]
    pub verify_url: Option<String>,
}

/// `mysfits traffic`: the split as it is; `mysfits traffic set`: move it.
#[derive(Debug, Args)]
pub struct TrafficArgs {
    #[command(subcommand)]
    pub command: Option<TrafficCommand>,
}

#[derive(Debug, Subcommand)]
pub enum TrafficCommand {
    /// Give regions new weights, after the same readiness checks and scale-up as failover for
    /// every region whose share rises
    #[command(after_help = examples::TRAFFIC_SET)]
    Set(TrafficSetArgs),
}

#[derive(Debug, Args)]
pub struct TrafficSetArgs {
    /// A region's new weight, 0-100 (regions not named keep theirs). Global Accelerator: the
    /// region's traffic dial, the share of the traffic arriving at that region that it keeps (the
    /// rest goes to the other regions); Route 53: weighted records, each region gets weight / sum
    #[arg(value_name = "REGION=WEIGHT", required = true, num_args = 1..)]
    pub weights: Vec<String>,
    /// Check readiness and print what would happen, change nothing
    #[arg(long)]
    pub dry_run: bool,
    /// Go on even if a region whose share rises is not ready
    #[arg(long)]
    pub force: bool,
    /// Most replication latency (CloudWatch ReplicationLatency) that counts as ready
    #[arg(long, value_name = "MS", default_value_t = 5000)]
    pub max_replication_latency_ms: u32,
    /// Longest wait, in seconds, for the scale-up, the entry point change and the verification
    #[arg(long, value_name = "SECONDS", default_value_t = 600)]
    pub timeout: u64,
    /// Probe this URL after the change instead of the entry point (e.g. your own domain in front of it)
    #[arg(long, value_name = "URL", value_hint = ValueHint::Url)]
    pub verify_url: Option<String>,
}

#[derive(Debug, Subcommand)]
pub enum DashboardCommand {
    /// Create or update the dashboard
    #[command(after_help = examples::DASHBOARD_CREATE)]
    Create,
    /// Print the current values of the key metrics of every region
    #[command(after_help = examples::DASHBOARD_SHOW)]
    Show(DashboardShowArgs),
    /// Delete the dashboard
    #[command(after_help = examples::DASHBOARD_DELETE)]
    Delete,
}

#[derive(Debug, Args)]
pub struct DashboardShowArgs {
    /// How many minutes back to show (1 to 1440)
    #[arg(long, default_value_t = 60, value_parser = clap::value_parser!(u32).range(1..=1440))]
    pub minutes: u32,
}

#[derive(Debug, Args)]
pub struct TeardownArgs {
    /// Keep the DynamoDB table and its data
    #[arg(long)]
    pub keep_data: bool,
}

#[derive(Debug, Args)]
pub struct BuildArgs {
    /// Push the images to ECR in every region
    #[arg(long)]
    pub push: bool,
    /// Use prebuilt static service binaries from this directory instead of running cargo
    #[arg(long, value_name = "DIR", env = "MYSFITS_PREBUILT_BINARIES", value_hint = ValueHint::DirPath)]
    pub prebuilt_binaries: Option<PathBuf>,
    /// Build the service binaries from this mysfits source checkout (needs Rust)
    #[arg(long, value_name = "DIR")]
    pub from_source: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct LogsArgs {
    /// Which service's log group to read
    #[arg(long, default_value = SERVICES[0].name, value_parser = service_parser())]
    pub service: &'static Service,
    /// Read only these of the app's regions (e.g. --in eu-west-1) [default: every region]
    #[arg(
        long = "in",
        id = "in_regions",
        value_name = "REGION,...",
        value_delimiter = ',',
        value_parser = RegionNameParser,
        hide_possible_values = true
    )]
    pub in_regions: Vec<String>,
    /// Keep printing new lines until Ctrl-C
    #[arg(long)]
    pub follow: bool,
    /// The service's tracing collector's lines (the OpenTelemetry sidecar) instead of its own
    #[arg(long)]
    pub collector: bool,
    /// Start this many minutes back
    #[arg(long, default_value_t = 10, value_parser = clap::value_parser!(u32).range(1..=10080))]
    pub since: u32,
    /// Print at most this many of the most recent lines before following
    #[arg(long, default_value_t = 200, value_parser = clap::value_parser!(u32).range(1..=10000))]
    pub limit: u32,
    /// Seconds between polls with --follow
    #[arg(long, default_value_t = 2, value_parser = clap::value_parser!(u64).range(1..=60))]
    pub interval: u64,
}

#[derive(Debug, Args)]
pub struct TracesArgs {
    /// How far back to look: a number and a unit, s, m or h (1m to 6h)
    #[arg(long, value_name = "DURATION", default_value = "15m", value_parser = crate::traces::Since::parse)]
    pub since: crate::traces::Since,
    /// Also show this many of the slowest traces (1 to 20), across regions, as waterfalls
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..=crate::traces::MOST_SLOWEST as i64))]
    pub slowest: Option<u32>,
}

#[derive(Debug, Args)]
pub struct DrillArgs {
    /// Region to fail over to and back from [default: the first region after home; with --kill,
    /// the first region other than the killed one]
    #[arg(long, value_name = "REGION", value_parser = RegionNameParser, hide_possible_values = true)]
    pub to: Option<String>,
    /// After the planned round trip, make REGION fail for real (its ECS services to 0, their
    /// autoscaling held) and measure, without acting, how the entry point's health checking
    /// moves traffic away and back; the services are given back afterwards, also on error
    #[arg(long, value_name = "REGION", value_parser = RegionNameParser, hide_possible_values = true)]
    pub kill: Option<String>,
    /// How long to keep the load running, in seconds [default: 60; with --kill 600, as health
    /// checks take minutes to move traffic]
    #[arg(long, value_name = "SECONDS")]
    pub duration: Option<u64>,
    /// Requests per second to send
    #[arg(long, default_value_t = 20)]
    pub rate: u32,
    /// Send the load here instead of the app's global entry point
    #[arg(long, value_name = "URL", value_hint = ValueHint::Url)]
    pub target: Option<String>,
    /// Fail over even if the target region is not ready
    #[arg(long)]
    pub force: bool,
    /// Most replication latency, in milliseconds, that counts as ready
    #[arg(long, value_name = "MS", default_value_t = 5000)]
    pub max_replication_latency_ms: u32,
    /// Longest wait, in seconds, for each failover's scale-up, shift and verification
    #[arg(long, value_name = "SECONDS", default_value_t = 300)]
    pub timeout: u64,
}

#[derive(Debug, Args)]
pub struct CompletionsArgs {
    /// Shell to generate completions for
    pub shell: clap_complete::Shell,
}

/// `--service NAME`: one of the bundled services, by name; completions list them.
fn service_parser() -> impl clap::builder::TypedValueParser<Value = &'static Service> {
    use clap::builder::TypedValueParser;
    clap::builder::PossibleValuesParser::new(SERVICES.iter().map(|service| service.name)).map(
        // The possible values are exactly the table's names, so the lookup cannot miss.
        |name| services::named(&name).unwrap_or(&SERVICES[0]),
    )
}

/// A region flag's value: any string here ([`crate::config`] checks its form), while shell
/// completions offer AWS's commercial regions ([`crate::app::region::KNOWN_REGIONS`]), each with
/// its location. Listed only in completions: `hide_possible_values` keeps them out of `--help`.
#[derive(Debug, Clone, Copy)]
struct RegionNameParser;

impl clap::builder::TypedValueParser for RegionNameParser {
    type Value = String;

    fn parse_ref(
        &self,
        command: &clap::Command,
        arg: Option<&clap::Arg>,
        value: &std::ffi::OsStr,
    ) -> Result<String, clap::Error> {
        clap::builder::StringValueParser::new().parse_ref(command, arg, value)
    }

    fn possible_values(
        &self,
    ) -> Option<Box<dyn Iterator<Item = clap::builder::PossibleValue> + '_>> {
        Some(Box::new(crate::app::region::KNOWN_REGIONS.iter().map(
            |(name, location)| clap::builder::PossibleValue::new(*name).help(*location),
        )))
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn clap_definition_is_consistent() {
        super::command().debug_assert();
    }
}
