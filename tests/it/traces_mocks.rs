//! `mysfits traces` against modeled X-Ray answers (aws-smithy-mocks): moto's GetServiceGraph is
//! a stub that always returns no services, so the map, its paging, the slowest traces' paging and
//! BatchGetTraces' 5-id limit are checked here. The shapes follow the X-Ray API reference:
//! a service's `SummaryStatistics` (TotalCount, OkCount, ErrorStatistics = 4xx,
//! FaultStatistics = 5xx, TotalResponseTime in seconds), `ResponseTimeHistogram` entries
//! (Value in seconds, Count), edges by ReferenceId; trace summaries with Duration in seconds;
//! segment documents as the collector's awsxray exporter writes them.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use aws_sdk_xray::Client;
use aws_sdk_xray::operation::batch_get_traces::BatchGetTracesOutput;
use aws_sdk_xray::operation::get_service_graph::{GetServiceGraphError, GetServiceGraphOutput};
use aws_sdk_xray::operation::get_trace_summaries::GetTraceSummariesOutput;
use aws_sdk_xray::types::error::ThrottledException;
use aws_sdk_xray::types::{
    Edge, ErrorStatistics, FaultStatistics, HistogramEntry, Http, Segment, Service,
    ServiceStatistics, TimeRangeType, Trace, TraceSummary,
};
use aws_smithy_mocks::{Rule, RuleMode, mock, mock_client};
use aws_smithy_types::DateTime;
use aws_smithy_types::error::ErrorMetadata;
use mysfits::traces::{RegionXray, Since, Window, collect};

const END: i64 = 1_767_000_000;

fn window() -> Window {
    Window {
        since: Since(Duration::from_secs(900)),
        end: DateTime::from_secs(END),
    }
}

fn region(name: &str, home: bool, rules: &[&Rule]) -> RegionXray {
    RegionXray {
        region: name.to_string(),
        home,
        client: mock_client!(aws_sdk_xray, RuleMode::MatchAny, rules),
    }
}

/// GetTraceSegmentDestination as in an account without Transaction Search: X-Ray indexes traces.
fn indexed_by_xray() -> Rule {
    use aws_sdk_xray::operation::get_trace_segment_destination::GetTraceSegmentDestinationOutput;
    use aws_sdk_xray::types::{TraceSegmentDestination, TraceSegmentDestinationStatus};
    mock!(Client::get_trace_segment_destination).then_output(|| {
        GetTraceSegmentDestinationOutput::builder()
            .destination(TraceSegmentDestination::XRay)
            .status(TraceSegmentDestinationStatus::Active)
            .build()
    })
}

fn histogram(entries: &[(f64, i32)]) -> Vec<HistogramEntry> {
    entries
        .iter()
        .map(|(value, count)| {
            HistogramEntry::builder()
                .value(*value)
                .count(*count)
                .build()
        })
        .collect()
}

/// A node with `total` requests of which `errors` 4xx and `faults` 5xx.
fn service(
    id: i32,
    name: &str,
    kind: &str,
    calls: &[i32],
    (total, errors, faults): (i64, i64, i64),
    times: &[(f64, i32)],
) -> Service {
    let mut builder = Service::builder()
        .reference_id(id)
        .name(name)
        .r#type(kind)
        .summary_statistics(
            ServiceStatistics::builder()
                .total_count(total)
                .ok_count(total - errors - faults)
                .error_statistics(
                    ErrorStatistics::builder()
                        .total_count(errors)
                        .throttle_count(0)
                        .other_count(errors)
                        .build(),
                )
                .fault_statistics(
                    FaultStatistics::builder()
                        .total_count(faults)
                        .other_count(faults)
                        .build(),
                )
                .total_response_time(
                    times
                        .iter()
                        .map(|(seconds, count)| seconds * f64::from(*count))
                        .sum(),
                )
                .build(),
        )
        .set_response_time_histogram(Some(histogram(times)));
    for call in calls {
        builder = builder.edges(Edge::builder().reference_id(*call).build());
    }
    builder.build()
}

/// us-east-1's map in two pages: like-service and mysfits-service, then DynamoDB.
/// GetServiceGraph requests as seen: StartTime, EndTime (seconds) and NextToken.
type GraphRequests = Arc<Mutex<Vec<(i64, i64, Option<String>)>>>;

fn east_graph(requests: GraphRequests) -> Rule {
    mock!(Client::get_service_graph)
        .match_requests(move |request| {
            requests.lock().unwrap().push((
                request.start_time().unwrap().secs(),
                request.end_time().unwrap().secs(),
                request.next_token().map(str::to_string),
            ));
            true
        })
        .sequence()
        .output(|| {
            GetServiceGraphOutput::builder()
                // The callers from outside, as X-Ray lists them: drawn as the tree's top.
                .services(
                    Service::builder()
                        .reference_id(0)
                        .r#type("client")
                        .edges(Edge::builder().reference_id(1).build())
                        .build(),
                )
                .services(service(
                    1,
                    "like-service",
                    "AWS::ECS::Fargate",
                    &[2],
                    (200, 4, 2),
                    &[(0.012, 100), (0.020, 97), (0.250, 3)],
                ))
                .services(service(
                    2,
                    "mysfits-service",
                    "AWS::ECS::Fargate",
                    &[3],
                    (198, 0, 1),
                    &[(0.004, 150), (0.009, 48)],
                ))
                .next_token("page-2")
                .build()
        })
        .output(|| {
            GetServiceGraphOutput::builder()
                .services(service(
                    3,
                    "DynamoDB",
                    "AWS::DynamoDB",
                    &[],
                    (198, 0, 0),
                    &[(0.003, 198)],
                ))
                .build()
        })
        .build()
}

fn empty_graph() -> Rule {
    mock!(Client::get_service_graph).then_output(|| GetServiceGraphOutput::builder().build())
}

#[tokio::test]
async fn two_regions_side_by_side_the_home_map_from_two_pages_and_a_region_without_traces() {
    let requests = Arc::new(Mutex::new(Vec::new()));
    let east_rule = east_graph(requests.clone());
    let west_rule = empty_graph();
    let regions = [
        region("us-east-1", true, &[&east_rule]),
        region("us-west-2", false, &[&west_rule]),
    ];
    let report = collect(&regions, window(), None).await;
    assert_eq!(
        *requests.lock().unwrap(),
        [
            (END - 900, END, None),
            (END - 900, END, Some("page-2".to_string()))
        ],
        "the window from --since, then the next page"
    );
    assert_eq!(
        report.text(),
        "traced requests, last 15m\n\
         us-east-1 (primary)                       us-west-2 (secondary)\n\
         client                                    no traces in the last 15m\n\
         └─ like-service\n   \
         200 req, err 2.0%, fault 1.0%\n   \
         p50 12 ms, p99 250 ms\n   \
         └─ mysfits-service\n      \
         198 req, err 0.0%, fault 0.5%\n      \
         p50 4.0 ms, p99 9.0 ms\n      \
         └─ DynamoDB\n         \
         198 req, err 0.0%, fault 0.0%\n         \
         p50 3.0 ms, p99 3.0 ms\n"
    );
    assert!(report.no_region_answered().is_none());

    let json = serde_json::to_value(&report).unwrap();
    let keys: Vec<&String> = json["regions"].as_object().unwrap().keys().collect();
    assert_eq!(keys, ["us-east-1", "us-west-2"], "home first");
    assert_eq!(json["since"], "15m");
    assert_eq!(json["since_seconds"], 900);
    assert!(json.get("slowest").is_none(), "only with --slowest");
    let like = &json["regions"]["us-east-1"]["services"][0];
    assert_eq!(
        like,
        &serde_json::json!({
            "name": "like-service",
            "type": "AWS::ECS::Fargate",
            "root": true,
            "depth": 0,
            "requests": 200,
            "ok": 194,
            "errors": 4,
            "throttles": 0,
            "faults": 2,
            "error_rate": 0.02,
            "fault_rate": 0.01,
            "average_ms": like["average_ms"],
            "p50_ms": 12.0,
            "p99_ms": 250.0,
            "calls": ["mysfits-service"],
        })
    );
    let average = like["average_ms"].as_f64().unwrap();
    assert!((average - 19.45).abs() < 1e-9, "{average}");
    assert_eq!(
        json["regions"]["us-west-2"],
        serde_json::json!({"home": false, "unreachable": null, "problem": null, "services": []})
    );
}

fn access_denied(message: Option<&str>) -> GetServiceGraphError {
    let mut meta = ErrorMetadata::builder().code("AccessDeniedException");
    if let Some(message) = message {
        meta = meta.message(message);
    }
    // X-Ray models no AccessDenied error: it reaches the SDK as an unhandled error with its code.
    GetServiceGraphError::generic(meta.build())
}

#[tokio::test]
async fn access_denied_names_the_iam_action_and_a_region_without_a_map_fails_the_command() {
    let named = mock!(Client::get_service_graph).then_error(|| {
        access_denied(Some(
            "User: arn:aws:iam::123456789012:user/ops is not authorized to perform: \
             xray:GetServiceGraph",
        ))
    });
    let unnamed = mock!(Client::get_service_graph).then_error(|| access_denied(None));
    let regions = [
        region("us-east-1", true, &[&named]),
        region("us-west-2", false, &[&unnamed]),
    ];
    let report = collect(&regions, window(), Some(3)).await;
    for map in &report.regions {
        let problem = map.problem.as_deref().unwrap();
        assert!(
            problem.starts_with(&format!(
                "GetServiceGraph in {} failed: AccessDeniedException",
                map.region
            )) && problem.contains(
                "fix: the caller may not call xray:GetServiceGraph: grant it (`mysfits \
                 iam-policy` prints the policy the CLI needs) or use a profile that has it"
            ),
            "{problem}"
        );
    }
    assert_eq!(
        report.slowest,
        Some(Vec::new()),
        "no summaries asked of a region that refused the map"
    );
    let text = report.text();
    assert_eq!(
        text.lines().nth(2),
        Some("no map (see the problem below)    no map (see the problem below)"),
        "{text}"
    );
    assert!(
        text.contains("problem in us-west-2: GetServiceGraph in us-west-2 failed"),
        "{text}"
    );
    let failure = report.no_region_answered().unwrap();
    assert!(
        failure.starts_with("no region gave its service map")
            && failure.contains("\n  - us-east-1: GetServiceGraph in us-east-1 failed"),
        "{failure}"
    );
}

#[tokio::test]
async fn a_throttled_region_is_a_problem_and_the_other_region_still_answers() {
    let throttled = mock!(Client::get_service_graph).then_error(|| {
        GetServiceGraphError::ThrottledException(
            ThrottledException::builder()
                .message("Rate exceeded")
                .meta(
                    ErrorMetadata::builder()
                        .code("ThrottledException")
                        .message("Rate exceeded")
                        .build(),
                )
                .build(),
        )
    });
    let empty = empty_graph();
    let regions = [
        region("us-east-1", true, &[&throttled]),
        region("us-west-2", false, &[&empty]),
    ];
    let report = collect(&regions, window(), None).await;
    assert!(
        report.regions[0]
            .problem
            .as_deref()
            .unwrap()
            .contains("AWS throttled GetServiceGraph in us-east-1"),
        "{:?}",
        report.regions[0]
    );
    assert!(report.regions[1].problem.is_none());
    assert!(report.no_region_answered().is_none());
}

fn summary(id: &str, seconds: f64, status: i32) -> TraceSummary {
    TraceSummary::builder()
        .id(id)
        .duration(seconds)
        .response_time(seconds)
        .has_fault(status >= 500)
        .has_error(false)
        .http(
            Http::builder()
                .http_status(status)
                .http_url("http://demo-alb/like")
                .http_method("POST")
                .build(),
        )
        .build()
}

/// A trace's segments: like-service's segment with a client call to mysfits-service, whose own
/// segment (a child of that call) has a DynamoDB subsegment.
fn trace(id: &str, start: f64, seconds: f64, status: u16) -> Trace {
    let like = serde_json::json!({
        "id": "a000000000000001", "trace_id": id, "name": "like-service",
        "start_time": start, "end_time": start + seconds,
        "http": {"request": {"method": "POST"}, "response": {"status": status}},
        "fault": status >= 500,
        "subsegments": [{
            "id": "a000000000000002", "name": "mysfits-service", "namespace": "remote",
            "start_time": start + 0.010, "end_time": start + seconds - 0.010,
            "http": {"response": {"status": status}}, "fault": status >= 500,
        }],
    });
    let mysfits = serde_json::json!({
        "id": "b000000000000001", "trace_id": id, "name": "mysfits-service",
        "parent_id": "a000000000000002",
        "start_time": start + 0.012, "end_time": start + seconds - 0.012,
        "http": {"response": {"status": status}}, "fault": status >= 500,
        "subsegments": [{
            "id": "b000000000000002", "name": "DynamoDB", "namespace": "aws",
            "start_time": start + seconds / 2.0, "end_time": start + seconds - 0.020,
            "aws": {"operation": "UpdateItem", "table_name": "demo-mysfits"},
            "http": {"response": {"status": 200}},
        }],
    });
    // X-Ray lists segments in no particular order.
    Trace::builder()
        .id(id)
        .duration(seconds)
        .segments(
            Segment::builder()
                .id("b000000000000001")
                .document(mysfits.to_string())
                .build(),
        )
        .segments(
            Segment::builder()
                .id("a000000000000001")
                .document(like.to_string())
                .build(),
        )
        .build()
}

#[tokio::test]
async fn the_slowest_traces_across_regions_are_waterfalls_nested_by_parent_id() {
    let east_summaries = mock!(Client::get_trace_summaries)
        .match_requests(|request| {
            request.time_range_type() == Some(&TimeRangeType::TraceId)
                && request.sampling() == Some(false)
                && request.start_time().map(DateTime::secs) == Some(END - 900)
        })
        .sequence()
        .output(|| {
            GetTraceSummariesOutput::builder()
                .trace_summaries(summary("1-6950a100-aaaaaaaaaaaaaaaaaaaaaaaa", 0.120, 200))
                .next_token("older")
                .build()
        })
        .output(|| {
            GetTraceSummariesOutput::builder()
                .trace_summaries(summary("1-6950a000-bbbbbbbbbbbbbbbbbbbbbbbb", 0.010, 200))
                .build()
        })
        .build();
    let west_summaries = mock!(Client::get_trace_summaries).then_output(|| {
        GetTraceSummariesOutput::builder()
            .trace_summaries(summary("1-6950a200-cccccccccccccccccccccccc", 0.300, 503))
            .build()
    });
    let east_traces = mock!(Client::batch_get_traces)
        .match_requests(|request| request.trace_ids() == ["1-6950a100-aaaaaaaaaaaaaaaaaaaaaaaa"])
        .then_output(|| {
            BatchGetTracesOutput::builder()
                .traces(trace(
                    "1-6950a100-aaaaaaaaaaaaaaaaaaaaaaaa",
                    1_767_000_100.0,
                    0.120,
                    200,
                ))
                .build()
        });
    let west_traces = mock!(Client::batch_get_traces)
        .match_requests(|request| request.trace_ids() == ["1-6950a200-cccccccccccccccccccccccc"])
        .then_output(|| {
            BatchGetTracesOutput::builder()
                .traces(trace(
                    "1-6950a200-cccccccccccccccccccccccc",
                    1_767_000_200.0,
                    0.300,
                    503,
                ))
                .build()
        });
    let (east_graph, west_graph) = (empty_graph(), empty_graph());
    let (east_destination, west_destination) = (indexed_by_xray(), indexed_by_xray());
    let regions = [
        region(
            "us-east-1",
            true,
            &[
                &east_graph,
                &east_destination,
                &east_summaries,
                &east_traces,
            ],
        ),
        region(
            "us-west-2",
            false,
            &[
                &west_graph,
                &west_destination,
                &west_summaries,
                &west_traces,
            ],
        ),
    ];
    let report = collect(&regions, window(), Some(2)).await;
    assert_eq!(east_summaries.num_calls(), 2, "both pages of summaries");
    let slowest = report.slowest.as_ref().unwrap();
    assert_eq!(
        slowest
            .iter()
            .map(|trace| (trace.region.as_str(), trace.id.as_str()))
            .collect::<Vec<_>>(),
        [
            ("us-west-2", "1-6950a200-cccccccccccccccccccccccc"),
            ("us-east-1", "1-6950a100-aaaaaaaaaaaaaaaaaaaaaaaa")
        ],
        "the two longest of all regions, slowest first"
    );
    let spans: Vec<(usize, &str, Option<&str>)> = slowest[0]
        .spans
        .iter()
        .map(|span| (span.depth, span.name.as_str(), span.parent_id.as_deref()))
        .collect();
    assert_eq!(
        spans,
        [
            (0, "like-service", None),
            (1, "mysfits-service", Some("a000000000000001")),
            (2, "mysfits-service", Some("a000000000000002")),
            (3, "DynamoDB", Some("b000000000000001")),
        ]
    );
    let text = slowest[0].text();
    assert_eq!(
        text,
        concat!(
            "trace 1-6950a200-cccccccccccccccccccccccc in us-west-2: 300.0 ms http://demo-alb/like (503 fault)\n",
            "        0.0 ms     300.0 ms |██████████████████████████████| like-service                         503 fault\n",
            "       10.0 ms     280.0 ms | ████████████████████████████ |   mysfits-service                    503 fault\n",
            "       12.0 ms     276.0 ms | ████████████████████████████ |     mysfits-service                  503 fault\n",
            "      150.0 ms     130.0 ms |               █████████████  |       DynamoDB UpdateItem            200\n",
        )
    );
    let json = serde_json::to_value(&report).unwrap();
    assert_eq!(json["slowest"][0]["spans"][3]["operation"], "UpdateItem");
    assert_eq!(json["slowest"][0]["http_status"], 503);
    assert_eq!(json["slowest"][0]["fault"], true);
}

#[tokio::test]
async fn batch_get_traces_is_asked_at_most_five_ids_a_call() {
    let ids: Vec<String> = (0..7)
        .map(|index| format!("1-6950a00{index}-{:024}", index))
        .collect();
    let listed = ids.clone();
    let summaries = mock!(Client::get_trace_summaries).then_output(move || {
        let mut page = GetTraceSummariesOutput::builder();
        for (index, id) in listed.iter().enumerate() {
            page = page.trace_summaries(summary(id, 0.010 * (index as f64 + 1.0), 200));
        }
        page.build()
    });
    let asked = Arc::new(Mutex::new(Vec::new()));
    let seen = asked.clone();
    let batches = mock!(Client::batch_get_traces)
        .match_requests(move |request| {
            seen.lock().unwrap().push(request.trace_ids().len());
            true
        })
        .then_output(|| BatchGetTracesOutput::builder().build());
    let (graph, destination) = (empty_graph(), indexed_by_xray());
    let regions = [region(
        "us-east-1",
        true,
        &[&graph, &destination, &summaries, &batches],
    )];
    let report = collect(&regions, window(), Some(6)).await;
    assert_eq!(*asked.lock().unwrap(), [5, 1]);
    let slowest = report.slowest.unwrap();
    assert_eq!(slowest.len(), 6);
    assert_eq!(slowest[0].id, ids[6], "the longest first");
    assert!(
        slowest[0]
            .text()
            .ends_with("(X-Ray returned no segments for this trace)\n"),
        "{}",
        slowest[0].text()
    );
}

/// With Transaction Search on, X-Ray sends segments to CloudWatch Logs and BatchGetTraces finds
/// none: such a region is not asked for summaries, and a note says where its traces are and how
/// to switch back; a region where X-Ray still indexes traces is listed as before, and one whose
/// destination cannot be read (AccessDenied) is still asked, with a note naming the permission.
#[tokio::test]
async fn a_region_with_transaction_search_on_is_named_with_where_its_traces_are() {
    use aws_sdk_xray::operation::get_trace_segment_destination::{
        GetTraceSegmentDestinationError, GetTraceSegmentDestinationOutput,
    };
    use aws_sdk_xray::types::{TraceSegmentDestination, TraceSegmentDestinationStatus};
    let to_logs = mock!(Client::get_trace_segment_destination).then_output(|| {
        GetTraceSegmentDestinationOutput::builder()
            .destination(TraceSegmentDestination::CloudWatchLogs)
            .status(TraceSegmentDestinationStatus::Active)
            .build()
    });
    let east_summaries = mock!(Client::get_trace_summaries).then_output(|| {
        GetTraceSummariesOutput::builder()
            .trace_summaries(summary("1-6950a100-aaaaaaaaaaaaaaaaaaaaaaaa", 0.120, 200))
            .build()
    });
    let to_xray = indexed_by_xray();
    let west_summaries = mock!(Client::get_trace_summaries).then_output(|| {
        GetTraceSummariesOutput::builder()
            .trace_summaries(summary("1-6950a200-cccccccccccccccccccccccc", 0.300, 200))
            .build()
    });
    let west_traces = mock!(Client::batch_get_traces).then_output(|| {
        BatchGetTracesOutput::builder()
            .traces(trace(
                "1-6950a200-cccccccccccccccccccccccc",
                1_767_000_200.0,
                0.300,
                200,
            ))
            .build()
    });
    let (east_graph, west_graph) = (empty_graph(), empty_graph());
    let regions = [
        region("us-east-1", true, &[&east_graph, &to_logs, &east_summaries]),
        region(
            "us-west-2",
            false,
            &[&west_graph, &to_xray, &west_summaries, &west_traces],
        ),
    ];
    let report = collect(&regions, window(), Some(3)).await;
    assert_eq!(
        east_summaries.num_calls(),
        0,
        "not asked: X-Ray has none there"
    );
    let slowest = report.slowest.as_ref().unwrap();
    assert_eq!(
        slowest
            .iter()
            .map(|trace| trace.region.as_str())
            .collect::<Vec<_>>(),
        ["us-west-2"]
    );
    assert_eq!(report.notes.len(), 1, "{:?}", report.notes);
    let note = &report.notes[0];
    assert!(
        note.starts_with("us-east-1: Transaction Search is on (active)")
            && note.contains("Transaction Search")
            && note.contains("--destination XRay --region us-east-1"),
        "{note}"
    );
    assert!(report.text().contains(&format!("note: {note}")));

    let denied = mock!(Client::get_trace_segment_destination).then_error(|| {
        GetTraceSegmentDestinationError::generic(
            ErrorMetadata::builder()
                .code("AccessDeniedException")
                .message("not authorized to perform: xray:GetTraceSegmentDestination")
                .build(),
        )
    });
    let summaries = mock!(Client::get_trace_summaries)
        .then_output(|| GetTraceSummariesOutput::builder().build());
    let graph = empty_graph();
    let regions = [region("us-east-1", true, &[&graph, &denied, &summaries])];
    let report = collect(&regions, window(), Some(3)).await;
    assert_eq!(summaries.num_calls(), 1, "still asked");
    assert_eq!(report.notes.len(), 1, "{:?}", report.notes);
    assert!(
        report.notes[0].contains("xray:GetTraceSegmentDestination"),
        "{:?}",
        report.notes
    );
}
