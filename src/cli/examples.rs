//! The "Examples:" section of each command's help: the README's usage, command by command. A test
//! (tests/it/help.rs) parses every example line, so an example cannot drift from the flags.

/// The heading in clap's own header style (bold, underlined); clap strips the styling wherever it
/// prints without colour.
macro_rules! examples {
    ($($line:literal),+ $(,)?) => {
        concat!("\x1b[1m\x1b[4mExamples:\x1b[0m", $("\n  ", $line),+)
    };
}

pub const MYSFITS: &str = examples!(
    "mysfits deploy --region us-east-1 --secondary-region us-west-2  # home region and one DR region",
    "mysfits status                                                  # every region side by side",
    "mysfits failover --to us-west-2                                 # move traffic, checked first",
    "mysfits teardown                                                # everything gone, verified",
    "mysfits completions bash > /etc/bash_completion.d/mysfits",
);

pub const DEPLOY: &str = examples!(
    "mysfits deploy --region us-east-1 --secondary-region us-west-2  # every region in parallel",
    "mysfits deploy --regions us-east-1,us-west-2,eu-west-1          # three regions, home first",
    "mysfits deploy --config examples/local-emulator.yaml            # settings from a file",
    "mysfits deploy --dry-run                                        # the same as plan",
    "mysfits deploy --no-seed --output json                          # no seed data; JSON report",
);

pub const PLAN: &str = examples!(
    "mysfits plan --region us-east-1 --secondary-region us-west-2  # exit 0 none, 1 changes, 2 error",
    "mysfits plan --output json",
);

pub const STATUS: &str = examples!(
    "mysfits status                 # every region side by side, home first",
    "mysfits status --output json",
);

pub const FAILOVER: &str = examples!(
    "mysfits failover                             # two regions: to the one not serving now",
    "mysfits failover --to us-west-2 --dry-run    # check readiness only",
    "mysfits failover --to us-east-1              # failback is the same command",
    "mysfits failover --to us-west-2 --force      # even if us-west-2 is not ready",
);

pub const TRAFFIC: &str = examples!(
    "mysfits traffic                                # each region's dial (or record) and health",
    "mysfits traffic --output json",
    "mysfits traffic set us-east-1=50 us-west-2=50  # both serve, checked and scaled first",
);

pub const TRAFFIC_SET: &str = examples!(
    "mysfits traffic set us-east-1=50 us-west-2=50            # both regions serve",
    "mysfits traffic set us-west-2=100 --dry-run              # readiness of us-west-2 only",
    "mysfits traffic set us-east-1=100 us-west-2=0 --timeout 300",
);

pub const DASHBOARD: &str = examples!(
    "mysfits dashboard create",
    "mysfits dashboard show --minutes 30",
    "mysfits dashboard delete --yes",
);

pub const DASHBOARD_CREATE: &str = examples!("mysfits dashboard create --region us-east-1");

pub const DASHBOARD_SHOW: &str = examples!(
    "mysfits dashboard show --minutes 30",
    "mysfits dashboard show --output json",
);

pub const DASHBOARD_DELETE: &str = examples!(
    "mysfits dashboard delete          # asks first",
    "mysfits dashboard delete --yes",
);

pub const TEARDOWN: &str = examples!(
    "mysfits teardown                    # asks for the app name first; backs the table up",
    "mysfits teardown --keep-data --yes  # keep the table and its data, do not ask",
);

pub const BUILD: &str = examples!(
    "mysfits build                                # the service images, without Docker",
    "mysfits build --push                         # and push them to ECR in every region",
    "mysfits build --prebuilt-binaries target/musl",
);

pub const LOGS: &str = examples!(
    "mysfits logs                                   # every region's lines, merged by time",
    "mysfits logs --service like-service --in us-west-2 --follow",
    "mysfits logs --since 60 --limit 50 --output json",
);

pub const TRACES: &str = examples!(
    "mysfits traces                         # the last 15 minutes' service map of every region",
    "mysfits traces --since 1h --slowest 3  # and the 3 slowest traces as waterfalls",
    "mysfits traces --output json",
);

pub const DRILL: &str = examples!(
    "mysfits drill                                  # 60 s of 20 requests/s, failover and back",
    "mysfits drill --rate 50 --duration 120 --to eu-west-1",
    "mysfits drill --target https://mysfits.example.com/",
);

pub const IAM_POLICY: &str = examples!(
    "mysfits iam-policy > mysfits-operator.json",
    "mysfits iam-policy --regions us-east-1,us-west-2,eu-west-1",
);

pub const COMPLETIONS: &str = examples!(
    "mysfits completions bash > /etc/bash_completion.d/mysfits",
    "mysfits completions zsh > ~/.zfunc/_mysfits",
);
