//! The parity test's queries and the documented differences between Prometheus 2.42 and
//! today's Prometheus (which Strata follows).

/// Where 2.42 and today's Prometheus (which Strata follows) differ, the upstream change, and
/// how this test keeps clear of it.
pub(crate) const KNOWN_DIFFERENCES: &[(&str, &str, &str)] = &[
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
pub(crate) const EXPECTED_FAILURES: &[(&str, &str)] = &[];

/// How a query's answers are judged.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Check {
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

pub(crate) struct Case {
    pub(crate) query: &'static str,
    pub(crate) check: Check,
}

pub(crate) const fn q(query: &'static str) -> Case {
    Case {
        query,
        check: Check::Exact,
    }
}

pub(crate) const fn qc(query: &'static str, check: Check) -> Case {
    Case { query, check }
}

/// `@AT` in a query is replaced by a fixed time inside the data (at a query phase).
pub(crate) const CASES: &[Case] = &[
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
