//! PromQL parity: Strata evaluates every function and operator class exactly like
//! Prometheus 2.42 (Debian) on the same samples.
//!
//! The same deterministic remote-write requests go to a Prometheus started with
//! `--web.enable-remote-write-receiver` (`/api/v1/write`) and to Strata (`/api/v1/push`,
//! tenant `parity`): counters (some with resets) that start well before the compared window,
//! gauges, classic histograms, NaN values and stale markers, every 15 s over 65 minutes of
//! past time. Then each query runs as an instant query at three times and as range queries
//! (steps 30 s and 47 s) on both; status, `errorType`, result type, series and every value
//! must agree (exactly, or within 1e-12 relative; the count needing the tolerance and the
//! largest relative difference are printed). Error cases compare status and `errorType`.
//!
//! Strata follows today's Prometheus; [`KNOWN_DIFFERENCES`] lists where that differs from
//! 2.42 and how the data and times here keep clear of it. Samples sit at 3 s past a 15 s
//! epoch multiple and query times at half seconds (7.5 s after a sample), so with whole-second
//! ranges, offsets and steps no evaluation time or range boundary coincides with a sample;
//! subquery steps are epoch multiples of 5 s, never on a sample nor on a half-second boundary
//! (range selectors and subqueries became left-open in 3.0). The few cases that hit a known
//! difference on purpose use a [`Check`] that accepts exactly that deviation and prints it;
//! [`EXPECTED_FAILURES`] is where unexplained disagreements would be listed.
//!
//! `prometheus_receiver_evaluates_like_prometheus_2_42` (ignored) runs the same with a second
//! Prometheus 2.42 in Strata's place: every value is then bit-identical, which shows the
//! harness makes no differences of its own.

use std::fmt::Write as _;

use strata_tests::api::{Auth, PromApi, QueryData, RawReply};
use strata_tests::compare::{
    check_topk, compare, drop_name, max_rel_diff, same_order, values_per_step, Agreement,
};
use strata_tests::synthetic::{
    build_data, first_sample_before, write_requests, SAMPLES, SCRAPE_MS,
};
use strata_tests::write::{push_raw, RawPush};
use strata_tests::{format_ts, now_ms, Prometheus, Strata};

const REL_TOL: f64 = 1e-12;
const TENANT: &str = "parity";
/// Query times are this far after a sample (a half second): whole-second ranges, offsets
/// and steps back from them never land on a sample.
const QUERY_PHASE_MS: i64 = 7_500;
/// Range query steps: whole seconds keep every step at a half second, off the samples.
const RANGE_STEPS_MS: [i64; 2] = [30_000, 47_000];
/// Where 2.42 and today's Prometheus (which Strata follows) differ, the upstream change, and
/// how this test keeps clear of it.
const KNOWN_DIFFERENCES: &[(&str, &str, &str)] = &[
    (
        "range selectors and lookback are left-open (t-r, t], were closed [t-r, t]",
        "3.0, prometheus#13904",
        "samples at 15k+3 s, query and range-step times at half seconds, whole-second ranges and offsets: no boundary hits a sample",
    ),
    (
        "subquery step times: same left-open rule applies to the subquery range",
        "3.0, prometheus#13904",
        "subquery steps (20s, 45s, 1m, 2m) are epoch multiples of 5 s, subquery range bounds at 15k+10.5 s; a nested subquery's inner range (5m2s) is no multiple of its step, so outer step time - inner range is never an inner step time",
    ),
    (
        "rate/increase: limit of extrapolation to the zero point computed differently",
        "merged 2024-03 (2.51/2.52), prometheus#13725",
        "only counters that start 30+ min before the window, far from zero",
    ),
    (
        "atan2 keeps the metric name in 2.42, drops it today",
        "merged 2023-07 (2.46/2.47), prometheus#12595",
        "the atan2 case compares 2.42's answer with __name__ dropped and prints the deviation",
    ),
    (
        "label names: any UTF-8 is valid (2.42: [a-zA-Z_][a-zA-Z0-9_]*), e.g. a label_replace destination \"1bad\"",
        "3.0, prometheus#14705",
        "that case accepts a 2.42 error against Strata's answer and prints the deviation; data uses legacy names",
    ),
    (
        "negative offsets need a feature flag",
        "3.0 made promql-negative-offset default",
        "Prometheus 2.42 is started with --enable-feature=promql-negative-offset",
    ),
    (
        "holt_winters removed (renamed double_exponential_smoothing, experimental)",
        "3.0, prometheus#14930",
        "a refusal of holt_winters is accepted, and 2.42's holt_winters is compared with the target's double_exponential_smoothing",
    ),
    (
        "regex `.` matches newlines",
        "3.0, prometheus#14505",
        "no label value contains a newline",
    ),
    (
        "sum/avg use Kahan summation, avg and avg_over_time changed algorithm",
        "prometheus#14074 (2024-05), #14413 (3.0), #16569 and #16773 (2025)",
        "values compared within 1e-12 relative; the count is printed",
    ),
    (
        "stddev/stdvar (and *_over_time) with ±Inf inputs",
        "3.x (changed with the Kahan/mean rework above)",
        "no ±Inf sample values",
    ),
    (
        "ties in topk/bottomk/sort have no defined order or choice",
        "never specified",
        "topk/bottomk compared as values per step; sort compared as value sequence",
    ),
    (
        "annotations (warnings/infos) in answers",
        "2.4x, PromQL annotations (2.42 returns none)",
        "not compared",
    ),
];

/// Cases where Strata is known to disagree with 2.42 for a reason not in
/// [`KNOWN_DIFFERENCES`]: `(query, finding)`. Each is still run and printed as
/// EXPECTED-FAIL; it never fails the test. Empty means every case must agree.
const EXPECTED_FAILURES: &[(&str, &str)] = &[];

/// How a query's answers are judged.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Check {
    /// Series for series, value for value.
    Exact,
    /// `topk(k, inner)`: values per step, no omitted series beats a returned one.
    Topk(usize, &'static str),
    /// Values per step as a multiset (ties in bottomk and grouped topk may pick any series).
    ValuesPerStep,
    /// Like `Exact`, and an instant vector's values come in the same order (sort).
    Ordered,
    /// A listed known difference: 2.42 keeps `__name__` where today's Prometheus drops it.
    /// Compared exactly after dropping `__name__` from 2.42's answer; the deviation is
    /// printed.
    NameDropped(&'static str),
    /// A listed known difference: 2.42 refuses the query, today's Prometheus answers it.
    /// Any 2.42 error with any Strata answer passes; the deviation is printed.
    ErrorIn242(&'static str),
    /// A listed known difference: 2.42 answers, today's Prometheus refuses the query with
    /// `bad_data` (a removed function). The deviation is printed.
    ErrorToday(&'static str),
    /// A listed known difference: the function was renamed. 2.42 gets the case's query,
    /// the target gets this one; compared exactly when the target answers (an experimental
    /// function may be disabled: then a `bad_data` refusal is printed as the deviation).
    Renamed(&'static str, &'static str),
}

struct Case {
    query: &'static str,
    check: Check,
}

const fn q(query: &'static str) -> Case {
    Case {
        query,
        check: Check::Exact,
    }
}

const fn qc(query: &'static str, check: Check) -> Case {
    Case { query, check }
}

/// `@AT` in a query is replaced by a fixed time inside the data (at a query phase).
const CASES: &[Case] = &[
    // Selectors, offset, @.
    q("http_requests_total"),
    q(r#"http_requests_total{job="api", method!="post"}"#),
    q(r#"http_requests_total{instance=~"a|b", method!~"po.*"}"#),
    q(r#"{__name__=~"temperature_.*", site="north"}"#),
    q("http_requests_total offset 5m"),
    q("http_requests_total offset -5m"),
    q("rate(http_requests_total[5m] @ end())"),
    q("temperature_celsius @ @AT"),
    q("sum(temperature_celsius @ start())"),
    q("rate(http_requests_total[5m] offset 10m)"),
    q("temperature_celsius[2m]"),
    q("queue_depth"),
    q("queue_depth[3m]"),
    // Arithmetic, comparison, bool.
    q("temperature_celsius * 2 + 1"),
    q("-balance % 7"),
    q("balance ^ 2"),
    q("2 ^ 3 ^ 2"),
    q("1 / 0"),
    q("memory_bytes / 1024 / 1024"),
    q("request_duration_seconds_sum / request_duration_seconds_count"),
    q("http_requests_total / on(instance, job, method) http_requests_total offset 5m"),
    q("temperature_celsius > 22"),
    q("temperature_celsius > bool 22"),
    q("balance <= 0"),
    q("queue_depth != 3"),
    q("balance == bool balance"),
    q("time() > bool 5"),
    q("1 > bool 2"),
    q("22 < temperature_celsius"),
    q("count(temperature_celsius > 22)"),
    q("avg by (instance) (queue_depth)"),
    // Set operators.
    q("temperature_celsius > 21 and temperature_celsius < 24"),
    q(r#"http_requests_total{job="api"} or http_requests_total{method="get"}"#),
    q(r#"http_requests_total unless on(instance) build_info{version="2.0"}"#),
    q("balance and on() vector(1)"),
    // Vector matching.
    q("http_requests_total * on(instance) group_left(version) build_info"),
    q("instance_weight * on(instance) group_right sum by (instance, job) (rate(http_requests_total[5m]))"),
    q("sum by (job, instance) (rate(http_requests_total[5m])) / ignoring(instance) group_left sum by (job) (rate(http_requests_total[5m]))"),
    q("temperature_celsius - ignoring(room) group_left avg by (site) (temperature_celsius)"),
    // Aggregations.
    q("sum(http_requests_total)"),
    q("sum by (job) (http_requests_total)"),
    q("avg without (room) (temperature_celsius)"),
    q("min by (site) (temperature_celsius)"),
    q("max by (site) (temperature_celsius)"),
    q("count by (job) (http_requests_total)"),
    q("group by (version) (build_info)"),
    q("stddev by (site) (temperature_celsius)"),
    q("stdvar without (method) (rate(http_requests_total[5m]))"),
    qc(
        "topk(3, rate(http_requests_total[5m]))",
        Check::Topk(3, "rate(http_requests_total[5m])"),
    ),
    qc("bottomk(2, temperature_celsius)", Check::ValuesPerStep),
    qc(
        "topk by (job) (1, http_requests_total)",
        Check::ValuesPerStep,
    ),
    q("quantile by (job) (0.9, rate(http_requests_total[5m]))"),
    q("quantile(0.5, temperature_celsius)"),
    q("count_values(\"v\", build_info)"),
    q("count_values by (site) (\"t\", round(temperature_celsius))"),
    q("sum(queue_depth)"),
    // Counters and gauges over ranges.
    q("rate(http_requests_total[5m])"),
    q("irate(http_requests_total[1m])"),
    q("increase(http_requests_total[10m])"),
    q("delta(temperature_celsius[10m])"),
    q("idelta(temperature_celsius[2m])"),
    q("deriv(temperature_celsius[10m])"),
    q("predict_linear(temperature_celsius[10m], 600)"),
    q("resets(http_requests_total[30m])"),
    q("changes(queue_depth[10m])"),
    // *_over_time.
    q("avg_over_time(temperature_celsius[10m])"),
    q("min_over_time(balance[10m])"),
    q("max_over_time(balance[10m])"),
    q("sum_over_time(queue_depth[5m])"),
    q("count_over_time(queue_depth[10m])"),
    q("last_over_time(queue_depth[10m])"),
    q("quantile_over_time(0.75, temperature_celsius[10m])"),
    q("stddev_over_time(temperature_celsius[10m])"),
    q("stdvar_over_time(balance[10m])"),
    q("present_over_time(queue_depth[5m])"),
    // Classic histograms.
    q("histogram_quantile(0.9, sum by (le, job) (rate(request_duration_seconds_bucket[5m])))"),
    q("histogram_quantile(0.5, rate(request_duration_seconds_bucket[10m]))"),
    q("histogram_quantile(0.99, request_duration_seconds_bucket)"),
    // Math.
    q("abs(balance)"),
    q("ceil(balance)"),
    q("floor(balance)"),
    q("round(balance)"),
    q("round(balance, 0.25)"),
    q("exp(temperature_celsius / 10)"),
    q("ln(memory_bytes)"),
    q("ln(balance)"),
    q("log2(memory_bytes)"),
    q("log10(abs(balance))"),
    q("sqrt(abs(balance))"),
    q("clamp(balance, -10, 10)"),
    q("clamp_min(balance, 0)"),
    q("clamp_max(balance, 5)"),
    q("sgn(balance)"),
    // Time and type conversion.
    q("time()"),
    q("timestamp(queue_depth)"),
    q("time() - timestamp(temperature_celsius)"),
    q("vector(1)"),
    q("vector(time())"),
    q("scalar(sum(temperature_celsius))"),
    q("scalar(temperature_celsius)"),
    q("temperature_celsius * scalar(instance_weight{instance=\"b\"})"),
    // Sorting.
    qc("sort(temperature_celsius)", Check::Ordered),
    qc("sort_desc(rate(http_requests_total[5m]))", Check::Ordered),
    // Labels.
    q(r#"label_replace(temperature_celsius, "floor", "$1", "room", "r(.*)")"#),
    q(r#"label_replace(temperature_celsius, "site", "x", "nosuchlabel", "nomatch")"#),
    q(r#"label_join(http_requests_total, "key", "-", "job", "instance", "method")"#),
    // Absence.
    q(r#"absent(nonexistent_metric{job="x"})"#),
    q("absent(temperature_celsius)"),
    q(r#"absent_over_time(queue_depth{instance="q2"}[5m])"#),
    q(r#"absent_over_time(nonexistent_metric{job="x"}[5m])"#),
    // Dates.
    q("hour(timestamp(temperature_celsius))"),
    q("minute(timestamp(temperature_celsius))"),
    q("hour()"),
    q("month()"),
    q("year(vector(1700000000))"),
    q("day_of_week(timestamp(balance))"),
    q("day_of_month()"),
    q("days_in_month(vector(1709251200))"),
    // Trigonometry.
    q("sin(balance)"),
    q("cos(balance)"),
    q("tan(balance / 100)"),
    q("asin(clamp(balance / 50, -1, 1))"),
    q("acos(clamp(balance / 50, -1, 1))"),
    q("atan(balance)"),
    q("sinh(balance / 10)"),
    q("cosh(balance / 10)"),
    q("tanh(balance / 10)"),
    q("asinh(balance)"),
    q("acosh(abs(balance) + 1)"),
    q("atanh(clamp(balance / 50, -0.99, 0.99))"),
    q("deg(balance)"),
    q("rad(balance)"),
    q("pi()"),
    qc(
        r#"balance atan2 on() group_left instance_weight{instance="b"}"#,
        Check::NameDropped("atan2 drops the metric name since 2.46/2.47, prometheus#12595"),
    ),
    // Subqueries.
    q("max_over_time(rate(http_requests_total[1m])[10m:20s])"),
    q("avg_over_time(temperature_celsius[15m:45s])"),
    q("rate(sum(http_requests_total)[10m:1m])"),
    q("min_over_time(deriv(temperature_celsius[5m])[20m:2m] offset 1m)"),
    q("max_over_time(temperature_celsius[10m:20s] @ @AT)"),
    q("sum_over_time(balance[5m:])"),
    q("rate(http_requests_total[5m:30s])"),
    q("sum_over_time(http_requests_total[5m:45s] offset 2m)"),
    // NaN handling and edge cases.
    q("max(queue_depth)"),
    q("min(queue_depth)"),
    q("stddev(queue_depth)"),
    q("max_over_time(queue_depth[10m])"),
    q("min_over_time(queue_depth[10m])"),
    q("quantile_over_time(0.5, queue_depth[10m])"),
    q("count_values(\"v\", queue_depth)"),
    qc("sort(queue_depth)", Check::Ordered),
    qc("sort_desc(queue_depth)", Check::Ordered),
    q("quantile(1.5, temperature_celsius)"),
    q("histogram_quantile(1.5, rate(request_duration_seconds_bucket[5m]))"),
    q("-http_requests_total"),
    q("deriv(http_requests_total[30m])"),
    q("changes(http_requests_total[30m])"),
    q("timestamp(http_requests_total offset 5m)"),
    q("sum(temperature_celsius) by (site)"),
    q("temperature_celsius > bool on(site, room) temperature_celsius offset 5m"),
    q(r#"http_requests_total and on(instance) build_info{version="1.1"}"#),
    q(r#"absent(nonexistent_metric{job="x", instance=~"a.*"})"#),
    // Rounding, float formatting and other corners.
    q("round(vector(-2.5))"),
    q("round(vector(2.5))"),
    q("round(balance, 0.1)"),
    q("vector(-7) % 3"),
    q("vector(-8) ^ (1 / 3)"),
    q("vector(1e300) * 1e10"),
    q("count_values(\"v\", temperature_celsius)"),
    q("count_values(\"v\", memory_bytes)"),
    q("count_values(\"v\", vector(0.1 + 0.2))"),
    q("count_values(\"v\", vector(1e21))"),
    q("count_values(\"v\", vector(1e-7))"),
    q("clamp(balance, 10, -10)"),
    q("clamp_min(queue_depth, 2)"),
    q("histogram_quantile(0, sum by (le) (rate(request_duration_seconds_bucket[5m])))"),
    q("sum without (le) (request_duration_seconds_bucket)"),
    q(r#"label_join(http_requests_total, "new", "", "instance")"#),
    q(r#"label_replace(http_requests_total, "instance", "$2", "instance", "(.*)")"#),
    q(r#"label_replace(http_requests_total, "out", "${1}_x", "instance", "(.)")"#),
    q(r#"{room="r1"}"#),
    q(r#"temperature_celsius{room=""}"#),
    q(r#"temperature_celsius{room=~"(?i)R1"}"#),
    q(r#"http_requests_total{job=~"api|"}"#),
    q(r#"count by (__name__) ({__name__=~"http.*|temp.*"})"#),
    q("group without () (build_info)"),
    q("max by () (temperature_celsius)"),
    q("stdvar(temperature_celsius)"),
    qc("topk(2, queue_depth)", Check::ValuesPerStep),
    qc("bottomk(1, queue_depth)", Check::ValuesPerStep),
    q("max_over_time((temperature_celsius > 22)[10m:20s])"),
    // Nested: the inner range is 5m2s so that (outer step time - inner range), a multiple
    // of 20 s for 5m, is never an inner step time (left-open, prometheus#13904).
    q("max_over_time(avg_over_time(temperature_celsius[5m2s:20s])[10m:1m])"),
    q("timestamp(temperature_celsius @ @AT)"),
    q("timestamp(vector(1))"),
    q("absent(sum(nonexistent_metric))"),
    q("minute(vector(1700000000))"),
    q("day_of_week(vector(1700000000))"),
    q("year(vector(-1e10))"),
    q("vector(1) / on() group_left vector(0)"),
    q("temperature_celsius @ @AT offset 5m"),
    q("timestamp(rate(http_requests_total[5m]))"),
    q(r#"sum without (__name__) ({__name__=~"temperature_celsius|balance"})"#),
    q(r#"rate({__name__=~"http_requests_total|request_duration_seconds_count"}[5m])"#),
    q(r#"histogram_quantile(0.9, rate(request_duration_seconds_bucket{le!="+Inf"}[5m]))"#),
    q("quantile_over_time(1.5, temperature_celsius[5m])"),
    q("quantile_over_time(-1, temperature_celsius[5m])"),
    q("predict_linear(http_requests_total[10m], 3600)"),
    qc(
        "holt_winters(temperature_celsius[10m], 0.5, 0.5)",
        Check::ErrorToday("holt_winters removed in 3.0, prometheus#14930"),
    ),
    qc(
        "holt_winters(balance[10m], 0.3, 0.6)",
        Check::Renamed(
            "double_exponential_smoothing(balance[10m], 0.3, 0.6)",
            "holt_winters is double_exponential_smoothing (experimental) since 3.0, prometheus#14930",
        ),
    ),
    qc("sort_desc(sum by (site) (temperature_celsius))", Check::Ordered),
    q("sum(nonexistent_metric)"),
    q("count(nonexistent_metric) or vector(0)"),
    q(r#"absent_over_time(queue_depth{instance="q1"}[1m])"#),
    q("irate(queue_depth[1m])"),
    q("delta(queue_depth[5m])"),
    q("deriv(queue_depth[5m])"),
    q("resets(queue_depth[10m])"),
    q("stddev_over_time(queue_depth[5m])"),
    q("sum_over_time(queue_depth[1m] offset 1m)"),
    q("increase(request_duration_seconds_sum[5m])"),
    q(r#"temperature_celsius{room=~"r[12]"}"#),
    q(r#"temperature_celsius{room!~"r[12]|"}"#),
    q(r#"temperature_celsius and ignoring(room) temperature_celsius{room="r1"}"#),
    q(r#"temperature_celsius unless temperature_celsius{site="north"}"#),
    q("balance or temperature_celsius"),
    q("max_over_time(timestamp(queue_depth)[10m:20s])"),
    q("count_values without (room) (\"site\", round(temperature_celsius))"),
    qc("topk by (site) (2, temperature_celsius)", Check::ValuesPerStep),
    q("quantile(0, temperature_celsius)"),
    q("weird_labels"),
    q(r#"weird_labels{v=~".*ü.*"}"#),
    q(r#"weird_labels{v="quote\"back\\slash"}"#),
    q(r#"label_replace(weird_labels, "w", "$1", "v", "(.*)ü(.)e.*")"#),
    q(r#"label_join(weird_labels, "w", "·", "v", "__name__")"#),
    q("count_values(\"v\", weird_labels)"),
    q(r#"{__name__=~".*_total"}"#),
    q(r#"http_requests_total * on(instance) group_left(job) label_replace(build_info, "job", "z", "", "")"#),
    q("1 == bool 1"),
    q("rate(http_requests_total[20s])"),
    q("rate(http_requests_total[25s])"),
    q("idelta(queue_depth[1m])"),
    q("max_over_time(temperature_celsius[10m:20s] @ @AT offset 2m)"),
    // Strings and errors (compared by status and errorType).
    q(r#""hello""#),
    q("sum(rate(http_requests_total[5m])"),
    q(r#"temperature_celsius{room=~"r(1"}"#),
    q("nosuchfunction(temperature_celsius)"),
    q("rate(temperature_celsius)"),
    q(r#"label_replace(http_requests_total, "method", "", "method", ".*")"#),
    q("http_requests_total + on(job) http_requests_total"),
    qc(
        r#"label_replace(temperature_celsius, "1bad", "x", "room", ".*")"#,
        Check::ErrorIn242("UTF-8 label names are valid since 3.0, prometheus#14705"),
    ),
    q(r#"label_replace(temperature_celsius, "", "x", "room", ".*")"#),
    q(r#"label_join(temperature_celsius, "", "-", "site", "room")"#),
    q("topk(temperature_celsius, balance)"),
    q("sum_over_time(balance[5m:0s])"),
    q(r#"rate("x")"#),
    q("avg_over_time(temperature_celsius[5m:20s:1m])"),
    q("1 + 1 and 2"),
    q("sum(1)"),
    q("scalar(time())"),
];

/// What a server answered: parsed data, or an error's status and `errorType`.
#[derive(Debug)]
enum Answer {
    Data(QueryData),
    Error {
        status: u16,
        error_type: Option<String>,
        body: String,
    },
}

impl Answer {
    fn from_raw(raw: anyhow::Result<RawReply>) -> Self {
        let raw = match raw {
            Ok(r) => r,
            Err(e) => {
                return Answer::Error {
                    status: 0,
                    error_type: None,
                    body: format!("{e:#}"),
                }
            }
        };
        if raw.status == 200 {
            if let Ok(d) = raw.data().and_then(|d| QueryData::from_json(&d)) {
                return Answer::Data(d);
            }
        }
        Answer::Error {
            status: raw.status,
            error_type: raw.error_type(),
            body: raw.body.chars().take(300).collect(),
        }
    }

    fn describe(&self) -> String {
        match self {
            Answer::Data(d) => format!(
                "{} with {} series, {} points",
                d.result_type(),
                d.series_count(),
                d.point_count()
            ),
            Answer::Error {
                status,
                error_type,
                body,
            } => format!("{status} {error_type:?}: {body}"),
        }
    }
}

struct Row {
    query: String,
    mode: String,
    kind: String,
    agree: Agreement,
    outcome: Result<(), String>,
    expected_failure: Option<&'static str>,
    /// A known difference this row allowed.
    deviation: Option<&'static str>,
    /// The largest relative difference among values at the same labels and time.
    max_rel_diff: f64,
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn strata_evaluates_promql_like_prometheus_2_42() {
    strata_tests::e2e(async {
        let (prom, strata) = tokio::try_join!(start_reference(), Strata::start())?;
        let auth = Auth::org(TENANT);
        let target = Target {
            name: "Strata",
            push_url: strata.push_url(),
            auth: auth.clone(),
            api: strata.api(auth),
            is_242: false,
        };
        run(&prom, &target).await
    })
    .await;
}

/// The harness checked on its own: a second Prometheus 2.42 stands where Strata would, so
/// every answer must match exactly (allowed deviations then must not occur). Run with
/// `--run-ignored all`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "checks the harness itself; needs no Strata"]
async fn prometheus_receiver_evaluates_like_prometheus_2_42() {
    strata_tests::e2e(async {
        let (prom, other) = tokio::try_join!(start_reference(), start_reference())?;
        let target = Target {
            name: "Prometheus receiver",
            push_url: format!("{}/api/v1/write", other.url()),
            auth: Auth::None,
            api: other.api(),
            is_242: true,
        };
        run(&prom, &target).await
    })
    .await;
}

/// Prometheus 2.42 receiving remote write, negative offsets enabled (default in 3.0).
async fn start_reference() -> anyhow::Result<Prometheus> {
    Prometheus::start_on_with_flags(
        Prometheus::reserve_port()?,
        "global:\n  scrape_interval: 1h\n",
        &[
            "--web.enable-remote-write-receiver",
            "--enable-feature=promql-negative-offset",
        ],
    )
    .await
}

/// What answers the same queries as the reference Prometheus.
struct Target {
    name: &'static str,
    push_url: String,
    auth: Auth,
    api: PromApi,
    /// Also Prometheus 2.42: known differences must not show.
    is_242: bool,
}

async fn run(prom: &Prometheus, target: &Target) -> anyhow::Result<()> {
    let papi = prom.api();
    let sapi = target.api.clone();

    // The last sample a minute ago or more (2.42's head takes it), on the synthetic grid.
    let first = first_sample_before(now_ms() - 60_000);
    let last = first + (SAMPLES - 1) * SCRAPE_MS;
    let data = build_data(first);
    let samples: usize = data.iter().map(|s| s.samples.len()).sum();
    let http = reqwest::Client::new();
    let prom_write = format!("{}/api/v1/write", prom.url());
    for req in write_requests(&data) {
        let p = push_raw(&http, &prom_write, &Auth::None, RawPush::of(&req)).await?;
        if !(200..300).contains(&p.status) {
            anyhow::bail!("Prometheus refused a push: {} {}", p.status, p.body);
        }
        let s = push_raw(&http, &target.push_url, &target.auth, RawPush::of(&req)).await?;
        if !(200..300).contains(&s.status) {
            anyhow::bail!("{} refused a push: {} {}", target.name, s.status, s.body);
        }
    }

    let minute = 60_000;
    let t_a = first + 30 * minute + QUERY_PHASE_MS;
    let t_b = first + 60 * minute + QUERY_PHASE_MS;
    let at = first + 20 * minute + QUERY_PHASE_MS;
    let instants = [t_a, first + 47 * minute + QUERY_PHASE_MS, t_b];
    println!(
        "{} series, {samples} samples from {} to {}; instant at {:?}; range [{}, {}] steps {:?} ms; @AT = {}",
        data.len(),
        format_ts(first),
        format_ts(last),
        instants.map(format_ts),
        format_ts(t_a),
        format_ts(t_b),
        RANGE_STEPS_MS,
        format_ts(at)
    );

    // Both servers must hold exactly the pushed samples before comparing.
    let raw_q = "{__name__=~\".+\"}[2h]";
    let want_raw = papi.query(raw_q, last + 1).await?;
    let got_raw = sapi.query(raw_q, last + 1).await?;
    println!(
        "stored: Prometheus {} series / {} samples, {} {} / {}",
        want_raw.series_count(),
        want_raw.point_count(),
        target.name,
        got_raw.series_count(),
        got_raw.point_count()
    );
    compare(&want_raw, &got_raw, 0.0)
        .map_err(|e| anyhow::anyhow!("the stored samples differ: {e}"))?;

    let mut rows = Vec::new();
    for case in CASES {
        let query = case.query.replace("@AT", &format_ts(at));
        let expected = EXPECTED_FAILURES
            .iter()
            .find(|(q, _)| *q == case.query)
            .map(|(_, why)| *why);
        let check = match case.check {
            Check::NameDropped(_)
            | Check::ErrorIn242(_)
            | Check::ErrorToday(_)
            | Check::Renamed(..)
                if target.is_242 =>
            {
                Check::Exact
            }
            c => c,
        };
        let target_query = match check {
            Check::Renamed(today, _) => today.replace("@AT", &format_ts(at)),
            _ => query.clone(),
        };
        for t in instants {
            let (want, got) =
                tokio::join!(papi.query_raw(&query, t), sapi.query_raw(&target_query, t));
            let inner = match check {
                Check::Topk(_, inner) => Some(papi.query(inner, t).await),
                _ => None,
            };
            rows.push(judge(
                &query,
                format!("instant @{}", format_ts(t)),
                check,
                Answer::from_raw(want),
                Answer::from_raw(got),
                inner,
                expected,
            ));
        }
        for step in RANGE_STEPS_MS {
            let (want, got) = tokio::join!(
                papi.query_range_raw(&query, t_a, t_b, step),
                sapi.query_range_raw(&target_query, t_a, t_b, step)
            );
            let inner = match check {
                Check::Topk(_, inner) => Some(papi.query_range(inner, t_a, t_b, step).await),
                _ => None,
            };
            rows.push(judge(
                &query,
                format!("range step {}s", step / 1000),
                check,
                Answer::from_raw(want),
                Answer::from_raw(got),
                inner,
                expected,
            ));
        }
    }
    finish(target.name, &rows)
}

fn judge(
    query: &str,
    mode: String,
    check: Check,
    want: Answer,
    got: Answer,
    topk_inner: Option<anyhow::Result<QueryData>>,
    expected_failure: Option<&'static str>,
) -> Row {
    let mut row = Row {
        query: query.to_string(),
        mode,
        kind: String::new(),
        agree: Agreement::default(),
        outcome: Ok(()),
        expected_failure,
        deviation: None,
        max_rel_diff: 0.0,
    };
    match (check, &want, &got) {
        (Check::ErrorIn242(why), Answer::Error { status, .. }, Answer::Data(g)) if *status != 0 => {
            row.kind = format!("{status} vs {}", g.result_type());
            row.deviation = Some(why);
            return row;
        }
        (
            Check::ErrorToday(why) | Check::Renamed(_, why),
            Answer::Data(w),
            Answer::Error {
                status: 400,
                error_type: Some(t),
                ..
            },
        ) if t == "bad_data" => {
            row.kind = format!("{} vs 400", w.result_type());
            row.deviation = Some(why);
            return row;
        }
        _ => {}
    }
    row.outcome = match (&want, &got) {
        (
            Answer::Error {
                status: ws,
                error_type: we,
                ..
            },
            Answer::Error {
                status: gs,
                error_type: ge,
                ..
            },
        ) => {
            row.kind = format!("{ws} {}", we.as_deref().unwrap_or("-"));
            if ws == gs && we == ge && *ws != 0 {
                row.agree.values = 1;
                row.agree.exact = 1;
                Ok(())
            } else {
                Err(format!(
                    "Prometheus {}; Strata {}",
                    want.describe(),
                    got.describe()
                ))
            }
        }
        (Answer::Data(w), Answer::Data(g)) => {
            row.kind = w.result_type().to_string();
            let verdict = match check {
                Check::Exact | Check::ErrorIn242(_) | Check::ErrorToday(_) => {
                    compare(w, g, REL_TOL)
                }
                Check::Renamed(_, why) => {
                    row.deviation = Some(why);
                    compare(w, g, REL_TOL)
                }
                Check::Ordered => {
                    compare(w, g, REL_TOL).and_then(|a| same_order(w, g, REL_TOL).map(|()| a))
                }
                Check::ValuesPerStep => values_per_step(w, g, REL_TOL),
                Check::NameDropped(why) => {
                    row.deviation = Some(why);
                    compare(&drop_name(w), g, REL_TOL)
                }
                Check::Topk(k, _) => match topk_inner {
                    Some(Ok(inner)) => check_topk(k, w, g, &inner, REL_TOL),
                    Some(Err(e)) => Err(format!("Prometheus failed on the topk operand: {e:#}")),
                    None => Err("no topk operand".to_string()),
                },
            };
            row.max_rel_diff = max_rel_diff(w, g);
            verdict.map(|a| row.agree = a)
        }
        _ => {
            row.kind = "mixed".to_string();
            Err(format!(
                "Prometheus {}; Strata {}",
                want.describe(),
                got.describe()
            ))
        }
    };
    row
}

/// Prints the known differences and the summary table; fails on any disagreement not
/// listed in [`EXPECTED_FAILURES`].
fn finish(target: &str, rows: &[Row]) -> anyhow::Result<()> {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "Known differences between Prometheus 2.42 and today's Prometheus (avoided):"
    );
    for (what, change, how) in KNOWN_DIFFERENCES {
        let _ = writeln!(out, "  - {what} [{change}]: {how}");
    }
    let _ = writeln!(out, "\nPrometheus 2.42 vs {target}");
    let _ = writeln!(
        out,
        "{:<4} {:<70} {:<32} {:<18} {:>6} {:>5}  result",
        "#", "query", "mode", "type", "exact", "tol"
    );
    let mut total = Agreement::default();
    let mut failures = Vec::new();
    let mut expected = Vec::new();
    let mut deviations = Vec::new();
    let mut cases = std::collections::BTreeSet::new();
    for (i, r) in rows.iter().enumerate() {
        cases.insert(r.query.clone());
        total += r.agree;
        let q: String = r.query.chars().take(70).collect();
        let result = match (&r.outcome, r.expected_failure) {
            (Ok(()), None) => match r.deviation {
                Some(why) => {
                    deviations.push(format!("{} [{}]: {why}", r.query, r.mode));
                    format!("ok, allowed deviation: {why}")
                }
                None => "ok".to_string(),
            },
            (Ok(()), Some(_)) => "ok (listed as expected failure: now passes)".to_string(),
            (Err(e), Some(why)) => {
                expected.push(format!("{} [{}]: {e} (known: {why})", r.query, r.mode));
                format!("EXPECTED-FAIL: {e}")
            }
            (Err(e), None) => {
                failures.push(format!("{} [{}]: {e}", r.query, r.mode));
                format!("FAIL: {e}")
            }
        };
        let _ = writeln!(
            out,
            "{:<4} {:<70} {:<32} {:<18} {:>6} {:>5}  {}",
            i + 1,
            q,
            r.mode,
            r.kind,
            r.agree.exact,
            r.agree.within_tolerance,
            result
        );
    }
    let _ = writeln!(
        out,
        "{} queries, {} comparisons; values compared: {}, exact: {}, within {REL_TOL:e} relative: {}; allowed deviations: {}; expected failures: {}; failures: {}",
        cases.len(),
        rows.len(),
        total.values,
        total.exact,
        total.within_tolerance,
        deviations.len(),
        expected.len(),
        failures.len()
    );
    if let Some(r) = rows
        .iter()
        .filter(|r| r.max_rel_diff > 0.0)
        .max_by(|a, b| a.max_rel_diff.total_cmp(&b.max_rel_diff))
    {
        let _ = writeln!(
            out,
            "largest relative difference: {:e} in {} [{}]",
            r.max_rel_diff, r.query, r.mode
        );
    }
    for d in &deviations {
        let _ = writeln!(out, "ALLOWED-DEVIATION {d}");
    }
    for e in &expected {
        let _ = writeln!(out, "EXPECTED-FAIL {e}");
    }
    println!("{out}");
    if !failures.is_empty() {
        anyhow::bail!("{} failure(s):\n{}", failures.len(), failures.join("\n"));
    }
    assert!(total.values > 0, "nothing was compared");
    Ok(())
}
