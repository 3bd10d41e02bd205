//! Where scraped samples go: [`SampleSink`] (the remote-write queue in the binary, a
//! [`MemorySink`] in tests) and [`SeriesClock`], the agent's memory of each series' newest
//! sample, which refuses out-of-order and conflicting duplicate samples as Prometheus's
//! storage does.
//!
//! ```text
//!  scrape loop ──batch──► SeriesClock (out of order? duplicate?) ──► SinkAppender ──commit──►
//! ```

use std::collections::HashMap;
use std::sync::Arc;

use futures::future::BoxFuture;
use parking_lot::Mutex;
use strata_exposition::MetricType;
use strata_model::{FloatHistogram, Histogram, Labels};

/// An exemplar attached to a sample.
#[derive(Clone, Debug, PartialEq)]
pub struct Exemplar {
    /// The exemplar's labels.
    pub labels: Labels,
    /// Its value.
    pub value: f64,
    /// Its timestamp in milliseconds (the scrape time when the exposition gave none).
    pub t_ms: i64,
}

/// A metric family's metadata.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Metadata {
    /// The family name.
    pub family: String,
    /// Its type.
    pub kind: MetricType,
    /// Its help text.
    pub help: String,
    /// Its unit.
    pub unit: String,
}

/// A commit that failed; the samples of that scrape are lost (logged and counted).
#[derive(Debug, thiserror::Error)]
#[error("commit scrape samples: {0}")]
pub struct SinkError(pub String);

/// One scrape's writes; nothing is visible before [`SinkAppender::commit`].
pub trait SinkAppender: Send {
    /// Adds a float sample (a stale marker is `STALE_NAN`).
    fn append(&mut self, labels: &Labels, t_ms: i64, v: f64);
    /// Adds a native histogram sample.
    fn append_histogram(&mut self, labels: &Labels, t_ms: i64, h: &Histogram);
    /// Adds a native float histogram sample.
    fn append_float_histogram(&mut self, labels: &Labels, t_ms: i64, h: &FloatHistogram);
    /// Adds an exemplar of the series `labels`.
    fn append_exemplar(&mut self, labels: &Labels, e: &Exemplar);
    /// Adds a family's metadata.
    fn append_metadata(&mut self, m: &Metadata);
    /// Makes the scrape's writes durable and visible.
    fn commit(self: Box<Self>) -> BoxFuture<'static, Result<(), SinkError>>;
}

/// A destination for scraped samples.
pub trait SampleSink: Send + Sync + 'static {
    /// An appender for one scrape.
    fn appender(&self) -> Box<dyn SinkAppender>;
}

/// What [`SeriesClock::check`] says of a sample.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Admit {
    /// Newer than the series' last sample: append it.
    Yes,
    /// The same timestamp and value as the last one: drop it silently.
    Repeat,
    /// Older than the series' last sample.
    OutOfOrder,
    /// The same timestamp with another value.
    Duplicate,
}

/// The newest timestamp (and value bits) written for each series, by label hash.
#[derive(Default)]
pub struct SeriesClock {
    shards: Vec<Mutex<HashMap<u64, (i64, u64)>>>,
}

const CLOCK_SHARDS: usize = 16;

impl SeriesClock {
    /// An empty clock.
    pub fn new() -> Self {
        Self {
            shards: (0..CLOCK_SHARDS).map(|_| Mutex::default()).collect(),
        }
    }

    fn shard(&self, hash: u64) -> &Mutex<HashMap<u64, (i64, u64)>> {
        // Bits above the ones hash maps use for buckets.
        &self.shards[usize::try_from(hash >> 60).unwrap_or(0) % self.shards.len()]
    }

    /// Tells whether a sample at `t` with value `v` may be written for series `hash`.
    pub fn check(&self, hash: u64, t: i64, v: f64) -> Admit {
        match self.shard(hash).lock().get(&hash) {
            None => Admit::Yes,
            Some(&(last, _)) if t > last => Admit::Yes,
            Some(&(last, _)) if t < last => Admit::OutOfOrder,
            Some(&(_, bits)) if bits == v.to_bits() => Admit::Repeat,
            Some(_) => Admit::Duplicate,
        }
    }

    /// Records a written sample.
    pub fn advance(&self, hash: u64, t: i64, v: f64) {
        let mut s = self.shard(hash).lock();
        let e = s.entry(hash).or_insert((i64::MIN, 0));
        if t >= e.0 {
            *e = (t, v.to_bits());
        }
    }

    /// Forgets series whose newest sample is older than `min_t` (bounded memory under churn).
    pub fn forget_before(&self, min_t: i64) {
        for s in &self.shards {
            s.lock().retain(|_, (t, _)| *t >= min_t);
        }
    }

    /// The number of series remembered.
    pub fn len(&self) -> usize {
        self.shards.iter().map(|s| s.lock().len()).sum()
    }

    /// Tells whether no series is remembered.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// A committed sample in a [`MemorySink`].
#[derive(Clone, Debug, PartialEq)]
pub struct Written {
    /// The series.
    pub labels: Labels,
    /// Milliseconds.
    pub t_ms: i64,
    /// The value.
    pub v: f64,
}

/// Keeps every committed sample in memory, in commit order (tests, and a sink for
/// `-agent` runs without remote write).
#[derive(Clone, Default)]
pub struct MemorySink {
    inner: Arc<Mutex<MemoryState>>,
}

#[derive(Default)]
struct MemoryState {
    samples: Vec<Written>,
    histograms: Vec<(Labels, i64, FloatHistogram)>,
    exemplars: Vec<(Labels, Exemplar)>,
    metadata: Vec<Metadata>,
    commits: usize,
}

impl MemorySink {
    /// An empty sink.
    pub fn new() -> Self {
        Self::default()
    }

    /// Every committed sample so far.
    pub fn samples(&self) -> Vec<Written> {
        self.inner.lock().samples.clone()
    }

    /// The committed samples of one series (by its labels' display form, e.g. `up{job="a"}`
    /// matched on the metric name and every given label).
    pub fn series(&self, name: &str, labels: &[(&str, &str)]) -> Vec<(i64, f64)> {
        self.inner
            .lock()
            .samples
            .iter()
            .filter(|w| {
                w.labels.metric_name() == Some(name)
                    && labels.iter().all(|(k, v)| w.labels.get(k) == Some(*v))
            })
            .map(|w| (w.t_ms, w.v))
            .collect()
    }

    /// Every committed native histogram sample (integer ones converted to float).
    pub fn histograms(&self) -> Vec<(Labels, i64, FloatHistogram)> {
        self.inner.lock().histograms.clone()
    }

    /// Every committed exemplar.
    pub fn exemplars(&self) -> Vec<(Labels, Exemplar)> {
        self.inner.lock().exemplars.clone()
    }

    /// Every committed metadata entry.
    pub fn metadata(&self) -> Vec<Metadata> {
        self.inner.lock().metadata.clone()
    }

    /// The number of commits.
    pub fn commits(&self) -> usize {
        self.inner.lock().commits
    }
}

struct MemoryAppender {
    sink: Arc<Mutex<MemoryState>>,
    pending: MemoryState,
}

impl SinkAppender for MemoryAppender {
    fn append(&mut self, labels: &Labels, t_ms: i64, v: f64) {
        self.pending.samples.push(Written {
            labels: labels.clone(),
            t_ms,
            v,
        });
    }
    fn append_histogram(&mut self, labels: &Labels, t_ms: i64, h: &Histogram) {
        self.pending
            .histograms
            .push((labels.clone(), t_ms, h.to_float()));
    }
    fn append_float_histogram(&mut self, labels: &Labels, t_ms: i64, h: &FloatHistogram) {
        self.pending
            .histograms
            .push((labels.clone(), t_ms, h.clone()));
    }
    fn append_exemplar(&mut self, labels: &Labels, e: &Exemplar) {
        self.pending.exemplars.push((labels.clone(), e.clone()));
    }
    fn append_metadata(&mut self, m: &Metadata) {
        self.pending.metadata.push(m.clone());
    }
    fn commit(self: Box<Self>) -> BoxFuture<'static, Result<(), SinkError>> {
        let me = *self;
        Box::pin(async move {
            let mut s = me.sink.lock();
            s.samples.extend(me.pending.samples);
            s.histograms.extend(me.pending.histograms);
            s.exemplars.extend(me.pending.exemplars);
            s.metadata.extend(me.pending.metadata);
            s.commits += 1;
            Ok(())
        })
    }
}

impl SampleSink for MemorySink {
    fn appender(&self) -> Box<dyn SinkAppender> {
        Box::new(MemoryAppender {
            sink: Arc::clone(&self.inner),
            pending: MemoryState::default(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clock_admits_like_prometheus_storage() {
        let c = SeriesClock::new();
        assert_eq!(c.check(1, 10, 1.0), Admit::Yes);
        c.advance(1, 10, 1.0);
        assert_eq!(c.check(1, 11, 5.0), Admit::Yes);
        assert_eq!(c.check(1, 9, 5.0), Admit::OutOfOrder);
        assert_eq!(c.check(1, 10, 1.0), Admit::Repeat);
        assert_eq!(c.check(1, 10, 2.0), Admit::Duplicate);
        c.forget_before(11);
        assert!(c.is_empty());
    }
}
