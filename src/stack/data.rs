//! Where the catalogue table belongs: the data stack (templates/data.yaml) in the home region.
//!
//! A deployment made before data stacks had the table in its home app stack. Its next deploy
//! moves it without touching the data: the app stack's update drops the table from its template
//! (the table's `DeletionPolicy: RetainExceptOnCreate` retains it, since that stack operation did
//! not create it), then the data stack imports it (an IMPORT change set), which CloudFormation
//! allows only for a resource no other stack manages. The same import adopts a table left outside
//! any stack, e.g. by a teardown stopped between deleting the data stack and deleting the table.

use aws_sdk_cloudformation::types::ResourceToImport;

use super::deploy::{StackDeployer, StackResult};
use super::{StackKind, data_request};
use crate::app::template::TABLE_RESOURCE;
use crate::aws::{RegionClients, aws_error, error_code};
use crate::cancel::Cancellation;
use crate::config::Config;
use crate::error::{Error, Result};
use crate::progress::Events;

/// The table's resource type, and its primary identifier for an import.
const TABLE_TYPE: &str = "AWS::DynamoDB::Table";
const TABLE_IDENTIFIER: &str = "TableName";

/// Whether `stack_name` manages the table: DescribeStackResource answers a ValidationError both
/// when the stack does not exist and when it has no such logical id.
pub async fn stack_has_table(clients: &RegionClients, stack_name: &str) -> Result<bool> {
    match clients
        .cloudformation
        .describe_stack_resource()
        .stack_name(stack_name)
        .logical_resource_id(TABLE_RESOURCE)
        .send()
        .await
    {
        // A resource whose creation or import failed or rolled back, or that was deleted or left
        // out of a deletion, is not the stack's.
        Ok(found) => Ok(found
            .stack_resource_detail()
            .and_then(|detail| detail.resource_status())
            .is_some_and(|status| {
                !matches!(
                    status.as_str(),
                    "DELETE_COMPLETE"
                        | "DELETE_SKIPPED"
                        | "CREATE_FAILED"
                        | "IMPORT_FAILED"
                        | "IMPORT_ROLLBACK_IN_PROGRESS"
                        | "IMPORT_ROLLBACK_COMPLETE"
                        | "IMPORT_ROLLBACK_FAILED"
                )
            })),
        Err(error) if error_code(&error) == Some("ValidationError") => Ok(false),
        Err(error) => Err(aws_error("DescribeStackResource", &clients.region, &error)),
    }
}

/// Whether the home app stack still manages the table (a deployment made before data stacks).
pub async fn app_stack_has_table(config: &Config, home: &RegionClients) -> Result<bool> {
    stack_has_table(home, &StackKind::App.stack_name(&config.app)).await
}

/// The resources the data stack's deploy must import: the table when it exists but the data
/// stack does not manage it yet; nothing when the data stack has it or it does not exist (then
/// the stack creates it).
pub async fn table_import(config: &Config, home: &RegionClients) -> Result<Vec<ResourceToImport>> {
    if stack_has_table(home, &StackKind::Data.stack_name(&config.app)).await? {
        return Ok(Vec::new());
    }
    let table = config.table_name();
    let app_stack = StackKind::App.stack_name(&config.app);
    if stack_has_table(home, &app_stack).await? {
        // The plan orders the move after the app stack's update when it saw this before the
        // deploy began; here it did not (the region did not answer then, or a deploy of an
        // older mysfits ran since).
        return Err(Error::config(
            format!(
                "table {table} is still managed by stack {app_stack} in {}, so the data stack cannot take it over yet",
                home.region
            ),
            "run `mysfits deploy` again: it updates the app stack first, which lets go of the table (it is retained, not deleted), then the data stack imports it",
        ));
    }
    match home
        .dynamodb
        .describe_table()
        .table_name(&table)
        .send()
        .await
    {
        Ok(described)
            if described
                .table()
                .and_then(|table| table.table_status())
                .is_some_and(|status| {
                    *status == aws_sdk_dynamodb::types::TableStatus::Deleting
                }) =>
        {
            Err(Error::config(
                format!(
                    "table {table} in {} is being deleted (by a teardown?), so the data stack can neither import nor create it now",
                    home.region
                ),
                "wait until the deletion is over (`mysfits status` shows the table), then run `mysfits deploy` again: it creates the table anew",
            ))
        }
        Ok(_) => Ok(vec![
            ResourceToImport::builder()
                .resource_type(TABLE_TYPE)
                .logical_resource_id(TABLE_RESOURCE)
                .resource_identifier(TABLE_IDENTIFIER, table)
                .build(),
        ]),
        Err(error) if error_code(&error) == Some("ResourceNotFoundException") => Ok(Vec::new()),
        Err(error) => Err(aws_error("DescribeTable", &home.region, &error)),
    }
}

/// Deploys the data stack in the home region (`home`): creates or updates it, or imports the
/// table when it exists outside the stack and then updates the stack once more, since an import
/// may add no tags and applies nothing of the template.
pub async fn deploy(
    config: &Config,
    home: &RegionClients,
    events: Events,
    step: &str,
) -> Result<StackResult> {
    let request = data_request(config);
    let deployer = |import| {
        StackDeployer::new(&home.cloudformation, &request, events.clone(), step).with_import(import)
    };
    // Decided on the stack at rest: an import or update still running from an earlier run
    // (Ctrl-C leaves an import running) ends first, and what it left decides. A stack step winds
    // down by itself on Ctrl-C (see `Plan::nodes`): so do these lookups.
    let cancellation = Cancellation::current();
    let import = tokio::select! {
        import = async {
            deployer(Vec::new()).settle().await?;
            table_import(config, home).await
        } => import?,
        () = cancellation.cancelled() => return Err(Error::Interrupted),
    };
    if import.is_empty() {
        return deployer(Vec::new()).deploy().await;
    }
    events.note(
        step,
        format!(
            "table {} exists outside the data stack: importing it (the data is not touched)",
            config.table_name()
        ),
    );
    let imported = deployer(import).deploy().await?;
    events.note(
        step,
        format!(
            "table {} imported into {}; updating the stack to its tags",
            config.table_name(),
            imported.stack_name
        ),
    );
    let mut updated = deployer(Vec::new()).deploy().await?;
    updated.changed = true;
    Ok(updated)
}
