//! Container Insights log groups: ECS itself creates `/aws/ecs/containerinsights/<cluster>/...`
//! (e.g. `.../performance`) for a cluster with Container Insights on. No stack owns them, so the
//! app stack's deletion leaves them behind: teardown deletes them once the cluster is gone (ECS
//! writes to them as long as it runs), and verification lists what is still there.

use aws_sdk_cloudwatchlogs::operation::delete_log_group::DeleteLogGroupError;

use crate::aws::{RegionClients, aws_error};
use crate::error::Result;

/// Where ECS puts the Container Insights log groups of cluster `cluster`.
pub fn log_group_prefix(cluster: &str) -> String {
    format!("/aws/ecs/containerinsights/{cluster}/")
}

/// The log groups under `prefix`, every page of DescribeLogGroups.
pub async fn log_groups_under(clients: &RegionClients, prefix: &str) -> Result<Vec<String>> {
    let groups = clients
        .logs
        .describe_log_groups()
        .log_group_name_prefix(prefix)
        .into_paginator()
        .items()
        .send()
        .try_collect()
        .await
        .map_err(|error| aws_error("DescribeLogGroups", &clients.region, &error))?;
    Ok(groups
        .iter()
        .filter_map(|group| group.log_group_name())
        .filter(|name| name.starts_with(prefix))
        .map(str::to_string)
        .collect())
}

/// Deletes the Container Insights log groups of cluster `cluster`; one already gone
/// (ResourceNotFoundException) counts as deleted.
pub async fn delete_insights_log_groups(clients: &RegionClients, cluster: &str) -> Result<String> {
    let prefix = log_group_prefix(cluster);
    let names = log_groups_under(clients, &prefix).await?;
    for name in &names {
        match clients
            .logs
            .delete_log_group()
            .log_group_name(name)
            .send()
            .await
        {
            Ok(_) => {}
            Err(error)
                if matches!(
                    error.as_service_error(),
                    Some(DeleteLogGroupError::ResourceNotFoundException(_))
                ) => {}
            Err(error) => return Err(aws_error("DeleteLogGroup", &clients.region, &error)),
        }
    }
    Ok(if names.is_empty() {
        format!("no Container Insights log groups under {prefix}")
    } else {
        format!(
            "{} Container Insights log group(s) deleted: {}",
            names.len(),
            names.join(", ")
        )
    })
}
