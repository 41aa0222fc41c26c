//! `mysfits iam-policy`: the least-privilege IAM policy for the operator who runs mysfits.
//!
//! Everything comes from one table, [`PERMISSIONS`]: one line per IAM action with where it is
//! needed and how far it can be scoped. Three kinds of lines:
//! - [`Source::Sdk`]: an SDK operation the CLI calls. A test (tests/it/quality.rs) scans `src/`
//!   for SDK fluent calls and fails when a call has no line here or a line has no call, so a new
//!   call is one new line.
//! - [`Source::Template`]: what CloudFormation does with the operator's credentials to create,
//!   update and delete one resource type of the embedded templates (stacks are deployed without a
//!   service role). The same test checks every resource type of `templates/` has its lines.
//! - [`Source::Implied`]: permissions AWS checks behind another call (replica creation, the OCI
//!   registry protocol used for image pushes, the seed catalogue's writes).
//!
//! Resources are scoped to the app's names where AWS supports resource-level permissions; `*`
//! (limited to the app's regions with `aws:RequestedRegion` where the service is regional) only
//! where AWS requires it, with the reason next to the scope.

use std::collections::BTreeMap;
use std::io::Write;
use std::process::ExitCode;

use serde::Serialize;

use crate::aws::GLOBAL_ACCELERATOR_REGION;
use crate::config::Config;
use crate::error::{Error, Result};

/// Where a permission is needed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    /// An SDK operation the CLI calls (by its IAM action name).
    Sdk,
    /// CloudFormation handling this resource type of the templates.
    Template(&'static str),
    /// Checked by AWS behind another call; the text says which.
    Implied(&'static str),
}

/// How far a permission's resources can be narrowed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Scope {
    /// The app's stacks `{app}-*` and the change sets mysfits names `mysfits-*`.
    Stacks,
    /// The catalogue table, its indexes and stream, in every region (the replica too).
    Table,
    /// The app's ECR repositories `{app}/*`.
    Repositories,
    /// The dashboard named like the app.
    Dashboard,
    /// The services' log groups `/ecs/{app}/*`.
    LogGroups,
    /// The ECS cluster named like the app, its services and task definitions.
    Ecs,
    /// The stack's IAM roles (CloudFormation names them `{app}-app-<LogicalId>-<suffix>`).
    Roles,
    /// Passing the stack's roles to ECS tasks, and nothing else.
    PassRolesToTasks,
    /// Service-linked roles of the services the app uses (created once per account).
    ServiceLinkedRoles,
    /// Route 53 hosted zones, health checks and changes (the failover-records mode).
    Route53,
    /// Route 53 list calls (teardown's search for the app's tagged health checks): AWS takes
    /// only `*` for them; Route 53's control plane is us-east-1.
    Route53Listings,
    /// No resource-level permissions for these actions (AWS documents `*`), or resources whose
    /// ARNs carry generated ids only known after creation; limited to the app's regions.
    AnyInAppRegions,
    /// Global Accelerator: a global service whose control plane is in us-west-2; accelerator
    /// ARNs are generated ids and Create/List take no resource.
    Accelerators,
}

/// One IAM action the operator needs.
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

const fn template(resource_type: &'static str, action: &'static str, scope: Scope) -> Permission {
    Permission {
        action,
        scope,
        source: Source::Template(resource_type),
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
    sdk("cloudformation:CancelUpdateStack", Stacks),
    sdk("cloudformation:ContinueUpdateRollback", Stacks),
    sdk("cloudformation:CreateChangeSet", Stacks),
    sdk("cloudformation:DeleteChangeSet", Stacks),
    sdk("cloudformation:DeleteStack", Stacks),
    sdk("cloudformation:DescribeChangeSet", Stacks),
    sdk("cloudformation:DescribeStackEvents", Stacks),
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
    sdk("dynamodb:DescribeTable", Table),
    sdk("dynamodb:UpdateTable", Table),
    sdk("ec2:DescribeAddresses", AnyInAppRegions),
    sdk("ec2:DescribeNatGateways", AnyInAppRegions),
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
    sdk("route53:ListHealthChecks", Route53Listings),
    sdk("route53:ListHostedZones", Route53Listings),
    sdk("route53:ListResourceRecordSets", Route53),
    sdk("route53:ListTagsForResources", Route53),
    // --- checked behind other calls -------------------------------------------------------
    implied(
        "UpdateTable ReplicaUpdates creates the replica with the caller's rights",
        "dynamodb:CreateTableReplica",
        Table,
    ),
    implied("replica creation", "dynamodb:Scan", Table),
    implied("replica creation", "dynamodb:Query", Table),
    implied("replica creation", "dynamodb:UpdateItem", Table),
    implied("replica creation", "dynamodb:DeleteItem", Table),
    implied("replica creation", "dynamodb:BatchWriteItem", Table),
    implied(
        "replica creation; the seed catalogue's conditional puts (mysfits-service library)",
        "dynamodb:PutItem",
        Table,
    ),
    implied("replica creation", "dynamodb:GetItem", Table),
    implied(
        "replica creation needs the DynamoDB replication service-linked role",
        "iam:CreateServiceLinkedRole",
        ServiceLinkedRoles,
    ),
    implied("image push (OCI registry protocol)", "ecr:BatchCheckLayerAvailability", Repositories),
    implied("image push (OCI registry protocol)", "ecr:BatchGetImage", Repositories),
    implied("image push (OCI registry protocol)", "ecr:CompleteLayerUpload", Repositories),
    implied("image push (OCI registry protocol)", "ecr:GetDownloadUrlForLayer", Repositories),
    implied("image push (OCI registry protocol)", "ecr:InitiateLayerUpload", Repositories),
    implied("image push (OCI registry protocol)", "ecr:PutImage", Repositories),
    implied("image push (OCI registry protocol)", "ecr:UploadLayerPart", Repositories),
    // --- what CloudFormation does for the templates' resources ---------------------------
    template("AWS::ApplicationAutoScaling::ScalableTarget", "application-autoscaling:DeregisterScalableTarget", AnyInAppRegions),
    template("AWS::ApplicationAutoScaling::ScalableTarget", "application-autoscaling:DescribeScalableTargets", AnyInAppRegions),
    template("AWS::ApplicationAutoScaling::ScalableTarget", "application-autoscaling:RegisterScalableTarget", AnyInAppRegions),
    template("AWS::ApplicationAutoScaling::ScalingPolicy", "application-autoscaling:DeleteScalingPolicy", AnyInAppRegions),
    template("AWS::ApplicationAutoScaling::ScalingPolicy", "application-autoscaling:DescribeScalingPolicies", AnyInAppRegions),
    template("AWS::ApplicationAutoScaling::ScalingPolicy", "application-autoscaling:PutScalingPolicy", AnyInAppRegions),
    // Target tracking creates and removes its own alarms with the caller's rights.
    template("AWS::ApplicationAutoScaling::ScalingPolicy", "cloudwatch:DeleteAlarms", AnyInAppRegions),
    template("AWS::ApplicationAutoScaling::ScalingPolicy", "cloudwatch:DescribeAlarms", AnyInAppRegions),
    template("AWS::ApplicationAutoScaling::ScalingPolicy", "cloudwatch:PutMetricAlarm", AnyInAppRegions),
    template("AWS::ApplicationAutoScaling::ScalableTarget", "iam:CreateServiceLinkedRole", ServiceLinkedRoles),
    template("AWS::DynamoDB::Table", "dynamodb:CreateTable", Table),
    template("AWS::DynamoDB::Table", "dynamodb:DeleteTable", Table),
    template("AWS::DynamoDB::Table", "dynamodb:DescribeContinuousBackups", Table),
    template("AWS::DynamoDB::Table", "dynamodb:DescribeTable", Table),
    template("AWS::DynamoDB::Table", "dynamodb:ListTagsOfResource", Table),
    template("AWS::DynamoDB::Table", "dynamodb:TagResource", Table),
    template("AWS::DynamoDB::Table", "dynamodb:UntagResource", Table),
    template("AWS::DynamoDB::Table", "dynamodb:UpdateContinuousBackups", Table),
    template("AWS::DynamoDB::Table", "dynamodb:UpdateTable", Table),
    // EC2 network resources get generated ids: creating them cannot be scoped by name.
    template("AWS::EC2::EIP", "ec2:AllocateAddress", AnyInAppRegions),
    template("AWS::EC2::EIP", "ec2:DescribeAddresses", AnyInAppRegions),
    template("AWS::EC2::EIP", "ec2:ReleaseAddress", AnyInAppRegions),
    template("AWS::EC2::InternetGateway", "ec2:CreateInternetGateway", AnyInAppRegions),
    template("AWS::EC2::InternetGateway", "ec2:DeleteInternetGateway", AnyInAppRegions),
    template("AWS::EC2::InternetGateway", "ec2:DescribeInternetGateways", AnyInAppRegions),
    template("AWS::EC2::NatGateway", "ec2:CreateNatGateway", AnyInAppRegions),
    template("AWS::EC2::NatGateway", "ec2:DeleteNatGateway", AnyInAppRegions),
    template("AWS::EC2::NatGateway", "ec2:DescribeNatGateways", AnyInAppRegions),
    template("AWS::EC2::Route", "ec2:CreateRoute", AnyInAppRegions),
    template("AWS::EC2::Route", "ec2:DeleteRoute", AnyInAppRegions),
    template("AWS::EC2::Route", "ec2:ReplaceRoute", AnyInAppRegions),
    template("AWS::EC2::RouteTable", "ec2:CreateRouteTable", AnyInAppRegions),
    template("AWS::EC2::RouteTable", "ec2:DeleteRouteTable", AnyInAppRegions),
    template("AWS::EC2::RouteTable", "ec2:DescribeRouteTables", AnyInAppRegions),
    template("AWS::EC2::SecurityGroup", "ec2:AuthorizeSecurityGroupEgress", AnyInAppRegions),
    template("AWS::EC2::SecurityGroup", "ec2:CreateSecurityGroup", AnyInAppRegions),
    template("AWS::EC2::SecurityGroup", "ec2:DeleteSecurityGroup", AnyInAppRegions),
    template("AWS::EC2::SecurityGroup", "ec2:DescribeSecurityGroups", AnyInAppRegions),
    template("AWS::EC2::SecurityGroup", "ec2:RevokeSecurityGroupEgress", AnyInAppRegions),
    template("AWS::EC2::SecurityGroupIngress", "ec2:AuthorizeSecurityGroupIngress", AnyInAppRegions),
    template("AWS::EC2::SecurityGroupIngress", "ec2:RevokeSecurityGroupIngress", AnyInAppRegions),
    template("AWS::EC2::Subnet", "ec2:CreateSubnet", AnyInAppRegions),
    template("AWS::EC2::Subnet", "ec2:DeleteSubnet", AnyInAppRegions),
    template("AWS::EC2::Subnet", "ec2:DescribeAvailabilityZones", AnyInAppRegions),
    template("AWS::EC2::Subnet", "ec2:DescribeSubnets", AnyInAppRegions),
    template("AWS::EC2::Subnet", "ec2:ModifySubnetAttribute", AnyInAppRegions),
    template("AWS::EC2::SubnetRouteTableAssociation", "ec2:AssociateRouteTable", AnyInAppRegions),
    template("AWS::EC2::SubnetRouteTableAssociation", "ec2:DisassociateRouteTable", AnyInAppRegions),
    template("AWS::EC2::VPC", "ec2:CreateTags", AnyInAppRegions),
    template("AWS::EC2::VPC", "ec2:CreateVpc", AnyInAppRegions),
    template("AWS::EC2::VPC", "ec2:DeleteTags", AnyInAppRegions),
    template("AWS::EC2::VPC", "ec2:DeleteVpc", AnyInAppRegions),
    template("AWS::EC2::VPC", "ec2:DescribeVpcAttribute", AnyInAppRegions),
    template("AWS::EC2::VPC", "ec2:DescribeVpcs", AnyInAppRegions),
    template("AWS::EC2::VPC", "ec2:ModifyVpcAttribute", AnyInAppRegions),
    template("AWS::EC2::VPCEndpoint", "ec2:CreateVpcEndpoint", AnyInAppRegions),
    template("AWS::EC2::VPCEndpoint", "ec2:DeleteVpcEndpoints", AnyInAppRegions),
    template("AWS::EC2::VPCEndpoint", "ec2:DescribePrefixLists", AnyInAppRegions),
    template("AWS::EC2::VPCEndpoint", "ec2:DescribeVpcEndpoints", AnyInAppRegions),
    template("AWS::EC2::VPCEndpoint", "ec2:ModifyVpcEndpoint", AnyInAppRegions),
    template("AWS::EC2::VPCGatewayAttachment", "ec2:AttachInternetGateway", AnyInAppRegions),
    template("AWS::EC2::VPCGatewayAttachment", "ec2:DetachInternetGateway", AnyInAppRegions),
    template("AWS::ECR::Repository", "ecr:BatchDeleteImage", Repositories),
    template("AWS::ECR::Repository", "ecr:CreateRepository", Repositories),
    template("AWS::ECR::Repository", "ecr:DeleteLifecyclePolicy", Repositories),
    template("AWS::ECR::Repository", "ecr:DeleteRepository", Repositories),
    template("AWS::ECR::Repository", "ecr:DescribeRepositories", Repositories),
    template("AWS::ECR::Repository", "ecr:GetLifecyclePolicy", Repositories),
    template("AWS::ECR::Repository", "ecr:ListImages", Repositories),
    template("AWS::ECR::Repository", "ecr:ListTagsForResource", Repositories),
    template("AWS::ECR::Repository", "ecr:PutImageScanningConfiguration", Repositories),
    template("AWS::ECR::Repository", "ecr:PutImageTagMutability", Repositories),
    template("AWS::ECR::Repository", "ecr:PutLifecyclePolicy", Repositories),
    template("AWS::ECR::Repository", "ecr:TagResource", Repositories),
    template("AWS::ECR::Repository", "ecr:UntagResource", Repositories),
    template("AWS::ECS::Cluster", "ecs:CreateCluster", Ecs),
    template("AWS::ECS::Cluster", "ecs:DeleteCluster", Ecs),
    template("AWS::ECS::Cluster", "ecs:DescribeClusters", Ecs),
    template("AWS::ECS::Cluster", "ecs:PutClusterCapacityProviders", Ecs),
    template("AWS::ECS::Cluster", "ecs:TagResource", Ecs),
    template("AWS::ECS::Cluster", "ecs:UpdateClusterSettings", Ecs),
    template("AWS::ECS::Service", "ecs:CreateService", Ecs),
    template("AWS::ECS::Service", "ecs:DeleteService", Ecs),
    template("AWS::ECS::Service", "ecs:DescribeServices", Ecs),
    template("AWS::ECS::Service", "ecs:UpdateService", Ecs),
    template("AWS::ECS::Service", "iam:CreateServiceLinkedRole", ServiceLinkedRoles),
    // Task definition calls have no resource-level permissions.
    template("AWS::ECS::TaskDefinition", "ecs:DeregisterTaskDefinition", AnyInAppRegions),
    template("AWS::ECS::TaskDefinition", "ecs:DescribeTaskDefinition", AnyInAppRegions),
    template("AWS::ECS::TaskDefinition", "ecs:RegisterTaskDefinition", AnyInAppRegions),
    template("AWS::ECS::TaskDefinition", "iam:PassRole", PassRolesToTasks),
    // Load balancer names are generated by CloudFormation; Describe* has no resource level.
    template("AWS::ElasticLoadBalancingV2::Listener", "elasticloadbalancing:CreateListener", AnyInAppRegions),
    template("AWS::ElasticLoadBalancingV2::Listener", "elasticloadbalancing:DeleteListener", AnyInAppRegions),
    template("AWS::ElasticLoadBalancingV2::Listener", "elasticloadbalancing:DescribeListeners", AnyInAppRegions),
    template("AWS::ElasticLoadBalancingV2::Listener", "elasticloadbalancing:ModifyListener", AnyInAppRegions),
    template("AWS::ElasticLoadBalancingV2::ListenerRule", "elasticloadbalancing:CreateRule", AnyInAppRegions),
    template("AWS::ElasticLoadBalancingV2::ListenerRule", "elasticloadbalancing:DeleteRule", AnyInAppRegions),
    template("AWS::ElasticLoadBalancingV2::ListenerRule", "elasticloadbalancing:DescribeRules", AnyInAppRegions),
    template("AWS::ElasticLoadBalancingV2::ListenerRule", "elasticloadbalancing:ModifyRule", AnyInAppRegions),
    template("AWS::ElasticLoadBalancingV2::LoadBalancer", "elasticloadbalancing:AddTags", AnyInAppRegions),
    template("AWS::ElasticLoadBalancingV2::LoadBalancer", "elasticloadbalancing:CreateLoadBalancer", AnyInAppRegions),
    template("AWS::ElasticLoadBalancingV2::LoadBalancer", "elasticloadbalancing:DeleteLoadBalancer", AnyInAppRegions),
    template("AWS::ElasticLoadBalancingV2::LoadBalancer", "elasticloadbalancing:DescribeLoadBalancerAttributes", AnyInAppRegions),
    template("AWS::ElasticLoadBalancingV2::LoadBalancer", "elasticloadbalancing:DescribeLoadBalancers", AnyInAppRegions),
    template("AWS::ElasticLoadBalancingV2::LoadBalancer", "elasticloadbalancing:DescribeTags", AnyInAppRegions),
    template("AWS::ElasticLoadBalancingV2::LoadBalancer", "elasticloadbalancing:ModifyLoadBalancerAttributes", AnyInAppRegions),
    template("AWS::ElasticLoadBalancingV2::LoadBalancer", "elasticloadbalancing:RemoveTags", AnyInAppRegions),
    template("AWS::ElasticLoadBalancingV2::LoadBalancer", "elasticloadbalancing:SetSecurityGroups", AnyInAppRegions),
    template("AWS::ElasticLoadBalancingV2::LoadBalancer", "elasticloadbalancing:SetSubnets", AnyInAppRegions),
    template("AWS::ElasticLoadBalancingV2::TargetGroup", "elasticloadbalancing:CreateTargetGroup", AnyInAppRegions),
    template("AWS::ElasticLoadBalancingV2::TargetGroup", "elasticloadbalancing:DeleteTargetGroup", AnyInAppRegions),
    template("AWS::ElasticLoadBalancingV2::TargetGroup", "elasticloadbalancing:DescribeTargetGroupAttributes", AnyInAppRegions),
    template("AWS::ElasticLoadBalancingV2::TargetGroup", "elasticloadbalancing:DescribeTargetGroups", AnyInAppRegions),
    template("AWS::ElasticLoadBalancingV2::TargetGroup", "elasticloadbalancing:ModifyTargetGroup", AnyInAppRegions),
    template("AWS::ElasticLoadBalancingV2::TargetGroup", "elasticloadbalancing:ModifyTargetGroupAttributes", AnyInAppRegions),
    template("AWS::IAM::Role", "iam:DeleteRole", Roles),
    template("AWS::IAM::Role", "iam:DeleteRolePolicy", Roles),
    template("AWS::IAM::Role", "iam:CreateRole", Roles),
    template("AWS::IAM::Role", "iam:GetRole", Roles),
    template("AWS::IAM::Role", "iam:GetRolePolicy", Roles),
    template("AWS::IAM::Role", "iam:PutRolePolicy", Roles),
    template("AWS::IAM::Role", "iam:TagRole", Roles),
    template("AWS::IAM::Role", "iam:UntagRole", Roles),
    template("AWS::IAM::Role", "iam:UpdateAssumeRolePolicy", Roles),
    // CreateKey takes no resource (the key does not exist yet); key ids are generated.
    template("AWS::KMS::Key", "kms:CreateKey", AnyInAppRegions),
    template("AWS::KMS::Key", "kms:DescribeKey", AnyInAppRegions),
    template("AWS::KMS::Key", "kms:EnableKeyRotation", AnyInAppRegions),
    template("AWS::KMS::Key", "kms:GetKeyPolicy", AnyInAppRegions),
    template("AWS::KMS::Key", "kms:GetKeyRotationStatus", AnyInAppRegions),
    template("AWS::KMS::Key", "kms:ListResourceTags", AnyInAppRegions),
    template("AWS::KMS::Key", "kms:PutKeyPolicy", AnyInAppRegions),
    template("AWS::KMS::Key", "kms:ScheduleKeyDeletion", AnyInAppRegions),
    template("AWS::KMS::Key", "kms:TagResource", AnyInAppRegions),
    template("AWS::Logs::LogGroup", "logs:AssociateKmsKey", LogGroups),
    template("AWS::Logs::LogGroup", "logs:CreateLogGroup", LogGroups),
    template("AWS::Logs::LogGroup", "logs:DeleteLogGroup", LogGroups),
    // DescribeLogGroups lists by prefix and has no resource-level permissions.
    template("AWS::Logs::LogGroup", "logs:DescribeLogGroups", AnyInAppRegions),
    template("AWS::Logs::LogGroup", "logs:ListTagsForResource", LogGroups),
    template("AWS::Logs::LogGroup", "logs:PutRetentionPolicy", LogGroups),
    template("AWS::Logs::LogGroup", "logs:TagResource", LogGroups),
];

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
            Route53Listings => "Route53Listings",
            AnyInAppRegions => "NoResourceLevelPermissionsInAppRegions",
            Accelerators => "GlobalAccelerator",
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
            Table => {
                let table = config.table_name();
                per_region(&|region| {
                    vec![
                        format!("arn:aws:dynamodb:{region}:*:table/{table}"),
                        format!("arn:aws:dynamodb:{region}:*:table/{table}/index/*"),
                        format!("arn:aws:dynamodb:{region}:*:table/{table}/stream/*"),
                        format!("arn:aws:dynamodb:{region}:*:table/{table}/backup/*"),
                    ]
                })
            }
            Repositories => {
                per_region(&|region| vec![format!("arn:aws:ecr:{region}:*:repository/{app}/*")])
            }
            // Dashboards are global resources of CloudWatch: no region in their ARN.
            Dashboard => vec![format!("arn:aws:cloudwatch::*:dashboard/{app}")],
            LogGroups => per_region(&|region| {
                vec![format!("arn:aws:logs:{region}:*:log-group:/ecs/{app}/*")]
            }),
            Ecs => per_region(&|region| {
                vec![
                    format!("arn:aws:ecs:{region}:*:cluster/{app}"),
                    format!("arn:aws:ecs:{region}:*:service/{app}/*"),
                ]
            }),
            Roles | PassRolesToTasks => vec![format!("arn:aws:iam::*:role/{app}-app-*")],
            ServiceLinkedRoles => vec!["arn:aws:iam::*:role/aws-service-role/*".to_string()],
            Route53 => vec![
                "arn:aws:route53:::hostedzone/*".to_string(),
                "arn:aws:route53:::healthcheck/*".to_string(),
                "arn:aws:route53:::change/*".to_string(),
            ],
            AnyInAppRegions | Accelerators | Route53Listings => vec!["*".to_string()],
        }
    }

    fn condition(self, config: &Config) -> Option<serde_json::Value> {
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
            Route53Listings => Some(serde_json::json!({
                "StringEquals": { "aws:RequestedRegion": crate::config::ROUTE53_CONTROL_REGION }
            })),
            PassRolesToTasks => Some(serde_json::json!({
                "StringEquals": { "iam:PassedToService": "ecs-tasks.amazonaws.com" }
            })),
            ServiceLinkedRoles => Some(serde_json::json!({
                "StringEquals": { "iam:AWSServiceName": [
                    "replication.dynamodb.amazonaws.com",
                    "ecs.amazonaws.com",
                    "ecs.application-autoscaling.amazonaws.com",
                    "elasticloadbalancing.amazonaws.com",
                ] }
            })),
            _ => None,
        }
    }
}

/// IAM's limit for the inline policies of a role, in characters without whitespace. The document
/// lists every action by name (no wildcards), which is more than a managed policy holds (6,144):
/// attach it inline to the operator's role (or an IAM Identity Center permission set, 32,768).
pub const ROLE_INLINE_POLICY_LIMIT: usize = 10_240;

/// The operator policy for this config: one statement per scope, actions merged and sorted.
pub fn policy(config: &Config) -> PolicyDocument {
    let mut actions: BTreeMap<Scope, Vec<String>> = BTreeMap::new();
    for permission in PERMISSIONS {
        let list = actions.entry(permission.scope).or_default();
        if !list.iter().any(|action| action == permission.action) {
            list.push(permission.action.to_string());
        }
    }
    PolicyDocument {
        version: "2012-10-17",
        statement: actions
            .into_iter()
            .map(|(scope, mut actions)| {
                actions.sort();
                Statement {
                    sid: scope.sid().to_string(),
                    effect: "Allow",
                    action: actions,
                    resource: scope.resources(config),
                    condition: scope.condition(config),
                }
            })
            .collect(),
    }
}

pub async fn run(config: &Config) -> Result<ExitCode> {
    let document = serde_json::to_string_pretty(&policy(config)).map_err(|error| {
        Error::config(
            format!("could not write the policy: {error}"),
            "report this bug",
        )
    })?;
    // The document is the data in both output formats.
    let mut stdout = std::io::stdout().lock();
    writeln!(stdout, "{document}")
        .and_then(|()| stdout.flush())
        .map_err(|error| Error::io("writing the policy to stdout", error))?;
    Ok(ExitCode::SUCCESS)
}
