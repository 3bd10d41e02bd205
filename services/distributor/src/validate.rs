//! Per-series validation with Mimir's limits and wording. Pure: the caller passes "now".
//!
//! A series is first normalised (empty label values dropped, labels sorted by name), then
//! checked; an invalid series is dropped whole and its samples counted as discarded under a
//! Mimir-compatible reason. The valid series of a request are kept and stored.

use std::time::Duration;

use strata_model::METRIC_NAME;
use strata_proto::flat::FlatWriteRequest;
use strata_proto::prometheus::{Label, TimeSeries, WriteRequest};

/// How many error messages a response names; the rest are only counted.
pub const MAX_ERROR_MESSAGES: usize = 10;

/// Longest series text quoted in an error message, in characters (as Mimir's `%.200s`).
const MAX_QUOTED_CHARS: usize = 200;

/// Per-series limits, with Mimir's defaults.
///
/// In YAML, `creation_grace_period` is a Prometheus duration string (`10m`, `1h30m`).
#[derive(Clone, Debug, PartialEq, Eq, serde::Deserialize, serde::Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct ValidationLimits {
    /// Most labels a series may have, `__name__` included (Mimir: 30).
    pub max_label_names_per_series: usize,
    /// Longest label name in bytes (Mimir: 1024).
    pub max_label_name_length: usize,
    /// Longest label value in bytes (Mimir: 2048).
    pub max_label_value_length: usize,
    /// How far past the distributor's clock a sample may be (Mimir: 10m).
    #[serde(with = "strata_config::duration")]
    pub creation_grace_period: Duration,
}

impl Default for ValidationLimits {
    fn default() -> Self {
        Self {
            max_label_names_per_series: 30,
            max_label_name_length: 1024,
            max_label_value_length: 2048,
            creation_grace_period: Duration::from_secs(600),
        }
    }
}

/// Why samples were discarded: the `reason` label of `strata_discarded_samples_total`, with
/// Mimir's values so its dashboards and alerts apply unchanged.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum DiscardReason {
    /// No `__name__` label.
    MissingMetricName,
    /// `__name__` does not match `[a-zA-Z_:][a-zA-Z0-9_:]*`.
    InvalidMetricName,
    /// A label name does not match `[a-zA-Z_][a-zA-Z0-9_]*`.
    InvalidLabel,
    /// A label name is longer than the limit.
    LabelNameTooLong,
    /// A label value is longer than the limit.
    LabelValueTooLong,
    /// More labels than the limit.
    MaxLabelNamesPerSeries,
    /// The same label name twice.
    DuplicateLabelNames,
    /// A sample past now + creation grace period.
    TooFarInFuture,
    /// Ingester: older than the series' newest sample.
    SampleOutOfOrder,
    /// Ingester: same timestamp as the newest sample, different value.
    SampleDuplicateTimestamp,
    /// Ingester: older than the head accepts.
    SampleTooOld,
    /// Ingester: a kind of data it cannot store yet (native histograms, exemplars).
    Unsupported,
    /// Ingester: otherwise invalid.
    InvalidSample,
    /// Over the tenant's ingestion rate (429).
    RateLimited,
    /// Ingester: a new series over the tenant's series limit.
    PerUserSeriesLimit,
    /// Ingester: a new series over the per-metric series limit.
    PerMetricSeriesLimit,
}

impl DiscardReason {
    /// The metric label value (Mimir's snake_case names).
    pub fn as_str(self) -> &'static str {
        match self {
            DiscardReason::MissingMetricName => "missing_metric_name",
            DiscardReason::InvalidMetricName => "metric_name_invalid",
            DiscardReason::InvalidLabel => "label_invalid",
            DiscardReason::LabelNameTooLong => "label_name_too_long",
            DiscardReason::LabelValueTooLong => "label_value_too_long",
            DiscardReason::MaxLabelNamesPerSeries => "max_label_names_per_series",
            DiscardReason::DuplicateLabelNames => "duplicate_label_names",
            DiscardReason::TooFarInFuture => "too_far_in_future",
            DiscardReason::SampleOutOfOrder => "sample_out_of_order",
            DiscardReason::SampleDuplicateTimestamp => "sample_duplicate_timestamp",
            DiscardReason::SampleTooOld => "sample_timestamp_too_old",
            DiscardReason::Unsupported => "unsupported",
            DiscardReason::InvalidSample => "invalid",
            DiscardReason::RateLimited => "rate_limited",
            DiscardReason::PerUserSeriesLimit => "per_user_series_limit",
            DiscardReason::PerMetricSeriesLimit => "per_metric_series_limit",
        }
    }
}

/// One rejected series.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ValidationError {
    /// The metric reason.
    pub reason: DiscardReason,
    /// The message for the client, in Mimir's wording.
    pub message: String,
}

/// What validating a whole request found.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ValidationReport {
    /// The first [`MAX_ERROR_MESSAGES`] messages, in request order.
    pub messages: Vec<String>,
    /// How many series or metadata entries were rejected in all.
    pub rejected: usize,
    /// Discarded samples (floats plus histograms) per reason.
    pub discarded: Vec<(DiscardReason, u64)>,
}

impl ValidationReport {
    fn record(&mut self, message: String, discarded: Option<(DiscardReason, u64)>) {
        self.rejected += 1;
        if self.messages.len() < MAX_ERROR_MESSAGES {
            self.messages.push(message);
        }
        if let Some((reason, n)) = discarded {
            match self.discarded.iter_mut().find(|(r, _)| *r == reason) {
                Some((_, total)) => *total += n,
                None => self.discarded.push((reason, n)),
            }
        }
    }
}

/// Validates every series and metadata entry of `req` in place: invalid series are removed
/// (so are series left with no samples, histograms or exemplars), valid ones normalised.
pub fn validate_request(
    req: &mut WriteRequest,
    limits: &ValidationLimits,
    now_ms: i64,
) -> ValidationReport {
    let mut report = ValidationReport::default();
    req.timeseries
        .retain_mut(|ts| match validate_series(ts, limits, now_ms) {
            Ok(()) => {
                !(ts.samples.is_empty() && ts.histograms.is_empty() && ts.exemplars.is_empty())
            }
            Err(e) => {
                let n = (ts.samples.len() + ts.histograms.len()) as u64;
                report.record(e.message, Some((e.reason, n)));
                false
            }
        });
    req.metadata.retain(|md| {
        if md.metric_family_name.is_empty() {
            report.record(
                "received a metric metadata with no metric name".to_string(),
                None,
            );
            false
        } else {
            true
        }
    });
    report
}

/// [`validate_request`] for a borrowed request ([`FlatWriteRequest`], float samples only):
/// each series' labels are normalised in place (its label range shrinks to the labels
/// kept), invalid series and series without samples are removed from `req.series`. Same
/// checks, messages and counts as for the owned request.
pub fn validate_flat_request(
    req: &mut FlatWriteRequest<'_>,
    limits: &ValidationLimits,
    now_ms: i64,
) -> ValidationReport {
    let mut report = ValidationReport::default();
    let FlatWriteRequest {
        labels,
        samples,
        series,
    } = req;
    series.retain_mut(|s| {
        let kept = normalise_labels(&mut labels[s.labels.clone()]);
        s.labels.end = s.labels.start + kept;
        let ts = &samples[s.samples.clone()];
        match check_series(
            &labels[s.labels.clone()],
            ts.iter().map(|s| s.timestamp),
            limits,
            now_ms,
        ) {
            Ok(()) => !ts.is_empty(),
            Err(e) => {
                report.record(e.message, Some((e.reason, ts.len() as u64)));
                false
            }
        }
    });
    report
}

/// Normalises one series (drops empty label values, sorts labels by name) and checks it
/// against `limits`, reporting the first problem as Mimir does.
pub fn validate_series(
    ts: &mut TimeSeries,
    limits: &ValidationLimits,
    now_ms: i64,
) -> Result<(), ValidationError> {
    ts.labels.retain(|l| !l.value.is_empty());
    if !ts.labels.windows(2).all(|w| w[0].name <= w[1].name) {
        // Stable, so duplicates stay adjacent in request order.
        ts.labels.sort_by(|a, b| a.name.cmp(&b.name));
    }
    let timestamps = ts
        .samples
        .iter()
        .map(|s| s.timestamp)
        .chain(ts.histograms.iter().map(|h| h.timestamp));
    check_series(&ts.labels, timestamps, limits, now_ms)
}

/// A label as the wire carries it: prost's owned [`Label`] or a `(name, value)` pair
/// borrowed from the request buffer ([`strata_proto::flat`]). Validation and its messages
/// are written once over this.
pub trait WireLabel {
    /// The label name.
    fn name(&self) -> &str;
    /// The label value.
    fn value(&self) -> &str;
}

impl WireLabel for Label {
    fn name(&self) -> &str {
        &self.name
    }
    fn value(&self) -> &str {
        &self.value
    }
}

impl WireLabel for (&str, &str) {
    fn name(&self) -> &str {
        self.0
    }
    fn value(&self) -> &str {
        self.1
    }
}

/// Drops labels with empty values from `labels` in place, keeping their order, and sorts
/// the rest by name (stably) if they are not sorted; returns how many are kept, at the
/// front. What [`validate_series`] does to an owned series, for a borrowed one.
pub fn normalise_labels<L: WireLabel>(labels: &mut [L]) -> usize {
    let mut kept = 0;
    for i in 0..labels.len() {
        if !labels[i].value().is_empty() {
            labels.swap(kept, i);
            kept += 1;
        }
    }
    let labels = &mut labels[..kept];
    if !labels.windows(2).all(|w| w[0].name() <= w[1].name()) {
        // Stable, so duplicates stay adjacent in request order.
        labels.sort_by(|a, b| a.name().cmp(b.name()));
    }
    kept
}

/// Checks a normalised series (labels without empty values, sorted by name) against
/// `limits`, reporting the first problem as Mimir does. `timestamps` are those of its
/// samples and histograms.
pub fn check_series<L: WireLabel>(
    labels: &[L],
    mut timestamps: impl Iterator<Item = i64>,
    limits: &ValidationLimits,
    now_ms: i64,
) -> Result<(), ValidationError> {
    let Some(name) = labels.iter().find(|l| l.name() == METRIC_NAME) else {
        return Err(ValidationError {
            reason: DiscardReason::MissingMetricName,
            message: "received a series without metric name".to_string(),
        });
    };
    if !is_valid_metric_name(name.value()) {
        return Err(ValidationError {
            reason: DiscardReason::InvalidMetricName,
            message: format!(
                "received a series with invalid metric name: {}",
                quote(name.value())
            ),
        });
    }
    if labels.len() > limits.max_label_names_per_series {
        return Err(ValidationError {
            reason: DiscardReason::MaxLabelNamesPerSeries,
            message: format!(
                "received a series whose number of labels exceeds the limit (actual: {}, limit: {}) series: {}",
                labels.len(),
                limits.max_label_names_per_series,
                quote(&format_series(labels))
            ),
        });
    }
    let mut prev: Option<&str> = None;
    for l in labels {
        if !is_valid_label_name(l.name()) {
            return Err(ValidationError {
                reason: DiscardReason::InvalidLabel,
                message: format!(
                    "received a series with an invalid label: {} series: {}",
                    quote(l.name()),
                    quote(&format_series(labels))
                ),
            });
        }
        if l.name().len() > limits.max_label_name_length {
            return Err(ValidationError {
                reason: DiscardReason::LabelNameTooLong,
                message: format!(
                    "received a series whose label name length exceeds the limit, label: {} series: {}",
                    quote(l.name()),
                    quote(&format_series(labels))
                ),
            });
        }
        if l.value().len() > limits.max_label_value_length {
            return Err(ValidationError {
                reason: DiscardReason::LabelValueTooLong,
                message: format!(
                    "received a series whose label value length exceeds the limit, label: {}, value: {} (truncated) series: {}",
                    quote(l.name()),
                    quote(l.value()),
                    quote(&format_series(labels))
                ),
            });
        }
        if prev == Some(l.name()) {
            return Err(ValidationError {
                reason: DiscardReason::DuplicateLabelNames,
                message: format!(
                    "received a series with duplicate label name, label: {} series: {}",
                    quote(l.name()),
                    quote(&format_series(labels))
                ),
            });
        }
        prev = Some(l.name());
    }
    let max_t = now_ms.saturating_add(
        limits
            .creation_grace_period
            .as_millis()
            .min(i64::MAX as u128) as i64,
    );
    let future = timestamps.find(|&t| t > max_t);
    if let Some(t) = future {
        return Err(ValidationError {
            reason: DiscardReason::TooFarInFuture,
            message: format!(
                "received a sample whose timestamp is too far in the future, timestamp: {t} series: {}",
                quote(name.value())
            ),
        });
    }
    Ok(())
}

/// `[a-zA-Z_:][a-zA-Z0-9_:]*`, without a regex on the hot path.
pub fn is_valid_metric_name(name: &str) -> bool {
    let b = name.as_bytes();
    match b.first() {
        Some(c) if c.is_ascii_alphabetic() || *c == b'_' || *c == b':' => {}
        _ => return false,
    }
    b[1..]
        .iter()
        .all(|c| c.is_ascii_alphanumeric() || *c == b'_' || *c == b':')
}

/// `[a-zA-Z_][a-zA-Z0-9_]*`.
pub fn is_valid_label_name(name: &str) -> bool {
    let b = name.as_bytes();
    match b.first() {
        Some(c) if c.is_ascii_alphabetic() || *c == b'_' => {}
        _ => return false,
    }
    b[1..]
        .iter()
        .all(|c| c.is_ascii_alphanumeric() || *c == b'_')
}

/// The series as Prometheus prints it, `name{a="b", c="d"}`, from raw (possibly duplicated)
/// labels.
fn format_series<L: WireLabel>(labels: &[L]) -> String {
    let mut out = String::new();
    let name = labels.iter().find(|l| l.name() == METRIC_NAME);
    if let Some(n) = name {
        out.push_str(n.value());
    }
    let mut rest = labels.iter().filter(|l| l.name() != METRIC_NAME).peekable();
    if name.is_some() && rest.peek().is_none() {
        return out;
    }
    out.push('{');
    for (i, l) in rest.enumerate() {
        if i > 0 {
            out.push_str(", ");
        }
        out.push_str(l.name());
        out.push('=');
        out.push_str(&format!("{:?}", l.value()));
    }
    out.push('}');
    out
}

/// Quotes at most the first 200 characters, like Go's `%.200q`.
fn quote(s: &str) -> String {
    match s.char_indices().nth(MAX_QUOTED_CHARS) {
        Some((cut, _)) => format!("{:?}", &s[..cut]),
        None => format!("{s:?}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use strata_proto::prometheus::{Histogram, Sample};

    const NOW: i64 = 1_700_000_000_000;

    fn series(pairs: &[(&str, &str)]) -> TimeSeries {
        TimeSeries {
            labels: pairs
                .iter()
                .map(|(n, v)| Label {
                    name: n.to_string(),
                    value: v.to_string(),
                })
                .collect(),
            samples: vec![Sample {
                value: 1.0,
                timestamp: NOW,
            }],
            ..Default::default()
        }
    }

    fn check(mut ts: TimeSeries) -> Result<TimeSeries, ValidationError> {
        validate_series(&mut ts, &ValidationLimits::default(), NOW).map(|()| ts)
    }

    #[test]
    fn valid_series_is_normalised() {
        let ts = check(series(&[
            ("job", "a"),
            ("__name__", "up"),
            ("empty", ""),
            ("a", "b"),
        ]))
        .expect("valid");
        let names: Vec<&str> = ts.labels.iter().map(|l| l.name.as_str()).collect();
        assert_eq!(names, ["__name__", "a", "job"]);
    }

    #[test]
    fn missing_metric_name() {
        let e = check(series(&[("job", "a")])).expect_err("no name");
        assert_eq!(e.reason, DiscardReason::MissingMetricName);
        assert_eq!(e.message, "received a series without metric name");
        // An empty name is dropped first, so it is missing too.
        let e = check(series(&[("__name__", ""), ("job", "a")])).expect_err("empty name");
        assert_eq!(e.reason, DiscardReason::MissingMetricName);
    }

    #[test]
    fn invalid_metric_name() {
        let e = check(series(&[("__name__", "1up")])).expect_err("bad name");
        assert_eq!(e.reason, DiscardReason::InvalidMetricName);
        assert_eq!(
            e.message,
            r#"received a series with invalid metric name: "1up""#
        );
        assert!(check(series(&[("__name__", "ns:rule_total")])).is_ok());
    }

    #[test]
    fn invalid_label_name() {
        let e = check(series(&[("__name__", "foo"), ("0abc", "x")])).expect_err("bad label");
        assert_eq!(e.reason, DiscardReason::InvalidLabel);
        assert_eq!(
            e.message,
            r#"received a series with an invalid label: "0abc" series: "foo{0abc=\"x\"}""#
        );
        for bad in ["a-b", "a.b", "a:b", "ä"] {
            let e = check(series(&[("__name__", "foo"), (bad, "x")])).expect_err(bad);
            assert_eq!(e.reason, DiscardReason::InvalidLabel, "{bad}");
        }
    }

    #[test]
    fn duplicate_label() {
        let e = check(series(&[
            ("__name__", "foo"),
            ("a", "1"),
            ("b", "2"),
            ("a", "3"),
        ]))
        .expect_err("dup");
        assert_eq!(e.reason, DiscardReason::DuplicateLabelNames);
        assert_eq!(
            e.message,
            r#"received a series with duplicate label name, label: "a" series: "foo{a=\"1\", a=\"3\", b=\"2\"}""#
        );
    }

    #[test]
    fn too_many_labels() {
        let names: Vec<String> = (0..30).map(|i| format!("l{i:02}")).collect();
        let mut pairs: Vec<(&str, &str)> = names.iter().map(|n| (n.as_str(), "v")).collect();
        pairs.push(("__name__", "foo"));
        let e = check(series(&pairs)).expect_err("31 labels");
        assert_eq!(e.reason, DiscardReason::MaxLabelNamesPerSeries);
        assert!(
            e.message
                .starts_with("received a series whose number of labels exceeds the limit (actual: 31, limit: 30) series: \"foo{l00=\\\"v\\\""),
            "{}",
            e.message
        );
        // 30 is fine.
        pairs.remove(0);
        assert!(check(series(&pairs)).is_ok());
    }

    #[test]
    fn long_name_and_value() {
        let long_value = "v".repeat(3000);
        let e = check(series(&[("__name__", "foo"), ("a", &long_value)])).expect_err("long value");
        assert_eq!(e.reason, DiscardReason::LabelValueTooLong);
        assert!(e.message.starts_with(
            "received a series whose label value length exceeds the limit, label: \"a\", value: \"vvv"
        ));
        // Quoted text is cut at 200 characters.
        assert!(e.message.len() < 700, "{}", e.message.len());
        assert!(check(series(&[("__name__", "foo"), ("a", &"v".repeat(2048))])).is_ok());

        let long_name = "n".repeat(1025);
        let e = check(series(&[("__name__", "foo"), (&long_name, "x")])).expect_err("long name");
        assert_eq!(e.reason, DiscardReason::LabelNameTooLong);
    }

    #[test]
    fn future_samples() {
        let mut ts = series(&[("__name__", "foo")]);
        ts.samples.push(Sample {
            value: 2.0,
            timestamp: NOW + 3_600_000,
        });
        let e = check(ts).expect_err("future");
        assert_eq!(e.reason, DiscardReason::TooFarInFuture);
        assert_eq!(
            e.message,
            format!(
                "received a sample whose timestamp is too far in the future, timestamp: {} series: \"foo\"",
                NOW + 3_600_000
            )
        );
        // Within the 10m grace period.
        let mut ts = series(&[("__name__", "foo")]);
        ts.samples[0].timestamp = NOW + 599_000;
        assert!(check(ts).is_ok());
        // Histograms too.
        let mut ts = series(&[("__name__", "foo")]);
        ts.histograms.push(Histogram {
            timestamp: NOW + 3_600_000,
            ..Default::default()
        });
        assert_eq!(
            check(ts).expect_err("future histogram").reason,
            DiscardReason::TooFarInFuture
        );
    }

    #[test]
    fn request_keeps_valid_series_and_counts_the_rest() {
        let mut bad = series(&[("job", "x")]);
        bad.samples.push(Sample {
            value: 2.0,
            timestamp: NOW,
        });
        let mut req = WriteRequest {
            timeseries: vec![
                series(&[("__name__", "a")]),
                bad,
                series(&[("__name__", "b"), ("0x", "y")]),
                series(&[("__name__", "c")]),
                TimeSeries {
                    samples: vec![],
                    ..series(&[("__name__", "empty")])
                },
            ],
            metadata: vec![],
        };
        let report = validate_request(&mut req, &ValidationLimits::default(), NOW);
        let kept: Vec<&str> = req
            .timeseries
            .iter()
            .map(|t| t.labels[0].value.as_str())
            .collect();
        assert_eq!(kept, ["a", "c"]);
        assert_eq!(report.rejected, 2);
        assert_eq!(report.messages.len(), 2);
        assert_eq!(report.messages[0], "received a series without metric name");
        assert_eq!(
            report.discarded,
            vec![
                (DiscardReason::MissingMetricName, 2),
                (DiscardReason::InvalidLabel, 1)
            ]
        );
    }

    #[test]
    fn limits_serde() {
        let l: ValidationLimits = serde_json::from_str(
            r#"{"max_label_names_per_series": 40, "creation_grace_period": "1h"}"#,
        )
        .expect("parse");
        assert_eq!(l.max_label_names_per_series, 40);
        assert_eq!(l.creation_grace_period, Duration::from_secs(3600));
        assert_eq!(l.max_label_value_length, 2048);
        assert!(serde_json::from_str::<ValidationLimits>(r#"{"nope": 1}"#).is_err());
    }

    /// Validates `req` owned and borrowed, and checks both give the same report and keep
    /// the same (normalised) series.
    fn same_as_owned(req: WriteRequest, limits: &ValidationLimits) {
        use prost::Message as _;
        let buf = req.encode_to_vec();
        let mut flat = strata_proto::flat::decode_write_request(&buf).expect("flat request");
        let mut owned = req;
        let want = validate_request(&mut owned, limits, NOW);
        let got = validate_flat_request(&mut flat, limits, NOW);
        assert_eq!(got, want);
        let kept: Vec<TimeSeries> = flat
            .iter()
            .map(|(labels, samples)| TimeSeries {
                labels: labels
                    .iter()
                    .map(|(n, v)| Label {
                        name: n.to_string(),
                        value: v.to_string(),
                    })
                    .collect(),
                samples: samples
                    .iter()
                    .map(|s| Sample {
                        value: s.value,
                        timestamp: s.timestamp,
                    })
                    .collect(),
                ..Default::default()
            })
            .collect();
        assert_eq!(kept, owned.timeseries);
    }

    #[test]
    fn borrowed_validation_matches_owned() {
        let names: Vec<String> = (0..31).map(|i| format!("l{i:02}")).collect();
        let mut too_many: Vec<(&str, &str)> = names.iter().map(|n| (n.as_str(), "v")).collect();
        too_many.push(("__name__", "m"));
        let long = "v".repeat(3000);
        let mut future = series(&[("__name__", "f")]);
        future.samples[0].timestamp = NOW + 3_600_000;
        let req = WriteRequest {
            timeseries: vec![
                series(&[("job", "a"), ("__name__", "up"), ("empty", ""), ("a", "b")]),
                series(&[("job", "x")]),
                series(&[("__name__", "1up")]),
                series(&[("__name__", "m"), ("0abc", "x")]),
                series(&[("__name__", "m"), ("a", "1"), ("b", "2"), ("a", "3")]),
                series(&too_many),
                series(&[("__name__", "m"), ("a", &long)]),
                future,
                TimeSeries {
                    samples: vec![],
                    ..series(&[("__name__", "empty")])
                },
                series(&[("__name__", "")]),
                series(&[("b", "2"), ("__name__", "ok"), ("a", "")]),
            ],
            metadata: vec![],
        };
        same_as_owned(req.clone(), &ValidationLimits::default());
        let tight = ValidationLimits {
            max_label_names_per_series: 2,
            max_label_name_length: 3,
            max_label_value_length: 3,
            ..Default::default()
        };
        same_as_owned(req, &tight);
    }

    proptest::proptest! {
        #[test]
        fn borrowed_validation_matches_owned_on_random_series(
            series_labels in proptest::collection::vec(
                proptest::collection::vec(
                    (
                        proptest::sample::select(vec!["__name__", "a", "b", "job", "0x", "z"]),
                        proptest::sample::select(vec!["", "up", "1x", "v", "ü"]),
                    ),
                    0..6,
                ),
                0..8,
            ),
            offsets in proptest::collection::vec(0i64..1_200_000, 0..3),
        ) {
            let req = WriteRequest {
                timeseries: series_labels
                    .iter()
                    .map(|pairs| TimeSeries {
                        samples: offsets
                            .iter()
                            .map(|o| Sample { value: 1.0, timestamp: NOW + o })
                            .collect(),
                        ..series(pairs)
                    })
                    .collect(),
                metadata: vec![],
            };
            same_as_owned(req.clone(), &ValidationLimits::default());
            same_as_owned(req, &ValidationLimits { max_label_names_per_series: 3, ..Default::default() });
        }
    }
}
