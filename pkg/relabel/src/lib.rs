//! Prometheus relabeling (`relabel_configs`, `metric_relabel_configs`,
//! `write_relabel_configs`) for Strata's scraping agent.
//!
//! - [`RelabelConfig`]: one rule, read from YAML with Prometheus's defaults (separator `;`,
//!   regex `(.*)`, replacement `$1`, action `replace`) and refused with Prometheus's own
//!   messages ([`RelabelError`]) when Prometheus would refuse it.
//! - [`Regexp`]: the rule's regex, anchored (`^(?s:…)$`) with Go RE2's meaning, and Go's
//!   `Regexp.Expand` for `$1`, `${1}`, `${name}`.
//! - [`process`]: runs rules over a [`strata_model::Labels`], returning the new set or
//!   `None` when a rule dropped it. [`RelabelBuilder`] is the set under change, visiting
//!   labels in the same order as Prometheus's `labels.Builder`.
//!
//! ```text
//!  Labels ──► RelabelBuilder ──rule 1──► … ──rule n──► Some(Labels) | None (dropped)
//!              source values joined by separator, matched by the anchored regex
//! ```
//!
//! Every action behaves as in Prometheus 2.42 (`model/relabel/relabel.go`): `replace` skips
//! a target that expands to an invalid label name and deletes the target when the
//! replacement expands to nothing; `hashmod` is the big-endian value of the last 8 bytes of
//! the MD5 of the joined values, modulo `modulus`; `lowercase`/`uppercase` use Go's simple
//! case mappings. The regex anchoring is Prometheus 3's `^(?s:…)$` (`.` also matches a
//! newline), as Strata's query matchers; Prometheus 2.42 used `^(?:…)$`, which differs only
//! for values holding a newline. Label names are checked with Prometheus 2's rules
//! (`[a-zA-Z_][a-zA-Z0-9_]*`), not Prometheus 3's UTF-8 names.

mod builder;
mod config;
mod error;
mod process;
mod regex;

pub use builder::RelabelBuilder;
pub use config::{
    is_label_name_template, is_valid_label_name, Action, RawRelabelConfig, RelabelConfig,
    DEFAULT_REGEX, DEFAULT_REPLACEMENT, DEFAULT_SEPARATOR,
};
pub use error::RelabelError;
pub use process::{hashmod, process, process_builder};
pub use regex::Regexp;

#[cfg(test)]
mod tests;
