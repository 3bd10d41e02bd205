//! Parsers for what a scrape returns: the Prometheus text format 0.0.4 and OpenMetrics 1.0
//! text, and the content negotiation that picks between them.
//!
//! - [`Parser`]: an iterator of [`Entry`]s (`# HELP`, `# TYPE`, `# UNIT`, comments,
//!   [`Sample`]s with optional timestamp and [`Exemplar`]) over a borrowed body. Names and
//!   label values are borrowed from the body; only values with escapes are copied.
//! - [`ParseError`]: the first error, with line and byte column, in Prometheus's words
//!   (`expected equal, got "INVALID" ("!") while parsing: "up{a!"`).
//! - [`accept_header`] for a job's [`ScrapeProtocol`]s, [`format_for_content_type`] for the
//!   response.
//!
//! ```text
//!  Content-Type ──format_for_content_type──► Format
//!  body bytes ──Parser::new(body, format, limits)──► Entry, Entry, … | ParseError
//!               lexer (per-format token rules) ──► parser (entry grammar)
//! ```
//!
//! The grammar is Prometheus 2's (`model/textparse`), token for token: the text format
//! allows blank lines, free comments, whitespace anywhere between tokens, a missing comma
//! between labels, and quoted label values spanning lines; OpenMetrics allows none of those,
//! needs `# EOF` last, reads timestamps as seconds and takes exemplars. Unknown escapes in
//! label values are kept as written (Prometheus does the same); invalid UTF-8 in a label
//! value or help text is an error; a NUL byte at the start of a text-format line ends the
//! input, as in Prometheus. Metric and label names are Prometheus 2's (no quoted UTF-8
//! names). Nothing is checked across lines (duplicate series, duplicate label names,
//! families out of order): that is the scrape loop's job.
//!
//! Invariants: no input makes a parser panic or read past its [`Limits`]; after an error the
//! iterator ends.
//!
//! The delimited protobuf format ([`Format::PrometheusProto`], the one native histograms
//! need) has its own parser, as its entries are whole metric families with owned strings
//! and histogram values: [`ProtobufParser`] / [`parse_protobuf`] yield [`ProtoFamily`]s
//! whose [`ProtoSample`]s are the series Prometheus's protobuf parser yields (classic
//! histograms and summaries expanded to `_bucket`/`quantile`, `_sum`, `_count`; native
//! histograms as [`strata_model::Histogram`] / [`strata_model::FloatHistogram`]);
//! [`dto`] has the `io.prometheus.client` messages for building bodies.
//!
//! ```text
//!  Format::PrometheusProto body ──ProtobufParser::new(body, keep_classic)──► ProtoFamily, …
//! ```

mod entry;
mod error;
mod float;
mod lexer;
mod negotiate;
mod parser;
mod protobuf;

pub use entry::{Entry, Exemplar, Label, MetricType, Sample};
pub use error::ParseError;
pub use float::NORMAL_NAN;
pub use negotiate::{
    accept_header, format_for_content_type, ContentTypeError, Format, ScrapeProtocol,
    UnknownProtocol,
};
pub use parser::{Limits, Parser};
pub use protobuf::{
    dto, format_openmetrics_float, parse_protobuf, ProtoExemplar, ProtoFamily, ProtoSample,
    ProtoValue, ProtobufError, ProtobufParser,
};

/// Parses a whole exposition into its entries, stopping at the first error.
///
/// [`Format::PrometheusProto`] is refused: use [`parse_protobuf`].
pub fn parse(input: &[u8], format: Format, limits: Limits) -> Result<Vec<Entry<'_>>, ParseError> {
    Parser::new(input, format, limits).collect()
}

#[cfg(test)]
mod tests;
