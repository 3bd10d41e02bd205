//! Strata's core data types, shared by every other crate.
//!
//! - [`Labels`]: a series' identity, a set of [`Label`]s sorted by name with unique names.
//! - [`TenantId`]: a validated tenant id; never a bare `String`.
//! - [`Matcher`]: a label matcher (`=`, `!=`, `=~`, `!~`) with Prometheus's anchored regex semantics.
//! - [`Sample`] and the stale marker ([`STALE_NAN`], [`is_stale_nan`]).
//! - [`histogram`]: native histograms ([`Histogram`], [`FloatHistogram`]) with Prometheus's
//!   validation and arithmetic.
//!
//! Invariants: a `Labels` value is always sorted by name and holds no duplicate names; a
//! `TenantId` always satisfies [`TenantId::new`]'s rules.

pub mod histogram;
mod labels;
mod matcher;
mod sample;
mod tenant;

pub use histogram::{CounterResetHint, FloatHistogram, Histogram, Span};
pub use labels::{Label, Labels, LabelsBuilder, METRIC_NAME};
pub use matcher::{MatchOp, Matcher, MatcherError};
pub use sample::{is_stale_nan, Sample, STALE_NAN, STALE_NAN_BITS};
pub use tenant::{TenantId, TenantIdError, MAX_TENANT_ID_LEN};
