//! The PromQL engine: evaluates Prometheus's query language over a storage [`Querier`]
//! with results equal to Prometheus 3's.
//!
//! Key types: [`Engine`] (with [`EngineOptions`]) runs [`Engine::instant_query`] and
//! [`Engine::range_query`], returning a [`QueryResult`] ([`Value`] plus annotations) or a
//! [`QueryError`] whose [`QueryError::error_type`] is the HTTP API's `errorType`.
//!
//! Data path: the query is parsed with `promql-parser`; phase one walks the AST, computes each
//! selector's absolute time range (offset, `@`, `start()`/`end()`, lookback, subquery ranges)
//! and loads all selectors concurrently through [`Querier::select`], decoding every series once
//! and only the samples in the selector's range ([`Series::decode_range`]; a large selection is
//! decoded in parts over the cores, joined in order); phase two evaluates synchronously, every node producing its values for all steps at once
//! (as Prometheus's `rangeEval`), so an instant query is a range query with one step.
//! `rate`/`increase` count a series' counter resets once (prefix counts), so a window without
//! any skips the scan for them. Large loaded selections and aggregation inputs are freed by a
//! background task once used (`free`), so the answer does not wait for thousands of frees.
//!
//! Name removal follows Prometheus's default (operators drop `__name__` as they go);
//! [`Engine::with_delayed_name_removal`] switches to the `promql-delayed-name-removal`
//! semantics Prometheus's own test harness uses. Annotations carry Prometheus's messages with
//! the `(line:col)` of the node they concern, from the positions Strata's fork of
//! `promql-parser` (`pkg/promql-parser`) records.
//!
//! Prometheus 3 syntax the fork adds: duration expressions (`[5m+step()]`, `offset (1m*2)`),
//! folded by the parser when constant and otherwise resolved per query by `durations`
//! before planning; the `anchored`/`smoothed` range modifiers, evaluated by `extended`
//! (selectors then load a lookback delta around their range); and the native histogram trim
//! operators `</` and `>/`, which yield nothing over floats.
//!
//! Native histograms: selectors decode every chunk encoding ([`Series::decode_all`]); a
//! series' step holds a float or a `FloatHistogram` (kept in a histogram column beside the
//! floats, so float-only operators see histograms as absent, as Prometheus's float functions
//! drop them). Results carry them as [`VectorSample::h`] and [`RangeSeries::histograms`].
//! Histogram semantics follow Prometheus 3 module by module: `nh_functions`
//! (`histogram_count`/`sum`/`avg`/`stddev`/`stdvar`, native `histogram_quantile` and
//! `histogram_fraction`), `nh_range` (`rate`, `increase`, `delta`, `irate`, `idelta`,
//! `*_over_time`, `changes`, `resets`), `nh_aggregate` (`sum`, `avg`, `count`, `group`, the
//! ignored-histogram rules), `nh_binop` (histogram arithmetic, comparisons and trimming) and
//! `nh_stats` (the counter reset hints of Prometheus's histogram-statistics decoding), each
//! with Prometheus's annotations. The `anchored`/`smoothed` modifiers are float-only so far.
//!
//! Invariants: range selectors are left-open `(t - range, t]`; instant selectors take the newest
//! sample in `(t - lookback, t]` unless it is a stale marker; label sets are built once per
//! series, never per step; two results with the same labels at one step are an error.
//!
//! [`Querier`]: strata_storage::Querier
//! [`Querier::select`]: strata_storage::Querier::select
//! [`Series::decode_all`]: strata_storage::Series::decode_all
//! [`Series::decode_range`]: strata_storage::Series::decode_range

mod aggregate;
mod binop;
mod durations;
mod engine;
mod error;
mod eval;
mod extended;
mod free;
mod functions;
mod histogram;
mod info;
mod mathx;
mod nh_aggregate;
mod nh_binop;
mod nh_functions;
mod nh_range;
mod nh_stats;
mod plan;
mod rangefns;
mod value;

pub use engine::{Engine, EngineOptions};
pub use error::QueryError;
pub use value::{HistogramPoint, QueryResult, RangeSeries, Value, VectorSample};
