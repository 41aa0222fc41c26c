//! `--slowest N`: GetTraceSummaries in every answering region over the window (by trace start,
//! all traces rather than X-Ray's sample), the N longest by Duration across regions, their
//! segments from BatchGetTraces (at most 5 ids a call), and each drawn as a waterfall: segments
//! and subsegments by start offset and duration, nested by parent id.

use aws_sdk_xray::error::ProvideErrorMetadata;
use aws_sdk_xray::types::{Trace, TraceSummary};
use serde::Serialize;

use super::{
    MOST_SUMMARY_PAGES, RegionXray, SUMMARY_TIME_RANGE, TRACE_IDS_PER_CALL, Window, aws_error,
};
use crate::aws::describe::bounded;

/// The most spans a waterfall prints; the rest are counted on a last line.
pub const MOST_SPANS: usize = 40;
/// Characters of the bar column.
const BAR_WIDTH: usize = 30;
/// Characters of a span's label (indentation included).
const LABEL_WIDTH: usize = 36;

/// One trace, its spans in waterfall order.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TraceView {
    pub region: String,
    pub id: String,
    pub duration_ms: f64,
    pub http_status: Option<u16>,
    pub url: Option<String>,
    pub error: bool,
    pub fault: bool,
    pub spans: Vec<Span>,
}

/// A segment (one service's part of the trace) or a subsegment (a call it made).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Span {
    pub id: String,
    pub parent_id: Option<String>,
    pub name: String,
    /// For an AWS call, the operation (e.g. GetItem).
    pub operation: Option<String>,
    pub depth: usize,
    /// From the trace's first start.
    pub offset_ms: f64,
    pub duration_ms: Option<f64>,
    pub http_status: Option<u16>,
    pub error: bool,
    pub fault: bool,
    pub throttle: bool,
}

/// A span as read from a segment document, before ordering.
struct RawSpan {
    id: String,
    parent_id: Option<String>,
    name: String,
    operation: Option<String>,
    start: f64,
    end: Option<f64>,
    http_status: Option<u16>,
    error: bool,
    fault: bool,
    throttle: bool,
}

/// Reads a segment document (X-Ray's JSON) and its subsegments, nested at any depth.
fn read_spans(document: &serde_json::Value, parent_id: Option<String>, spans: &mut Vec<RawSpan>) {
    let Some(id) = document["id"].as_str() else {
        return;
    };
    let status = document["http"]["response"]["status"]
        .as_u64()
        .and_then(|status| u16::try_from(status).ok());
    spans.push(RawSpan {
        id: id.to_string(),
        parent_id: parent_id.or_else(|| document["parent_id"].as_str().map(str::to_string)),
        name: document["name"].as_str().unwrap_or("(unnamed)").to_string(),
        operation: document["aws"]["operation"].as_str().map(str::to_string),
        start: document["start_time"].as_f64().unwrap_or(0.0),
        end: document["end_time"].as_f64(),
        http_status: status,
        error: document["error"].as_bool().unwrap_or(false),
        fault: document["fault"].as_bool().unwrap_or(false),
        throttle: document["throttle"].as_bool().unwrap_or(false),
    });
    if let Some(children) = document["subsegments"].as_array() {
        for child in children {
            read_spans(child, Some(id.to_string()), spans);
        }
    }
}

/// The trace's spans in waterfall order: each root (a span whose parent is not in the trace) by
/// start time, then its children by start time, depth first.
pub fn spans_of(trace: &Trace) -> Vec<Span> {
    let mut raw = Vec::new();
    for segment in trace.segments() {
        let Some(document) = segment.document() else {
            continue;
        };
        if let Ok(document) = serde_json::from_str::<serde_json::Value>(document) {
            read_spans(&document, None, &mut raw);
        }
    }
    raw.sort_by(|a, b| a.start.total_cmp(&b.start).then(a.id.cmp(&b.id)));
    let first_start = raw.first().map_or(0.0, |span| span.start);
    let known = |id: &Option<String>| {
        id.as_ref()
            .is_some_and(|id| raw.iter().any(|span| &span.id == id))
    };
    let mut ordered = Vec::new();
    let mut stack: Vec<(usize, usize)> = raw
        .iter()
        .enumerate()
        .filter(|(_, span)| !known(&span.parent_id))
        .map(|(index, _)| (index, 0))
        .rev()
        .collect();
    let mut seen = vec![false; raw.len()];
    while let Some((index, depth)) = stack.pop() {
        if std::mem::replace(&mut seen[index], true) {
            continue;
        }
        let span = &raw[index];
        ordered.push(Span {
            id: span.id.clone(),
            parent_id: span.parent_id.clone(),
            name: span.name.clone(),
            operation: span.operation.clone(),
            depth,
            offset_ms: (span.start - first_start) * 1000.0,
            duration_ms: span.end.map(|end| (end - span.start) * 1000.0),
            http_status: span.http_status,
            error: span.error,
            fault: span.fault,
            throttle: span.throttle,
        });
        let children = raw
            .iter()
            .enumerate()
            .filter(|(_, child)| child.parent_id.as_deref() == Some(span.id.as_str()))
            .map(|(child, _)| (child, depth + 1))
            .rev();
        stack.extend(children);
    }
    ordered
}

/// The summaries of one region, as many pages as [`MOST_SUMMARY_PAGES`] allows.
async fn summaries(
    region: &RegionXray,
    window: Window,
    notes: &mut Vec<String>,
) -> Vec<TraceSummary> {
    let mut found = Vec::new();
    let mut next_token: Option<String> = None;
    for page_number in 0..MOST_SUMMARY_PAGES {
        let answer = region
            .client
            .get_trace_summaries()
            .start_time(window.start())
            .end_time(window.end)
            .time_range_type(SUMMARY_TIME_RANGE)
            .sampling(false)
            .set_next_token(next_token.take())
            .send()
            .await;
        match answer {
            Ok(page) => {
                found.extend(page.trace_summaries().iter().cloned());
                match page.next_token() {
                    Some(token) if !token.is_empty() => next_token = Some(token.to_string()),
                    _ => return found,
                }
                if page_number + 1 == MOST_SUMMARY_PAGES {
                    notes.push(format!(
                        "{}: the slowest were chosen among the {} most recent traces ({} pages \
                         of trace summaries); use a shorter --since to cover the whole window",
                        region.region,
                        found.len(),
                        MOST_SUMMARY_PAGES
                    ));
                }
            }
            Err(error) => {
                notes.push(aws_error("GetTraceSummaries", &region.region, &error).to_string());
                return found;
            }
        }
    }
    found
}

/// Whether X-Ray still indexes the region's traces. With Transaction Search on, segments go to
/// CloudWatch Logs instead, and BatchGetTraces' reference says it then finds no traces: the
/// region is skipped with a note saying where its traces are, rather than shown as "no traces".
/// An answer that does not tell (the permission missing, an error) leaves the region in.
async fn xray_indexes_traces(region: &RegionXray, notes: &mut Vec<String>) -> bool {
    use aws_sdk_xray::types::TraceSegmentDestination;
    match region.client.get_trace_segment_destination().send().await {
        Ok(answer) if answer.destination() == Some(&TraceSegmentDestination::CloudWatchLogs) => {
            let status = answer
                .status()
                .map_or("", |status| status.as_str())
                .to_ascii_lowercase();
            notes.push(format!(
                "{}: Transaction Search is on ({status}): trace segments go to CloudWatch Logs \
                 (aws/spans), which X-Ray's BatchGetTraces does not read, so this region's \
                 slowest traces cannot be listed here; search them in the CloudWatch console \
                 (Application Signals > Transaction Search), or switch the account back with \
                 `aws xray update-trace-segment-destination --destination XRay --region {}`",
                region.region, region.region
            ));
            false
        }
        Ok(_) => true,
        Err(error) => {
            if error.code() == Some("AccessDeniedException") {
                notes.push(format!(
                    "{}: could not tell whether Transaction Search is on (AccessDenied on \
                     xray:GetTraceSegmentDestination; `mysfits iam-policy` lists it); if it \
                     is, X-Ray finds no traces to list",
                    region.region
                ));
            }
            true
        }
    }
}

/// The `count` slowest traces of the answering regions, slowest first, with their spans.
pub async fn slowest(
    regions: &[&RegionXray],
    window: Window,
    count: usize,
    notes: &mut Vec<String>,
) -> Vec<TraceView> {
    let mut candidates: Vec<(&RegionXray, TraceSummary)> = Vec::new();
    for region in regions {
        if !xray_indexes_traces(region, notes).await {
            continue;
        }
        for summary in summaries(region, window, notes).await {
            candidates.push((region, summary));
        }
    }
    candidates.sort_by(|(_, a), (_, b)| {
        b.duration
            .unwrap_or(0.0)
            .total_cmp(&a.duration.unwrap_or(0.0))
            .then(a.id.cmp(&b.id))
    });
    candidates.truncate(count);
    let mut views = Vec::new();
    for region in regions {
        let ids: Vec<String> = candidates
            .iter()
            .filter(|(owner, _)| owner.region == region.region)
            .filter_map(|(_, summary)| summary.id.clone())
            .collect();
        let traces = traces(region, &ids, notes).await;
        for (owner, summary) in &candidates {
            if owner.region != region.region {
                continue;
            }
            let trace = traces.iter().find(|trace| trace.id == summary.id);
            views.push(view(&region.region, summary, trace));
        }
    }
    views.sort_by(|a, b| {
        b.duration_ms
            .total_cmp(&a.duration_ms)
            .then(a.id.cmp(&b.id))
    });
    views
}

/// BatchGetTraces for `ids`, [`TRACE_IDS_PER_CALL`] at a time, every page of each.
async fn traces(region: &RegionXray, ids: &[String], notes: &mut Vec<String>) -> Vec<Trace> {
    let mut found = Vec::new();
    for chunk in ids.chunks(TRACE_IDS_PER_CALL) {
        let mut next_token: Option<String> = None;
        loop {
            let answer = region
                .client
                .batch_get_traces()
                .set_trace_ids(Some(chunk.to_vec()))
                .set_next_token(next_token.take())
                .send()
                .await;
            match answer {
                Ok(page) => {
                    found.extend(page.traces().iter().cloned());
                    if !page.unprocessed_trace_ids().is_empty() {
                        notes.push(format!(
                            "{}: X-Ray did not return the segments of {}",
                            region.region,
                            page.unprocessed_trace_ids().join(", ")
                        ));
                    }
                    match page.next_token() {
                        Some(token) if !token.is_empty() => next_token = Some(token.to_string()),
                        _ => break,
                    }
                }
                Err(error) => {
                    notes.push(aws_error("BatchGetTraces", &region.region, &error).to_string());
                    break;
                }
            }
        }
    }
    // One trace may come in several pages, each with some of its segments.
    let mut merged: Vec<Trace> = Vec::new();
    for trace in found {
        match merged.iter_mut().find(|known| known.id == trace.id) {
            Some(known) => {
                known
                    .segments
                    .get_or_insert_with(Vec::new)
                    .extend(trace.segments().iter().cloned());
            }
            None => merged.push(trace),
        }
    }
    merged
}

fn view(region: &str, summary: &TraceSummary, trace: Option<&Trace>) -> TraceView {
    let http = summary.http();
    TraceView {
        region: region.to_string(),
        id: summary.id.clone().unwrap_or_default(),
        duration_ms: summary.duration.unwrap_or(0.0) * 1000.0,
        http_status: http
            .and_then(|http| http.http_status)
            .and_then(|status| u16::try_from(status).ok()),
        url: http.and_then(|http| http.http_url.clone()),
        error: summary.has_error == Some(true),
        fault: summary.has_fault == Some(true),
        spans: trace.map(spans_of).unwrap_or_default(),
    }
}

fn marks(http_status: Option<u16>, error: bool, fault: bool, throttle: bool) -> String {
    let mut parts = Vec::new();
    if let Some(status) = http_status {
        parts.push(status.to_string());
    }
    if fault {
        parts.push("fault".to_string());
    }
    if error {
        parts.push("error".to_string());
    }
    if throttle {
        parts.push("throttle".to_string());
    }
    parts.join(" ")
}

impl TraceView {
    /// A header line, then one line per span: offset, duration, a bar on the trace's time scale,
    /// the indented name (and operation) and its status.
    pub fn text(&self) -> String {
        let mut text = format!(
            "trace {} in {}: {:.1} ms{}{}\n",
            self.id,
            self.region,
            self.duration_ms,
            self.url
                .as_deref()
                .map(|url| format!(" {}", bounded(url, 60)))
                .unwrap_or_default(),
            match marks(self.http_status, self.error, self.fault, false) {
                marks if marks.is_empty() => String::new(),
                marks => format!(" ({marks})"),
            }
        );
        if self.spans.is_empty() {
            text.push_str("  (X-Ray returned no segments for this trace)\n");
            return text;
        }
        let total = self
            .spans
            .iter()
            .map(|span| span.offset_ms + span.duration_ms.unwrap_or(0.0))
            .fold(self.duration_ms, f64::max)
            .max(f64::EPSILON);
        for span in self.spans.iter().take(MOST_SPANS) {
            let scale = BAR_WIDTH as f64 / total;
            let lead = ((span.offset_ms * scale).round() as usize).min(BAR_WIDTH - 1);
            let length = span
                .duration_ms
                .map_or(1, |duration| (duration * scale).round().max(1.0) as usize)
                .min(BAR_WIDTH - lead);
            let bar = format!(
                "{}{}{}",
                " ".repeat(lead),
                "█".repeat(length),
                " ".repeat(BAR_WIDTH - lead - length)
            );
            let mut label = format!("{}{}", "  ".repeat(span.depth), span.name);
            if let Some(operation) = &span.operation {
                label.push_str(&format!(" {operation}"));
            }
            let label = bounded(&label, LABEL_WIDTH);
            let duration = span
                .duration_ms
                .map(|duration| format!("{duration:.1} ms"))
                .unwrap_or_else(|| "in progress".to_string());
            let line = format!(
                "  {:>9.1} ms {:>12} |{bar}| {label:<LABEL_WIDTH$} {}",
                span.offset_ms,
                duration,
                marks(span.http_status, span.error, span.fault, span.throttle)
            );
            text.push_str(line.trim_end());
            text.push('\n');
        }
        if self.spans.len() > MOST_SPANS {
            text.push_str(&format!(
                "  … {} more spans (--output json lists them all)\n",
                self.spans.len() - MOST_SPANS
            ));
        }
        text
    }
}
