//! A stack's events streamed as progress: each DescribeStackEvents page is newest first, so the
//! stream remembers the newest event it has shown and emits what came after it, oldest first.
//! Event trouble never fails a deploy: the stack status is what decides.

use std::collections::BTreeMap;

use aws_sdk_cloudformation::Client;

use crate::progress::{Event, Events};

/// The id of the stack's newest event, so that a stream starts after it.
pub async fn newest_event_id(cloudformation: &Client, stack: &str) -> Option<String> {
    let response = cloudformation
        .describe_stack_events()
        .stack_name(stack)
        .send()
        .await
        .ok()?;
    response
        .stack_events()
        .first()
        .and_then(|event| event.event_id().map(str::to_string))
}

/// The events of one stack, emitted as [`Event::Resource`] of one plan step.
pub struct EventStream<'a> {
    pub cloudformation: &'a Client,
    pub stack: &'a str,
    pub events: &'a Events,
    pub step: &'a str,
    /// Each logical id's `Metadata.Description` from the template, for the progress view.
    pub descriptions: BTreeMap<String, String>,
}

impl EventStream<'_> {
    /// Emits the events newer than `newest_seen` (oldest first); returns the new newest id.
    pub async fn emit_new(&self, newest_seen: Option<String>) -> Option<String> {
        let Ok(response) = self
            .cloudformation
            .describe_stack_events()
            .stack_name(self.stack)
            .send()
            .await
        else {
            return newest_seen;
        };
        let events = response.stack_events();
        let fresh: Vec<_> = events
            .iter()
            .take_while(|event| {
                event.event_id().is_none() || event.event_id() != newest_seen.as_deref()
            })
            .collect();
        for event in fresh.iter().rev() {
            let logical_id = event.logical_resource_id().unwrap_or_default().to_string();
            self.events.emit(Event::Resource {
                step: self.step.to_string(),
                description: self.descriptions.get(&logical_id).cloned(),
                logical_id,
                resource_type: event.resource_type().unwrap_or_default().to_string(),
                status: event
                    .resource_status()
                    .map(|status| status.as_str().to_string())
                    .unwrap_or_default(),
                reason: event.resource_status_reason().map(str::to_string),
            });
        }
        events
            .first()
            .and_then(|event| event.event_id().map(str::to_string))
            .or(newest_seen)
    }
}
