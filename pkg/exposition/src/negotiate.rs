//! Content negotiation for a scrape: the `Accept` header Prometheus sends for a job's
//! `scrape_protocols`, and the parser a response's `Content-Type` selects.

use std::fmt;
use std::str::FromStr;

/// A scrape protocol as named in `scrape_protocols` (Prometheus 2.49+ names).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ScrapeProtocol {
    /// `PrometheusProto`: the delimited protobuf format (native histograms).
    PrometheusProto,
    /// `PrometheusText0.0.4`.
    PrometheusText0_0_4,
    /// `OpenMetricsText0.0.1`.
    OpenMetricsText0_0_1,
    /// `OpenMetricsText1.0.0`.
    OpenMetricsText1_0_0,
}

impl ScrapeProtocol {
    /// Every protocol Prometheus 2 knows; their count sets the `q` weights.
    pub const ALL: [ScrapeProtocol; 4] = [
        ScrapeProtocol::PrometheusProto,
        ScrapeProtocol::PrometheusText0_0_4,
        ScrapeProtocol::OpenMetricsText0_0_1,
        ScrapeProtocol::OpenMetricsText1_0_0,
    ];

    /// Prometheus's default `scrape_protocols`.
    pub const DEFAULT: [ScrapeProtocol; 3] = [
        ScrapeProtocol::OpenMetricsText1_0_0,
        ScrapeProtocol::OpenMetricsText0_0_1,
        ScrapeProtocol::PrometheusText0_0_4,
    ];

    /// The protocol's name in configuration files.
    pub fn as_str(self) -> &'static str {
        match self {
            ScrapeProtocol::PrometheusProto => "PrometheusProto",
            ScrapeProtocol::PrometheusText0_0_4 => "PrometheusText0.0.4",
            ScrapeProtocol::OpenMetricsText0_0_1 => "OpenMetricsText0.0.1",
            ScrapeProtocol::OpenMetricsText1_0_0 => "OpenMetricsText1.0.0",
        }
    }

    /// The media type with parameters it is asked for with.
    pub fn header(self) -> &'static str {
        match self {
            ScrapeProtocol::PrometheusProto => {
                "application/vnd.google.protobuf;proto=io.prometheus.client.MetricFamily;encoding=delimited"
            }
            ScrapeProtocol::PrometheusText0_0_4 => "text/plain;version=0.0.4",
            ScrapeProtocol::OpenMetricsText0_0_1 => "application/openmetrics-text;version=0.0.1",
            ScrapeProtocol::OpenMetricsText1_0_0 => "application/openmetrics-text;version=1.0.0",
        }
    }
}

impl fmt::Display for ScrapeProtocol {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A `scrape_protocols` entry Prometheus does not know.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("unknown scrape protocol {0}, supported: [OpenMetricsText0.0.1 OpenMetricsText1.0.0 PrometheusProto PrometheusText0.0.4]")]
pub struct UnknownProtocol(pub String);

impl FromStr for ScrapeProtocol {
    type Err = UnknownProtocol;
    fn from_str(s: &str) -> Result<Self, UnknownProtocol> {
        ScrapeProtocol::ALL
            .into_iter()
            .find(|p| p.as_str() == s)
            .ok_or_else(|| UnknownProtocol(s.to_string()))
    }
}

/// The `Accept` header Prometheus sends for `protocols` in order of preference: each
/// protocol's media type with a falling `q` weight (starting at `0.<n+1>` for the `n`
/// known protocols), then `*/*` with the next weight.
pub fn accept_header(protocols: &[ScrapeProtocol]) -> String {
    let mut weight = ScrapeProtocol::ALL.len() + 1;
    let mut parts = Vec::with_capacity(protocols.len() + 1);
    for p in protocols {
        parts.push(format!("{};q=0.{weight}", p.header()));
        weight = weight.saturating_sub(1);
    }
    parts.push(format!("*/*;q=0.{weight}"));
    parts.join(",")
}

/// An exposition format a response can be in.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Format {
    /// The Prometheus text format 0.0.4.
    PrometheusText,
    /// OpenMetrics 1.0 text (and 0.0.1, the same grammar).
    OpenMetrics,
    /// The delimited protobuf format; not parsed by this crate yet.
    PrometheusProto,
}

/// A `Content-Type` header that is not a media type (Go's `mime.ParseMediaType` refuses
/// it); Prometheus 2 then reads the body as Prometheus text and logs this.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("invalid content type {content_type:?}: {reason}")]
pub struct ContentTypeError {
    /// The header as received.
    pub content_type: String,
    /// What is wrong with it.
    pub reason: &'static str,
}

fn is_token(s: &str) -> bool {
    !s.is_empty()
        && s.bytes()
            .all(|b| b.is_ascii_graphic() && !b"()<>@,;:\\\"/[]?=".contains(&b))
}

/// Chooses the parser for a response's `Content-Type` as Prometheus 2 does: OpenMetrics for
/// `application/openmetrics-text`, protobuf for `application/vnd.google.protobuf`, and
/// Prometheus text for anything else, an empty header included. A header that does not
/// parse as a media type also falls back to Prometheus text; the error says why.
pub fn format_for_content_type(content_type: &str) -> (Format, Option<ContentTypeError>) {
    let ct = content_type.trim();
    if ct.is_empty() {
        return (Format::PrometheusText, None);
    }
    let mut parts = ct.split(';');
    let media = parts.next().unwrap_or_default().trim().to_ascii_lowercase();
    let bad = |reason| {
        (
            Format::PrometheusText,
            Some(ContentTypeError {
                content_type: content_type.to_string(),
                reason,
            }),
        )
    };
    let Some((ty, sub)) = media.split_once('/') else {
        return bad("no media subtype");
    };
    if !is_token(ty) || !is_token(sub) {
        return bad("expected token after slash");
    }
    for p in parts {
        let p = p.trim();
        if p.is_empty() {
            continue;
        }
        match p.split_once('=') {
            Some((k, _)) if is_token(k.trim()) => {}
            _ => return bad("invalid media parameter"),
        }
    }
    let format = match media.as_str() {
        "application/openmetrics-text" => Format::OpenMetrics,
        "application/vnd.google.protobuf" => Format::PrometheusProto,
        _ => Format::PrometheusText,
    };
    (format, None)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accept_header_is_prometheus_default() {
        assert_eq!(
            accept_header(&ScrapeProtocol::DEFAULT),
            "application/openmetrics-text;version=1.0.0;q=0.5,\
             application/openmetrics-text;version=0.0.1;q=0.4,\
             text/plain;version=0.0.4;q=0.3,*/*;q=0.2"
        );
        assert_eq!(
            accept_header(&[ScrapeProtocol::PrometheusText0_0_4]),
            "text/plain;version=0.0.4;q=0.5,*/*;q=0.4"
        );
        assert_eq!(accept_header(&[]), "*/*;q=0.5");
    }

    #[test]
    fn protocol_names_parse() {
        for p in ScrapeProtocol::ALL {
            assert_eq!(p.as_str().parse::<ScrapeProtocol>(), Ok(p));
        }
        assert!("Text".parse::<ScrapeProtocol>().is_err());
    }

    #[test]
    fn content_type_picks_parser() {
        let f = |ct| format_for_content_type(ct);
        assert_eq!(f(""), (Format::PrometheusText, None));
        assert_eq!(
            f("text/plain; version=0.0.4; charset=utf-8"),
            (Format::PrometheusText, None)
        );
        assert_eq!(
            f("application/openmetrics-text; version=1.0.0; charset=utf-8"),
            (Format::OpenMetrics, None)
        );
        assert_eq!(
            f("Application/OpenMetrics-Text"),
            (Format::OpenMetrics, None)
        );
        assert_eq!(
            f("application/vnd.google.protobuf; proto=io.prometheus.client.MetricFamily; encoding=delimited"),
            (Format::PrometheusProto, None)
        );
        assert_eq!(f("application/json"), (Format::PrometheusText, None));
        let (fmt, err) = f("garbage");
        assert_eq!(fmt, Format::PrometheusText);
        assert!(err.is_some());
        assert!(f("text/plain; =x").1.is_some());
    }
}
