//! `mysfits iam-policy`: the least-privilege IAM policy for the operator who runs mysfits.
//!
//! Three sources of permissions:
//! - [`Source::Sdk`] lines of [`PERMISSIONS`]: an SDK operation the CLI calls. A test
//!   (tests/it/iam_policy.rs) scans `src/` for SDK fluent calls and fails when a call has no line
//!   here or a line has no call, so a new call is one new line.
//! - [`Source::Implied`] lines of [`PERMISSIONS`]: permissions AWS checks behind another call
//!   (replica creation, the OCI registry protocol used for image pushes, the seed catalogue's
//!   writes, service-linked roles).
//! - What CloudFormation's handlers do with the operator's credentials (stacks are deployed
//!   without a service role) for each resource type of the embedded templates: not listed by
//!   hand but read from `iam_policy/cfn-handler-permissions.json`, a trimmed copy of the
//!   `handlers` of the CloudFormation registry's resource schemas ([`template_permissions`]).
//!   Handler permissions for features the templates do not use are left out only through
//!   [`NOT_NEEDED`], each with the property that would need them; a test fails when a template
//!   starts using that property.
//!
//! Resources are scoped to the app's names where AWS supports resource-level permissions; `*`
//! (limited to the app's regions with `aws:RequestedRegion`, or to the control-plane region of a
//! global service) only where AWS requires it or ids are generated. Within a statement, two or
//! more `Describe…` or `List…` actions of one service become `service:Describe*` / `List*` (read
//! metadata only; no `Get*`, which can read data). The whole policy ([`policy`]) is still larger
//! than one managed policy may be ([`MANAGED_POLICY_LIMIT`]): the command prints it cut into
//! several managed policies `{app}-operator-N` ([`policies`]), to attach together.

use std::collections::{BTreeMap, BTreeSet};
use std::process::ExitCode;

use serde::{Deserialize, Serialize};

use crate::aws::GLOBAL_ACCELERATOR_REGION;
use crate::config::Config;
use crate::error::{Error, Result};
use crate::stack::StackKind;

/// Where a line of [`PERMISSIONS`] is needed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    /// An SDK operation the CLI calls (by its IAM action name).
    Sdk,
    /// Checked by AWS behind another call; the text says which.
    Implied(&'static str),
}

/// How far a permission's resources can be narrowed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Scope {
    /// The app's stacks `{app}-*` and the change sets mysfits names `mysfits-*`.
    Stacks,
    /// The catalogue table, its indexes, stream and backups, in every region (the replica too).
    Table,
    /// The app's ECR repositories `{app}/*`.
    Repositories,
    /// The dashboard named like the app.
    Dashboard,
    /// The services' log groups `/ecs/{app}/*` and Container Insights' group of the cluster.
    LogGroups,
    /// The ECS cluster named like the app, its services and their deployments, and the task
    /// definitions of the families `{app}-*`.
    Ecs,
    /// The stack's IAM roles (CloudFormation names them `{app}-app-<LogicalId>-<suffix>`).
    Roles,
    /// Passing the stack's roles to ECS tasks, and nothing else.
    PassRolesToTasks,
    /// Service-linked roles of the services the app uses (created once per account), limited
    /// to those services with `iam:AWSServiceName`.
    ServiceLinkedRoles,
    /// Route 53 hosted zones, health checks and changes (the failover-records mode).
    Route53,
    /// Listings and creations of global services that take no resource (Route 53, IAM): AWS
    /// takes only `*`; their control plane is us-east-1.
    GlobalListings,
    /// No resource-level permissions for these actions (AWS documents `*`), or resources whose
    /// ARNs carry generated ids only known after creation; limited to the app's regions.
    AnyInAppRegions,
    /// Global Accelerator: a global service whose control plane is in us-west-2; accelerator
    /// ARNs are generated ids and Create/List take no resource.
    Accelerators,
    /// The app's X-Ray groups (`{app}-traces`, `-faults`, `-slow`) in every region; their ARNs
    /// end in a generated id.
    TraceGroups,
}

/// One IAM action the operator needs, by hand: an SDK call or a check behind one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Permission {
    /// `service:Action`
    pub action: &'static str,
    pub scope: Scope,
    pub source: Source,
}

const fn sdk(action: &'static str, scope: Scope) -> Permission {
    Permission {
        action,
        scope,
        source: Source::Sdk,
    }
}

const fn implied(why: &'static str, action: &'static str, scope: Scope) -> Permission {
    Permission {
        action,
        scope,
        source: Source::Implied(why),
    }
}

use Scope::*;

/// The table. Keep lines sorted within their group; one line per action (an action needed for
/// several reasons appears once per reason; the policy merges them).
#[rustfmt::skip]
pub const PERMISSIONS: &[Permission] = &[
    // --- SDK calls of the CLI -------------------------------------------------------------
    // Failover raises (and later restores) the services' autoscaling minimum.
    sdk("application-autoscaling:DescribeScalableTargets", AnyInAppRegions),
    sdk("application-autoscaling:RegisterScalableTarget", AnyInAppRegions),
    // Status reads auto failover's plan from ARC's data plane in the home region.
    sdk("arc-region-switch:GetPlanEvaluationStatus", AnyInAppRegions),
    sdk("arc-region-switch:ListPlanExecutions", AnyInAppRegions),
    sdk("cloudformation:CancelUpdateStack", Stacks),
    sdk("cloudformation:ContinueUpdateRollback", Stacks),
    sdk("cloudformation:CreateChangeSet", Stacks),
    sdk("cloudformation:DeleteChangeSet", Stacks),
    sdk("cloudformation:DeleteStack", Stacks),
    sdk("cloudformation:DescribeChangeSet", Stacks),
    sdk("cloudformation:DescribeStackEvents", Stacks),
    sdk("cloudformation:DescribeStackResource", Stacks),
    sdk("cloudformation:DescribeStackResources", Stacks),
    sdk("cloudformation:DescribeStacks", Stacks),
    sdk("cloudformation:ExecuteChangeSet", Stacks),
    sdk("cloudformation:GetTemplate", Stacks),
    sdk("cloudwatch:DeleteDashboards", Dashboard),
    sdk("cloudwatch:DescribeAlarms", AnyInAppRegions),
    sdk("cloudwatch:GetDashboard", Dashboard),
    // GetMetricData, GetMetricStatistics, DescribeAlarms (by prefix) and ListDashboards take
    // no resource.
    sdk("cloudwatch:GetMetricData", AnyInAppRegions),
    sdk("cloudwatch:GetMetricStatistics", AnyInAppRegions),
    sdk("cloudwatch:ListDashboards", AnyInAppRegions),
    sdk("cloudwatch:PutDashboard", Dashboard),
    sdk("dynamodb:CreateBackup", Table),
    sdk("dynamodb:DeleteTable", Table),
    sdk("dynamodb:DescribeBackup", Table),
    sdk("dynamodb:DescribeContinuousBackups", Table),
    sdk("dynamodb:DescribeTable", Table),
    // The write-region control item: read in each region (status, failover), seeded by deploy,
    // frozen, compared (Scan of ids and versions) and switched by failover's writes phase.
    sdk("dynamodb:GetItem", Table),
    sdk("dynamodb:PutItem", Table),
    sdk("dynamodb:Scan", Table),
    sdk("dynamodb:UpdateItem", Table),
    sdk("dynamodb:ListTagsOfResource", Table),
    sdk("dynamodb:TagResource", Table),
    sdk("dynamodb:UpdateContinuousBackups", Table),
    sdk("dynamodb:UpdateTable", Table),
    sdk("ec2:DeleteNetworkInterface", AnyInAppRegions),
    sdk("ec2:DeleteSecurityGroup", AnyInAppRegions),
    sdk("ec2:DescribeAddresses", AnyInAppRegions),
    sdk("ec2:DescribeNatGateways", AnyInAppRegions),
    sdk("ec2:DescribeNetworkInterfaces", AnyInAppRegions),
    sdk("ec2:DescribeSecurityGroups", AnyInAppRegions),
    sdk("ec2:DescribeSubnets", AnyInAppRegions),
    sdk("ec2:DescribeVpcs", AnyInAppRegions),
    sdk("ecr:BatchDeleteImage", Repositories),
    sdk("ecr:DescribeRepositories", Repositories),
    // GetAuthorizationToken is account-wide: AWS requires `*`.
    sdk("ecr:GetAuthorizationToken", AnyInAppRegions),
    sdk("ecr:ListImages", Repositories),
    sdk("ecs:DeleteService", Ecs),
    sdk("ecs:DescribeClusters", Ecs),
    sdk("ecs:DescribeServices", Ecs),
    sdk("ecs:DescribeTaskDefinition", AnyInAppRegions),
    sdk("ecs:ListServices", Ecs),
    sdk("ecs:ListTaskDefinitionFamilies", AnyInAppRegions),
    sdk("ecs:ListTaskDefinitions", AnyInAppRegions),
    sdk("ecs:UpdateService", Ecs),
    // ELB Describe* calls have no resource-level permissions.
    sdk("elasticloadbalancing:DescribeLoadBalancers", AnyInAppRegions),
    sdk("elasticloadbalancing:DescribeTags", AnyInAppRegions),
    sdk("elasticloadbalancing:DescribeTargetGroups", AnyInAppRegions),
    sdk("elasticloadbalancing:DescribeTargetHealth", AnyInAppRegions),
    sdk("globalaccelerator:CreateAccelerator", Accelerators),
    sdk("globalaccelerator:CreateEndpointGroup", Accelerators),
    sdk("globalaccelerator:CreateListener", Accelerators),
    sdk("globalaccelerator:DeleteAccelerator", Accelerators),
    sdk("globalaccelerator:DeleteEndpointGroup", Accelerators),
    sdk("globalaccelerator:DeleteListener", Accelerators),
    sdk("globalaccelerator:DescribeAccelerator", Accelerators),
    sdk("globalaccelerator:ListAccelerators", Accelerators),
    sdk("globalaccelerator:ListEndpointGroups", Accelerators),
    sdk("globalaccelerator:ListListeners", Accelerators),
    sdk("globalaccelerator:ListTagsForResource", Accelerators),
    sdk("globalaccelerator:UpdateAccelerator", Accelerators),
    sdk("globalaccelerator:UpdateEndpointGroup", Accelerators),
    sdk("globalaccelerator:UpdateListener", Accelerators),
    sdk("logs:DeleteLogGroup", LogGroups),
    sdk("logs:DescribeLogGroups", AnyInAppRegions),
    sdk("logs:FilterLogEvents", LogGroups),
    sdk("route53:ChangeResourceRecordSets", Route53),
    sdk("route53:ChangeTagsForResource", Route53),
    sdk("route53:CreateHealthCheck", Route53),
    sdk("route53:DeleteHealthCheck", Route53),
    sdk("route53:GetChange", Route53),
    sdk("route53:GetHealthCheck", Route53),
    sdk("route53:GetHealthCheckStatus", Route53),
    sdk("route53:GetHostedZone", Route53),
    sdk("route53:ListHealthChecks", GlobalListings),
    sdk("route53:ListHostedZones", GlobalListings),
    sdk("route53:ListResourceRecordSets", Route53),
    sdk("route53:ListTagsForResources", Route53),
    // X-Ray's reads take no resource (resource-level permissions are for groups and sampling
    // rules only).
    sdk("xray:BatchGetTraces", AnyInAppRegions),
    sdk("xray:GetServiceGraph", AnyInAppRegions),
    sdk("xray:GetTraceSegmentDestination", AnyInAppRegions),
    sdk("xray:GetTraceSummaries", AnyInAppRegions),
    // --- checked behind other calls -------------------------------------------------------
    implied(
        "UpdateTable ReplicaUpdates creates the replica with the caller's rights",
        "dynamodb:CreateTableReplica",
        Table,
    ),
    // Global tables "Permissions": the source region needs UpdateTable (an SDK line), the
    // destination CreateTable, CreateTableReplica, the item actions and DescribeLimits.
    implied("replica creation", "dynamodb:CreateTable", Table),
    // DescribeLimits takes no resource.
    implied("replica creation", "dynamodb:DescribeLimits", AnyInAppRegions),
    implied("replica creation", "dynamodb:Query", Table),
    implied("replica creation", "dynamodb:DeleteItem", Table),
    implied("replica creation", "dynamodb:BatchWriteItem", Table),
    // Replica creation also needs Scan, UpdateItem, PutItem (the seed catalogue's conditional
    // puts too) and GetItem: the SDK lines above grant them.
    implied(
        "teardown's replica removal (UpdateTable ReplicaUpdates Delete)",
        "dynamodb:DeleteTableReplica",
        Table,
    ),
    implied(
        "the first replica of an account creates DynamoDB's replication service-linked role",
        "iam:CreateServiceLinkedRole",
        ServiceLinkedRoles,
    ),
    // Tags on a create are authorized as TagResource too (Service Authorization Reference,
    // Global Accelerator: CreateAccelerator lists globalaccelerator:TagResource).
    implied(
        "CreateAccelerator with tags (tag on create)",
        "globalaccelerator:TagResource",
        Accelerators,
    ),
    implied(
        "the first accelerator of an account creates Global Accelerator's service-linked role",
        "iam:CreateServiceLinkedRole",
        ServiceLinkedRoles,
    ),
    // KMS key ids are generated: no name to scope by.
    implied(
        "deleting the KMS-encrypted table (teardown, or a replica) retires the grants made for it",
        "kms:RetireGrant",
        AnyInAppRegions,
    ),
    implied("image push (OCI registry protocol)", "ecr:BatchCheckLayerAvailability", Repositories),
    implied("image push (OCI registry protocol)", "ecr:BatchGetImage", Repositories),
    implied("image push (OCI registry protocol)", "ecr:CompleteLayerUpload", Repositories),
    implied("image push (OCI registry protocol)", "ecr:GetDownloadUrlForLayer", Repositories),
    implied("image push (OCI registry protocol)", "ecr:InitiateLayerUpload", Repositories),
    implied("image push (OCI registry protocol)", "ecr:PutImage", Repositories),
    implied("image push (OCI registry protocol)", "ecr:UploadLayerPart", Repositories),
];

/// A handler permission of a template resource type that the policy leaves out, and why.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NotNeeded {
    pub resource_type: &'static str,
    pub actions: &'static [&'static str],
    /// The template property (a key anywhere under the resource's `Properties`, with this
    /// value when one is given) that makes the handler call them. `None`: never needed.
    pub when: Option<(&'static str, Option<&'static str>)>,
    pub because: &'static str,
}

/// Handler permissions for features the templates do not use: other services' data (S3
/// buckets, Kinesis streams, Lambda functions) that `*` in the app's regions would open.
pub const NOT_NEEDED: &[NotNeeded] = &[
    NotNeeded {
        resource_type: "AWS::DynamoDB::Table",
        actions: &[
            "logs:CreateLogGroup",
            "logs:CreateLogStream",
            "logs:DescribeLogGroups",
            "logs:DescribeLogStreams",
            "logs:PutLogEvents",
            "logs:PutRetentionPolicy",
            "s3:GetObject",
            "s3:GetObjectMetadata",
            "s3:ListBucket",
        ],
        when: Some(("ImportSourceSpecification", None)),
        because: "a table created by an import from S3 reads the bucket and logs the import",
    },
    NotNeeded {
        resource_type: "AWS::DynamoDB::Table",
        actions: &["kinesis:DescribeStream", "kinesis:PutRecords"],
        when: Some(("KinesisStreamSpecification", None)),
        because: "streaming the table's changes to Kinesis",
    },
    NotNeeded {
        resource_type: "AWS::ApplicationAutoScaling::ScalableTarget",
        actions: &[
            "lambda:DeleteProvisionedConcurrencyConfig",
            "lambda:GetProvisionedConcurrencyConfig",
            "lambda:PutProvisionedConcurrencyConfig",
        ],
        when: Some(("ServiceNamespace", Some("lambda"))),
        because: "scaling a Lambda function's provisioned concurrency",
    },
    NotNeeded {
        resource_type: "AWS::ElasticLoadBalancingV2::Listener",
        actions: &["cognito-idp:DescribeUserPoolClient"],
        when: Some(("AuthenticateCognitoConfig", None)),
        because: "a listener action that authenticates with Cognito",
    },
    NotNeeded {
        resource_type: "AWS::ElasticLoadBalancingV2::ListenerRule",
        actions: &["cognito-idp:DescribeUserPoolClient"],
        when: Some(("AuthenticateCognitoConfig", None)),
        because: "a rule action that authenticates with Cognito",
    },
    NotNeeded {
        resource_type: "AWS::EC2::VPCEndpoint",
        actions: &[
            "vpc-lattice:CreateServiceNetworkVpcEndpointAssociation",
            "vpc-lattice:DescribeServiceNetworkVpcEndpointAssociation",
        ],
        when: Some(("ServiceNetworkArn", None)),
        because: "an endpoint of a VPC Lattice service network",
    },
    NotNeeded {
        resource_type: "AWS::EC2::VPCEndpoint",
        actions: &["vpce:AllowMultiRegion"],
        when: Some(("ServiceRegion", None)),
        because: "an endpoint to a service in another region",
    },
    NotNeeded {
        resource_type: "AWS::Logs::LogGroup",
        actions: &["s3:REST.PUT.OBJECT"],
        when: None,
        because: "not an IAM action (an S3 REST operation name in the schema): IAM cannot grant it",
    },
];

/// What makes a service-linked role necessary.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NeededBy {
    /// A resource type of the templates (the role is created on its first use in an account).
    ResourceType(&'static str),
    /// An SDK call of the CLI (by its IAM action).
    Call(&'static str),
}

/// The service-linked roles the app's services create on first use in an account, by the
/// service name `iam:CreateServiceLinkedRole` is limited to (`iam:AWSServiceName`).
pub const SERVICE_LINKED_ROLES: &[(NeededBy, &str)] = &[
    // ECS: tasks' network interfaces (awsvpc) and load balancer registration; Service Connect's
    // Cloud Map resources too.
    (
        NeededBy::ResourceType("AWS::ECS::Cluster"),
        "ecs.amazonaws.com",
    ),
    (
        NeededBy::ResourceType("AWS::ECS::Service"),
        "ecs.amazonaws.com",
    ),
    (
        NeededBy::ResourceType("AWS::ApplicationAutoScaling::ScalableTarget"),
        "ecs.application-autoscaling.amazonaws.com",
    ),
    (
        NeededBy::ResourceType("AWS::ElasticLoadBalancingV2::LoadBalancer"),
        "elasticloadbalancing.amazonaws.com",
    ),
    (
        NeededBy::ResourceType("AWS::ServiceDiscovery::Service"),
        "servicediscovery.amazonaws.com",
    ),
    (
        NeededBy::ResourceType("AWS::ServiceDiscovery::PrivateDnsNamespace"),
        "servicediscovery.amazonaws.com",
    ),
    (
        NeededBy::ResourceType("AWS::ServiceDiscovery::HttpNamespace"),
        "servicediscovery.amazonaws.com",
    ),
    // Adding the replica (UpdateTable ReplicaUpdates) to make the table global.
    (
        NeededBy::Call("dynamodb:UpdateTable"),
        "replication.dynamodb.amazonaws.com",
    ),
    (
        NeededBy::Call("globalaccelerator:CreateAccelerator"),
        "globalaccelerator.amazonaws.com",
    ),
];

/// The trimmed handler permissions of the CloudFormation resource schemas.
pub const HANDLER_PERMISSIONS_JSON: &str = include_str!("iam_policy/cfn-handler-permissions.json");

/// `cfn-handler-permissions.json`.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct HandlerPermissions {
    pub source: serde_json::Value,
    pub resource_types: BTreeMap<String, ResourceTypeHandlers>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct ResourceTypeHandlers {
    /// The schema file in the source repository (`None`: a type whose schema lists no handlers).
    pub schema: Option<String>,
    /// Where the permissions come from when the schema has none.
    #[serde(default)]
    pub documentation: Option<String>,
    /// Handler (`create`, `read`, `update`, `delete`, `list`) → IAM actions.
    pub handlers: BTreeMap<String, Vec<String>>,
}

impl ResourceTypeHandlers {
    /// Every action of every handler.
    pub fn actions(&self) -> BTreeSet<&str> {
        self.handlers
            .values()
            .flatten()
            .map(String::as_str)
            .collect()
    }
}

fn bug(what: String) -> Error {
    Error::config(
        what,
        "report this bug (the build embeds inconsistent policy data)",
    )
}

pub fn handler_permissions() -> Result<HandlerPermissions> {
    serde_json::from_str(HANDLER_PERMISSIONS_JSON).map_err(|error| {
        bug(format!(
            "cfn-handler-permissions.json is not valid: {error}"
        ))
    })
}

/// The resource types of the embedded templates.
pub fn template_resource_types() -> Result<BTreeSet<String>> {
    let mut types = BTreeSet::new();
    // The data stack and auto failover's stacks are not in StackKind::ALL, but the policy must allow them.
    for kind in
        StackKind::ALL
            .into_iter()
            .chain([StackKind::Data, StackKind::Alarms, StackKind::Recovery])
    {
        let template: serde_yaml::Value =
            serde_yaml::from_str(kind.template()).map_err(|error| {
                bug(format!(
                    "the {} template is not YAML: {error}",
                    kind.label()
                ))
            })?;
        let resources = template["Resources"]
            .as_mapping()
            .ok_or_else(|| bug(format!("the {} template has no Resources", kind.label())))?;
        for resource in resources.values() {
            if let Some(resource_type) = resource["Type"].as_str() {
                types.insert(resource_type.to_string());
            }
        }
    }
    Ok(types)
}

/// One handler permission of a template resource type, as the policy grants it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TemplatePermission {
    pub resource_type: String,
    pub action: String,
    pub scope: Scope,
}

/// Whether [`NOT_NEEDED`] leaves this handler permission out.
pub fn not_needed(resource_type: &str, action: &str) -> Option<&'static NotNeeded> {
    NOT_NEEDED
        .iter()
        .find(|entry| entry.resource_type == resource_type && entry.actions.contains(&action))
}

/// The handler permissions of every resource type of the embedded templates.
pub fn template_permissions() -> Result<Vec<TemplatePermission>> {
    let data = handler_permissions()?;
    let mut permissions = Vec::new();
    for resource_type in template_resource_types()? {
        let handlers = data.resource_types.get(&resource_type).ok_or_else(|| {
            bug(format!(
                "the templates use {resource_type}, which cfn-handler-permissions.json does not list"
            ))
        })?;
        for action in handlers.actions() {
            if not_needed(&resource_type, action).is_none() {
                permissions.push(TemplatePermission {
                    resource_type: resource_type.clone(),
                    action: action.to_string(),
                    scope: template_scope(action),
                });
            }
        }
    }
    Ok(permissions)
}

/// Log group actions that take the log group's ARN (the others take `*`).
const LOG_GROUP_ACTIONS: &[&str] = &[
    "AssociateKmsKey",
    "CreateLogGroup",
    "DeleteLogGroup",
    "DeleteRetentionPolicy",
    "DisassociateKmsKey",
    "FilterLogEvents",
    "ListTagsForResource",
    "PutRetentionPolicy",
    "TagResource",
    "UntagResource",
];

/// ECS actions without resource-level permissions (task definitions are registered, described
/// and deregistered without a resource; account settings and cluster listings are account-wide).
const ECS_ACCOUNT_ACTIONS: &[&str] = &[
    "DeregisterTaskDefinition",
    "DescribeTaskDefinition",
    "ListClusters",
    "ListTaskDefinitionFamilies",
    "ListTaskDefinitions",
    "PutAccountSetting",
    "PutAccountSettingDefault",
    "RegisterTaskDefinition",
];

/// How far a CloudFormation handler's action can be scoped: the app's names where the action
/// takes a resource of the app, `*` in the app's regions otherwise.
pub fn template_scope(action: &str) -> Scope {
    let (service, name) = action.split_once(':').unwrap_or((action, ""));
    match service {
        "dynamodb" if name.starts_with("List") => AnyInAppRegions,
        "dynamodb" => Table,
        "ecr" => Repositories,
        "ecs" if ECS_ACCOUNT_ACTIONS.contains(&name) => AnyInAppRegions,
        "ecs" => Ecs,
        "logs" if LOG_GROUP_ACTIONS.contains(&name) => LogGroups,
        "iam" => match name {
            "PassRole" => PassRolesToTasks,
            "CreateServiceLinkedRole" => ServiceLinkedRoles,
            "ListRoles" => GlobalListings,
            _ => Roles,
        },
        // Cloud Map creates the private zone with the caller's rights; CreateHostedZone and
        // the listings take no resource.
        "route53" if name == "GetHostedZone" => Route53,
        "route53" => GlobalListings,
        // GetGroups lists every group: it takes no resource.
        "xray" if name == "GetGroups" => AnyInAppRegions,
        "xray" => TraceGroups,
        // ARC Region switch plans are global: their control plane (what CloudFormation's
        // handler calls) is in us-east-1 whatever the app's regions (the SDK's endpoint rules).
        "arc-region-switch" => GlobalListings,
        _ => AnyInAppRegions,
    }
}

/// A policy document as IAM takes it.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct PolicyDocument {
    pub version: &'static str,
    pub statement: Vec<Statement>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct Statement {
    pub sid: String,
    pub effect: &'static str,
    pub action: Vec<String>,
    pub resource: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub condition: Option<serde_json::Value>,
}

impl Scope {
    fn sid(self) -> &'static str {
        match self {
            Stacks => "AppStacks",
            Table => "CatalogueTable",
            Repositories => "ImageRepositories",
            Dashboard => "Dashboard",
            LogGroups => "ServiceLogGroups",
            Ecs => "EcsClusterAndServices",
            Roles => "StackRoles",
            PassRolesToTasks => "PassStackRolesToTasks",
            ServiceLinkedRoles => "ServiceLinkedRoles",
            Route53 => "Route53FailoverRecords",
            GlobalListings => "GlobalServiceListings",
            AnyInAppRegions => "NoResourceLevelPermissionsInAppRegions",
            Accelerators => "GlobalAccelerator",
            TraceGroups => "TraceGroups",
        }
    }

    fn resources(self, config: &Config) -> Vec<String> {
        let app = &config.app;
        let per_region = |pattern: &dyn Fn(&str) -> Vec<String>| -> Vec<String> {
            config
                .regions()
                .flat_map(|region| pattern(&region.name))
                .collect()
        };
        match self {
            Stacks => per_region(&|region| {
                vec![
                    format!("arn:aws:cloudformation:{region}:*:stack/{app}-*/*"),
                    format!("arn:aws:cloudformation:{region}:*:changeSet/mysfits-*/*"),
                ]
            }),
            // The table's ARN and everything under it (indexes, stream, backups).
            Table => {
                let table = config.table_name();
                per_region(&|region| {
                    vec![
                        format!("arn:aws:dynamodb:{region}:*:table/{table}"),
                        format!("arn:aws:dynamodb:{region}:*:table/{table}/*"),
                    ]
                })
            }
            Repositories => {
                per_region(&|region| vec![format!("arn:aws:ecr:{region}:*:repository/{app}/*")])
            }
            // Dashboards are global resources of CloudWatch: no region in their ARN.
            Dashboard => vec![format!("arn:aws:cloudwatch::*:dashboard/{app}")],
            LogGroups => per_region(&|region| {
                vec![
                    format!("arn:aws:logs:{region}:*:log-group:/ecs/{app}/*"),
                    format!("arn:aws:logs:{region}:*:log-group:/aws/ecs/containerinsights/{app}/*"),
                ]
            }),
            Ecs => per_region(&|region| {
                vec![
                    format!("arn:aws:ecs:{region}:*:cluster/{app}"),
                    format!("arn:aws:ecs:{region}:*:service/{app}/*"),
                    format!("arn:aws:ecs:{region}:*:service-deployment/{app}/*"),
                    format!("arn:aws:ecs:{region}:*:task-definition/{app}-*:*"),
                ]
            }),
            // The app stacks' roles, and the recovery stack's (auto failover's plan role).
            Roles | PassRolesToTasks => vec![
                format!("arn:aws:iam::*:role/{app}-app-*"),
                format!("arn:aws:iam::*:role/{app}-recovery-*"),
            ],
            ServiceLinkedRoles => vec!["arn:aws:iam::*:role/aws-service-role/*".to_string()],
            Route53 => vec![
                "arn:aws:route53:::hostedzone/*".to_string(),
                "arn:aws:route53:::healthcheck/*".to_string(),
                "arn:aws:route53:::change/*".to_string(),
            ],
            TraceGroups => per_region(&|region| {
                crate::app::names::TraceGroup::ALL
                    .into_iter()
                    .map(|group| {
                        let name = crate::app::names::trace_group(app, group);
                        format!("arn:aws:xray:{region}:*:group/{name}/*")
                    })
                    .collect()
            }),
            AnyInAppRegions | Accelerators | GlobalListings => vec!["*".to_string()],
        }
    }

    fn condition(
        self,
        config: &Config,
        service_linked_roles: &BTreeSet<&str>,
    ) -> Option<serde_json::Value> {
        match self {
            AnyInAppRegions => {
                let regions: Vec<&str> = config
                    .regions()
                    .map(|region| region.name.as_str())
                    .collect();
                Some(serde_json::json!({ "StringEquals": { "aws:RequestedRegion": regions } }))
            }
            Accelerators => Some(serde_json::json!({
                "StringEquals": { "aws:RequestedRegion": GLOBAL_ACCELERATOR_REGION }
            })),
            // IAM and Route 53 are global services: their requests are in us-east-1.
            GlobalListings => Some(serde_json::json!({
                "StringEquals": { "aws:RequestedRegion": crate::config::ROUTE53_CONTROL_REGION }
            })),
            PassRolesToTasks => Some(serde_json::json!({
                "StringEquals": { "iam:PassedToService": ["ecs-tasks.amazonaws.com", "arc-region-switch.amazonaws.com"] }
            })),
            ServiceLinkedRoles => Some(serde_json::json!({
                "StringEquals": { "iam:AWSServiceName": service_linked_roles }
            })),
            _ => None,
        }
    }
}

/// IAM's limit for a managed policy, in characters without whitespace (IAM and STS quotas;
/// a role's inline policies may total 10,240, a user's 2,048): [`policies`] cuts the operator
/// policy into managed policies of at most this size.
pub const MANAGED_POLICY_LIMIT: usize = 6_144;

/// The service names the policy lets `iam:CreateServiceLinkedRole` create roles for.
pub fn service_linked_role_names(resource_types: &BTreeSet<String>) -> BTreeSet<&'static str> {
    SERVICE_LINKED_ROLES
        .iter()
        .filter(|(needed_by, _)| match needed_by {
            NeededBy::ResourceType(resource_type) => resource_types.contains(*resource_type),
            NeededBy::Call(action) => PERMISSIONS
                .iter()
                .any(|permission| permission.source == Source::Sdk && permission.action == *action),
        })
        .map(|(_, service)| *service)
        .collect()
}

/// `Describe…` and `List…` actions of one service in one statement become `service:Describe*`
/// and `service:List*` when there are two or more of them: metadata reads only.
fn compact(actions: BTreeSet<String>) -> Vec<String> {
    const READ_PREFIXES: [&str; 2] = ["Describe", "List"];
    let mut groups: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for action in actions {
        let (service, name) = action.split_once(':').unwrap_or((&action, ""));
        let key = READ_PREFIXES
            .iter()
            .find(|prefix| name.starts_with(**prefix))
            .map(|prefix| format!("{service}:{prefix}*"))
            .unwrap_or_else(|| action.clone());
        groups.entry(key).or_default().push(action);
    }
    let mut compacted: Vec<String> = groups
        .into_iter()
        .flat_map(|(key, members)| {
            if key.ends_with('*') && members.len() >= 2 {
                vec![key]
            } else {
                members
            }
        })
        .collect();
    compacted.sort();
    compacted
}

/// The whole operator policy for this config: one statement per scope, actions merged and
/// sorted. Larger than one managed policy: [`policies`] cuts it for IAM.
pub fn policy(config: &Config) -> Result<PolicyDocument> {
    let mut actions: BTreeMap<Scope, BTreeSet<String>> = BTreeMap::new();
    for permission in PERMISSIONS {
        actions
            .entry(permission.scope)
            .or_default()
            .insert(permission.action.to_string());
    }
    for permission in template_permissions()? {
        actions
            .entry(permission.scope)
            .or_default()
            .insert(permission.action);
    }
    let service_linked_roles = service_linked_role_names(&template_resource_types()?);
    Ok(PolicyDocument {
        version: "2012-10-17",
        statement: actions
            .into_iter()
            .map(|(scope, actions)| Statement {
                sid: scope.sid().to_string(),
                effect: "Allow",
                action: compact(actions),
                resource: scope.resources(config),
                condition: scope.condition(config, &service_linked_roles),
            })
            .collect(),
    })
}

/// One managed policy of the operator's set.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct NamedPolicy {
    pub policy_name: String,
    pub policy_document: PolicyDocument,
}

/// IAM's size measure: characters without whitespace.
pub fn policy_size(document: &PolicyDocument) -> usize {
    serde_json::to_string(document)
        .unwrap_or_default()
        .chars()
        .filter(|character| !character.is_whitespace())
        .count()
}

/// `application-autoscaling` → `ApplicationAutoscaling` (statement ids are alphanumeric).
fn pascal(service: &str) -> String {
    service
        .split('-')
        .map(|word| {
            let mut characters = word.chars();
            characters
                .next()
                .map(|first| first.to_ascii_uppercase().to_string() + characters.as_str())
                .unwrap_or_default()
        })
        .collect()
}

/// The operator policy cut into managed policies of at most [`MANAGED_POLICY_LIMIT`]
/// characters: statements in order, a statement too large for one policy split by service.
/// Attach them all (a role takes 10 managed policies by default).
pub fn policies(config: &Config) -> Result<Vec<NamedPolicy>> {
    let whole = policy(config)?;
    let empty = PolicyDocument {
        version: whole.version,
        statement: Vec::new(),
    };
    // The size of a statement inside a document: its own characters and a comma.
    let statement_size = |statement: &Statement| {
        policy_size(&PolicyDocument {
            version: whole.version,
            statement: vec![statement.clone()],
        }) - policy_size(&empty)
            + 1
    };
    let room = MANAGED_POLICY_LIMIT - policy_size(&empty);
    let mut statements = Vec::new();
    for statement in whole.statement {
        if statement_size(&statement) <= room {
            statements.push(statement);
            continue;
        }
        let mut by_service: BTreeMap<String, Vec<String>> = BTreeMap::new();
        for action in &statement.action {
            let service = action
                .split_once(':')
                .map_or(action.as_str(), |(service, _)| service);
            by_service
                .entry(service.to_string())
                .or_default()
                .push(action.clone());
        }
        for (service, actions) in by_service {
            statements.push(Statement {
                sid: format!("{}{}", statement.sid, pascal(&service)),
                action: actions,
                ..statement.clone()
            });
        }
    }
    let mut documents: Vec<PolicyDocument> = Vec::new();
    let mut used = room;
    for statement in statements {
        let size = statement_size(&statement);
        match documents.last_mut() {
            Some(document) if used + size <= room => document.statement.push(statement),
            _ => {
                documents.push(PolicyDocument {
                    version: whole.version,
                    statement: vec![statement],
                });
                used = 0;
            }
        }
        used += size;
    }
    Ok(documents
        .into_iter()
        .enumerate()
        .map(|(index, policy_document)| NamedPolicy {
            policy_name: crate::app::names::operator_policy(&config.app, index + 1),
            policy_document,
        })
        .collect())
}

pub async fn run(config: &Config) -> Result<ExitCode> {
    let document = serde_json::to_string_pretty(&policies(config)?)
        .map_err(|error| Error::internal(format!("could not write the policies: {error}")))?;
    // The policies are the data in both output formats.
    super::write_stdout(&format!("{document}\n"))?;
    Ok(ExitCode::SUCCESS)
}
