//! Turning one scrape's body into samples, without I/O (Prometheus's `scrapeLoop.append` and
//! `report`). Text 0.0.4 and OpenMetrics bodies go through the entry parser; the delimited
//! protobuf format through the protobuf parser, whose native histograms become histogram
//! samples (classic series too with `always_scrape_classic_histograms`).
//!
//! ```text
//!  body ──parse──► sample ──cache hit?──► final labels
//!                     └─ miss: exposed labels ─► target labels (honor_labels / exported_*)
//!                          ─► metric_relabel_configs ─► checks and label limits ─► cache
//!  final labels ─► duplicate in this scrape? sample_limit? SeriesClock? ─► Batch
//!  end: previous scrape's series missing now ─► stale markers
//! ```
//!
//! A failed append (parse error, limits) yields an error; the caller drops the batch and
//! appends an empty scrape instead, which marks every previous series stale, as Prometheus.

use std::collections::{HashMap, HashSet};

use strata_exposition::{
    format_for_content_type, Entry, Format, Limits, MetricType, Parser, ProtoValue, ProtobufParser,
};
use strata_model::{FloatHistogram, Histogram, Label, Labels, METRIC_NAME, STALE_NAN};
use strata_relabel::{RelabelBuilder, RelabelConfig};

use crate::cache::ScrapeCache;
use crate::sink::{Admit, Exemplar, Metadata, SeriesClock};

/// `scrape_*` series' names.
pub const UP: &str = "up";
/// `scrape_duration_seconds`.
pub const SCRAPE_DURATION: &str = "scrape_duration_seconds";
/// `scrape_samples_scraped`.
pub const SAMPLES_SCRAPED: &str = "scrape_samples_scraped";
/// `scrape_samples_post_metric_relabeling`.
pub const SAMPLES_POST_RELABEL: &str = "scrape_samples_post_metric_relabeling";
/// `scrape_series_added`.
pub const SERIES_ADDED: &str = "scrape_series_added";

/// The per-job settings the append step needs.
#[derive(Clone, Debug, Default)]
pub struct AppendOptions {
    /// The target's labels (no `__` labels).
    pub target_labels: Labels,
    /// `honor_labels`.
    pub honor_labels: bool,
    /// `honor_timestamps`.
    pub honor_timestamps: bool,
    /// `metric_relabel_configs`.
    pub metric_relabel: Vec<RelabelConfig>,
    /// `sample_limit` (0: none).
    pub sample_limit: u64,
    /// `label_limit` (0: none).
    pub label_limit: u64,
    /// `label_name_length_limit` (0: none).
    pub label_name_length_limit: u64,
    /// `label_value_length_limit` (0: none).
    pub label_value_length_limit: u64,
    /// `always_scrape_classic_histograms`: keep a native histogram's classic series too.
    pub always_scrape_classic_histograms: bool,
}

/// Why an append failed.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum AppendError {
    /// The body does not parse.
    #[error("{0}")]
    Parse(String),
    /// More samples than `sample_limit`.
    #[error("sample limit exceeded")]
    SampleLimit,
    /// A label limit (`label_limit`, name or value length) was exceeded.
    #[error("{0}")]
    LabelLimit(String),
    /// A series without `__name__` after relabeling.
    #[error("missing metric name (__name__ label)")]
    NoName,
    /// Invalid names after relabeling, or a label name twice.
    #[error("{0}")]
    Invalid(String),
}

/// The samples one scrape writes.
#[derive(Debug, Default)]
pub struct Batch {
    /// `(labels, t_ms, value, labels hash)` in order.
    pub samples: Vec<(Labels, i64, f64, u64)>,
    /// Native histogram samples `(labels, t_ms, value, labels hash)` in order.
    pub histograms: Vec<(Labels, i64, Value, u64)>,
    /// Exemplars with their series.
    pub exemplars: Vec<(Labels, Exemplar)>,
    /// Changed metadata.
    pub metadata: Vec<Metadata>,
}

impl Batch {
    fn push(&mut self, clock: &SeriesClock, labels: Labels, t: i64, v: f64) -> Admit {
        let h = labels.stable_hash();
        let a = clock.check(h, t, v);
        if a == Admit::Yes {
            self.samples.push((labels, t, v, h));
        }
        a
    }
}

/// Counts of one append.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct AppendStats {
    /// Samples in the body (`scrape_samples_scraped`).
    pub total: u64,
    /// Samples not dropped by metric relabeling (`scrape_samples_post_metric_relabeling`).
    pub added: u64,
    /// Series new to the cache (`scrape_series_added`).
    pub series_added: u64,
    /// Series seen twice in this scrape (skipped).
    pub duplicates: u64,
    /// Samples older than their series' newest (skipped).
    pub out_of_order: u64,
    /// Samples at their series' newest timestamp with another value (skipped).
    pub duplicate_timestamps: u64,
    /// Exemplars appended.
    pub exemplars: u64,
}

/// Parses `body` and appends its samples at `t_ms` (or their own timestamps under
/// `honor_timestamps`) into `batch`, then stale markers for series gone since the last
/// scrape. On error the batch is to be dropped (and an empty append done instead).
pub fn append(
    cache: &mut ScrapeCache,
    opts: &AppendOptions,
    clock: &SeriesClock,
    body: &[u8],
    content_type: &str,
    t_ms: i64,
    batch: &mut Batch,
) -> (AppendStats, Result<(), AppendError>) {
    let mut st = AppendStats::default();
    let (format, ct_err) = format_for_content_type(content_type);
    if let Some(e) = ct_err {
        tracing::debug!(err = %e, "invalid content type; reading the body as Prometheus text");
    }
    let pass = Pass {
        cache: &mut *cache,
        opts,
        clock,
        batch: &mut *batch,
        st: &mut st,
        t_ms,
        seen: HashSet::new(),
        limit_count: 0,
        limit_err: false,
    };
    let res = if format == Format::PrometheusProto {
        proto_entries(pass, body)
    } else {
        text_entries(pass, body, format)
    };
    if res.is_ok() {
        for labels in cache.stale() {
            // Out-of-order and duplicate stale markers are ignored, as Prometheus does.
            batch.push(clock, labels, t_ms, STALE_NAN);
        }
        cache.iter_done(!body.is_empty());
    }
    (st, res)
}

/// A sample's value.
#[derive(Clone, Debug, PartialEq)]
pub enum Value {
    /// A float.
    Float(f64),
    /// A native histogram with integer counts.
    Histogram(Box<Histogram>),
    /// A native histogram with float counts.
    FloatHistogram(Box<FloatHistogram>),
}

/// The state of one append pass over a body.
struct Pass<'a> {
    cache: &'a mut ScrapeCache,
    opts: &'a AppendOptions,
    clock: &'a SeriesClock,
    batch: &'a mut Batch,
    st: &'a mut AppendStats,
    t_ms: i64,
    seen: HashSet<u64>,
    limit_count: u64,
    limit_err: bool,
}

impl Pass<'_> {
    /// One exposed sample (Prometheus's loop body in `scrapeLoop.append`). `met` is the
    /// cache key, `exposed` builds the labels as exposed on a cache miss; the exemplars
    /// are `(labels, value, timestamp)`.
    fn sample(
        &mut self,
        met: &str,
        exposed: impl FnOnce() -> Result<Labels, AppendError>,
        value: Value,
        timestamp_ms: Option<i64>,
        exemplars: Vec<(Vec<Label>, f64, Option<i64>)>,
    ) -> Result<(), AppendError> {
        self.st.total += 1;
        let explicit_ts = timestamp_ms.filter(|_| self.opts.honor_timestamps);
        let t = explicit_ts.unwrap_or(self.t_ms);
        if self.cache.is_dropped(met) {
            return Ok(());
        }
        // One clone of the cached labels per sample: it goes into the batch.
        let cached = self.cache.get(met).map(|e| (e.labels.clone(), e.hash));
        let was_cached = cached.is_some();
        let (labels, hash) = match cached {
            Some(c) => c,
            None => {
                let exposed = exposed()?;
                let hash = exposed.stable_hash();
                let Some(labels) = mutate_sample_labels(&exposed, self.opts) else {
                    self.cache.add_dropped(met);
                    return Ok(());
                };
                check_labels(&labels, self.opts)?;
                (labels, hash)
            }
        };
        // Append, as Prometheus's appender chain answers: limit, then storage checks.
        let final_hash = labels.stable_hash();
        let mut appended = false;
        let mut admitted = None;
        if !self.seen.insert(final_hash) {
            self.st.duplicates += 1;
        } else if self.opts.sample_limit > 0 && {
            self.limit_count += 1;
            self.limit_count > self.opts.sample_limit
        } {
            self.limit_err = true;
        } else {
            // Histograms at their series' newest timestamp count as repeats.
            let bits = match &value {
                Value::Float(v) => *v,
                _ => f64::NAN,
            };
            match self.clock.check(final_hash, t, bits) {
                Admit::Yes => {
                    admitted = Some(value);
                    appended = true;
                }
                Admit::Repeat => appended = true,
                Admit::Duplicate if !matches!(value, Value::Float(_)) => appended = true,
                Admit::OutOfOrder => self.st.out_of_order += 1,
                Admit::Duplicate => self.st.duplicate_timestamps += 1,
            }
        }
        if was_cached {
            if appended && explicit_ts.is_none() {
                self.cache.track_staleness(hash, &labels);
            }
        } else {
            if explicit_ts.is_none() {
                self.cache.track_staleness(hash, &labels);
            }
            self.cache.add(met, labels.clone(), hash);
            if appended && !self.limit_err {
                self.st.series_added += 1;
            }
        }
        self.st.added += 1;
        if appended {
            for (mut ls, value, ts) in exemplars {
                ls.retain(|l| !l.value.is_empty());
                self.batch.exemplars.push((
                    labels.clone(),
                    Exemplar {
                        labels: Labels::new(ls),
                        value,
                        t_ms: ts.unwrap_or(t),
                    },
                ));
                self.st.exemplars += 1;
            }
        }
        // Last, so the labels move into the batch instead of being cloned.
        match admitted {
            Some(Value::Float(v)) => self.batch.samples.push((labels, t, v, final_hash)),
            Some(h) => self.batch.histograms.push((labels, t, h, final_hash)),
            None => {}
        }
        Ok(())
    }

    fn finish(self, meta: HashMap<String, Metadata>) -> Result<(), AppendError> {
        if self.limit_err {
            return Err(AppendError::SampleLimit);
        }
        for (_, m) in meta {
            if self.cache.metadata(&m.family) != Some(&m) {
                self.batch.metadata.push(m.clone());
                self.cache.set_metadata(m);
            }
        }
        Ok(())
    }
}

fn text_entries(mut pass: Pass<'_>, body: &[u8], format: Format) -> Result<(), AppendError> {
    let mut meta: HashMap<String, Metadata> = HashMap::new();
    for entry in Parser::new(body, format, Limits::default()) {
        let s = match entry.map_err(|e| AppendError::Parse(e.to_string()))? {
            Entry::Type { metric, kind } => {
                meta_entry(&mut meta, metric).kind = kind;
                continue;
            }
            Entry::Help { metric, text } => {
                meta_entry(&mut meta, metric).help = text.into_owned();
                continue;
            }
            Entry::Unit { metric, unit } => {
                meta_entry(&mut meta, metric).unit = unit.to_string();
                continue;
            }
            Entry::Comment(_) => continue,
            Entry::Sample(s) => s,
        };
        let met = series_text(
            s.name.as_bytes(),
            s.labels.iter().map(|l| (l.name, l.value.as_ref())),
        );
        let exemplars = s
            .exemplar
            .iter()
            .map(|e| {
                let ls = e
                    .labels
                    .iter()
                    .map(|l| Label::new(l.name, l.value.as_ref()))
                    .collect();
                (ls, e.value, e.timestamp_ms)
            })
            .collect();
        let pairs = || s.labels.iter().map(|l| (l.name, l.value.as_ref()));
        pass.sample(
            &met,
            || exposed_labels(s.name, pairs()),
            Value::Float(s.value),
            s.timestamp_ms,
            exemplars,
        )?;
    }
    pass.finish(meta)
}

fn proto_entries(mut pass: Pass<'_>, body: &[u8]) -> Result<(), AppendError> {
    let mut meta: HashMap<String, Metadata> = HashMap::new();
    let keep_classic = pass.opts.always_scrape_classic_histograms;
    for fam in ProtobufParser::new(body, keep_classic) {
        let fam = fam.map_err(|e| AppendError::Parse(e.to_string()))?;
        let m = meta_entry(&mut meta, &fam.name);
        m.kind = fam.kind;
        m.help.clone_from(&fam.help);
        m.unit.clone_from(&fam.unit);
        for s in fam.samples {
            let pairs = || s.labels.iter().map(|(n, v)| (n.as_str(), v.as_str()));
            let mut met = series_text(s.name.as_bytes(), pairs());
            let value = match s.value {
                ProtoValue::Float(v) => Value::Float(v),
                ProtoValue::Histogram(h) => {
                    // A native histogram and a classic series may share a text.
                    met.push_str("\u{fd}h");
                    Value::Histogram(h)
                }
                ProtoValue::FloatHistogram(h) => {
                    met.push_str("\u{fd}h");
                    Value::FloatHistogram(h)
                }
            };
            let exemplars = s
                .exemplars
                .iter()
                .map(|e| {
                    let ls = e.labels.iter().map(|(n, v)| Label::new(n, v)).collect();
                    (ls, e.value, e.timestamp_ms)
                })
                .collect();
            pass.sample(
                &met,
                || exposed_labels(&s.name, pairs()),
                value,
                s.timestamp_ms,
                exemplars,
            )?;
        }
    }
    pass.finish(meta)
}

fn meta_entry<'m>(meta: &'m mut HashMap<String, Metadata>, family: &str) -> &'m mut Metadata {
    meta.entry(family.to_string()).or_insert_with(|| Metadata {
        family: family.to_string(),
        kind: MetricType::Unknown,
        help: String::new(),
        unit: String::new(),
    })
}

/// The cache key of a sample: its name and labels as written.
fn series_text<'a>(name: &[u8], labels: impl Iterator<Item = (&'a str, &'a str)>) -> String {
    let mut s = String::from_utf8_lossy(name).into_owned();
    for (n, v) in labels {
        s.push('\u{ff}');
        s.push_str(n);
        s.push('\u{fe}');
        s.push_str(v);
    }
    s
}

/// The sample's labels as exposed, empty values included: the series never carries them, but
/// a name exposed empty still counts as exposed for `honor_labels` and `exported_*` names
/// ([`mutate_sample_labels`]). A label name twice is an error (Prometheus's storage refuses
/// such a series).
fn exposed_labels<'a>(
    name: &str,
    labels: impl Iterator<Item = (&'a str, &'a str)>,
) -> Result<Labels, AppendError> {
    let mut v = vec![Label::new(METRIC_NAME, name)];
    v.extend(labels.map(|(n, val)| Label::new(n, val)));
    v.sort_by(|a, b| a.name.cmp(&b.name));
    if let Some(w) = v.windows(2).find(|w| w[0].name == w[1].name) {
        return Err(AppendError::Invalid(format!(
            "label name {:?} is not unique: invalid sample",
            w[0].name
        )));
    }
    Ok(Labels::from_sorted(v))
}

/// Adds the target's labels to a scraped series (Prometheus's `mutateSampleLabels`), then
/// metric relabeling; `None` when relabeling dropped it. `exposed` may hold empty values
/// (absent from the result): as in Prometheus, where `lset.Has` sees them, a target label
/// exposed empty is not added under `honor_labels` (the series has no such label), and an
/// `exported_*` name exposed empty counts as taken (the next `exported_exported_*` is used).
pub fn mutate_sample_labels(exposed: &Labels, opts: &AppendOptions) -> Option<Labels> {
    let non_empty = exposed
        .iter()
        .filter(|l| !l.value.is_empty())
        .cloned()
        .collect();
    let mut b = RelabelBuilder::new(Labels::from_sorted(non_empty));
    if opts.honor_labels {
        for l in opts.target_labels.iter() {
            if exposed.get(&l.name).is_none() {
                b.set(&l.name, &l.value);
            }
        }
    } else {
        let mut conflicting: Vec<(String, String)> = Vec::new();
        for l in opts.target_labels.iter() {
            if let Some(v) = exposed.get(&l.name).filter(|v| !v.is_empty()) {
                conflicting.push((l.name.clone(), v.to_string()));
            }
            b.set(&l.name, &l.value);
        }
        // Shorter names first, each renamed to the first free exported_… name.
        conflicting.sort_by_key(|(n, _)| n.len());
        for (name, value) in conflicting {
            let mut new = name;
            loop {
                new = format!("exported_{new}");
                if exposed.get(&new).is_none() && b.get(&new).is_empty() {
                    b.set(&new, &value);
                    break;
                }
            }
        }
    }
    let res = b.labels();
    if opts.metric_relabel.is_empty() {
        return Some(res);
    }
    strata_relabel::process(&res, &opts.metric_relabel).filter(|l| !l.is_empty())
}

/// A report series' labels: its name plus the target's labels (Prometheus's
/// `mutateReportSampleLabels`; target labels never start with `__`, so nothing conflicts).
pub fn report_labels(name: &str, target_labels: &Labels) -> Labels {
    let mut v = Vec::with_capacity(target_labels.len() + 1);
    v.push(Label::new(METRIC_NAME, name));
    v.extend(target_labels.iter().cloned());
    Labels::new(v)
}

fn is_metric_name(s: &str) -> bool {
    let mut b = s.bytes();
    matches!(b.next(), Some(c) if c.is_ascii_alphabetic() || c == b'_' || c == b':')
        && b.all(|c| c.is_ascii_alphanumeric() || c == b'_' || c == b':')
}

fn trunc(s: &str, n: usize) -> &str {
    match s.char_indices().nth(n) {
        Some((i, _)) => &s[..i],
        None => s,
    }
}

/// Prometheus's checks of a new series: a name, valid names, then `verifyLabelLimits`.
fn check_labels(l: &Labels, o: &AppendOptions) -> Result<(), AppendError> {
    let Some(met) = l.metric_name() else {
        return Err(AppendError::NoName);
    };
    if !is_metric_name(met)
        || !l
            .iter()
            .all(|x| strata_relabel::is_valid_label_name(&x.name))
    {
        return Err(AppendError::Invalid(format!(
            "invalid metric name or label names: {l}"
        )));
    }
    let met = trunc(met, 50);
    if o.label_limit > 0 && l.len() as u64 > o.label_limit {
        return Err(AppendError::LabelLimit(format!(
            "label_limit exceeded (metric: {met}, number of labels: {}, limit: {})",
            l.len(),
            o.label_limit
        )));
    }
    for x in l.iter() {
        let n = x.name.len() as u64;
        if o.label_name_length_limit > 0 && n > o.label_name_length_limit {
            return Err(AppendError::LabelLimit(format!(
                "label_name_length_limit exceeded (metric: {met}, label name: {}, length: {n}, limit: {})",
                trunc(&x.name, 50),
                o.label_name_length_limit
            )));
        }
        let n = x.value.chars().count() as u64;
        if o.label_value_length_limit > 0 && n > o.label_value_length_limit {
            return Err(AppendError::LabelLimit(format!(
                "label_value_length_limit exceeded (metric: {met}, label name: {}, value: {:?}, length: {n}, limit: {})",
                trunc(&x.name, 50),
                trunc(&x.value, 50),
                o.label_value_length_limit
            )));
        }
    }
    Ok(())
}

/// The five `scrape_*` values of one scrape.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Report {
    /// `up`: 1 when the scrape and its append succeeded.
    pub up: f64,
    /// `scrape_duration_seconds`.
    pub duration_seconds: f64,
    /// `scrape_samples_scraped`.
    pub scraped: u64,
    /// `scrape_samples_post_metric_relabeling`.
    pub post_relabel: u64,
    /// `scrape_series_added`.
    pub series_added: u64,
}

/// Appends the report series at `t_ms` (out-of-order ones are ignored); with `stale`, their
/// stale markers instead (a target going away).
pub fn append_report(
    target_labels: &Labels,
    r: Option<Report>,
    clock: &SeriesClock,
    t_ms: i64,
    batch: &mut Batch,
) {
    let values = match r {
        Some(r) => [
            r.up,
            r.duration_seconds,
            r.scraped as f64,
            r.post_relabel as f64,
            r.series_added as f64,
        ],
        None => [STALE_NAN; 5],
    };
    for (name, v) in [
        UP,
        SCRAPE_DURATION,
        SAMPLES_SCRAPED,
        SAMPLES_POST_RELABEL,
        SERIES_ADDED,
    ]
    .into_iter()
    .zip(values)
    {
        batch.push(clock, report_labels(name, target_labels), t_ms, v);
    }
}

#[cfg(test)]
#[path = "append_tests.rs"]
mod tests;
