//! Writes API responses byte for byte as Prometheus 3 does.
//!
//! Prometheus mixes three number formats, and so do we:
//! - sample timestamps in vectors and matrices: [`write_timestamp`] (`jsonutil.MarshalTimestamp`:
//!   integer seconds, then exactly three millisecond digits when non-zero: `1.120`);
//! - sample values in vectors and matrices: [`format_sample_value`] (`jsonutil.MarshalFloat`:
//!   Go's `'f'` format, switching to `'e'` below 1e-6 and from 1e21);
//! - native histograms (`"histogram"` in vectors, `"histograms"` in matrices): count, sum and
//!   every populated bucket as `[boundary rule, lower, upper, count]` (`jsonutil.MarshalHistogram`);
//! - scalar and string results: [`format_float`] for the value (Go's `'f'`, never an exponent)
//!   and the timestamp as a JSON float of seconds (`float64(t)/1000`, shortest digits).
//!
//! Strings are escaped as Go does, HTML characters included. Label sets go through Go's
//! `encoding/json` (short `\b`, `\f`), everything else through jsoniter (`\u0008`, `\u000c`).

use std::fmt::Write as _;

use strata_model::Labels;
use strata_promql::{QueryResult, Value};
use strata_proto::prometheus::metric_metadata::MetricType;
use strata_proto::prometheus::MetricMetadata;

const HEX: &[u8; 16] = b"0123456789abcdef";

/// Formats `v` as Go's `strconv.FormatFloat(v, 'f', -1, 64)`: the shortest digits that
/// round-trip, never an exponent; `NaN`, `+Inf` and `-Inf` for the non-finite values.
pub fn format_float(v: f64) -> String {
    let mut s = String::new();
    push_float_f(&mut s, v);
    s
}

fn push_float_f(out: &mut String, v: f64) {
    if v.is_nan() {
        out.push_str("NaN");
    } else if v == f64::INFINITY {
        out.push_str("+Inf");
    } else if v == f64::NEG_INFINITY {
        out.push_str("-Inf");
    } else {
        // Rust's Display is the shortest round-trip representation without an exponent,
        // which is exactly Go's 'f' with precision -1 (including "-0" for negative zero).
        let _ = write!(out, "{v}");
    }
}

/// Formats a sample value as Prometheus's `jsonutil.MarshalFloat` does: like
/// [`format_float`], but with Go's `'e'` format (`1e+21`, `1.5e-07`) when `|v|` is non-zero
/// and below 1e-6 or at least 1e21.
pub fn format_sample_value(v: f64) -> String {
    let mut s = String::new();
    push_sample_value(&mut s, v);
    s
}

fn push_sample_value(out: &mut String, v: f64) {
    let abs = v.abs();
    if v.is_finite() && abs != 0.0 && !(1e-6..1e21).contains(&abs) {
        push_float_e(out, v);
    } else {
        push_float_f(out, v);
    }
}

/// Go's `'e'` format with shortest digits: mantissa, `e`, sign, at least two exponent digits.
fn push_float_e(out: &mut String, v: f64) {
    let s = format!("{v:e}");
    let (mantissa, exp) = s.split_once('e').unwrap_or((s.as_str(), "0"));
    out.push_str(mantissa);
    out.push('e');
    let (sign, digits) = match exp.strip_prefix('-') {
        Some(d) => ('-', d),
        None => ('+', exp),
    };
    out.push(sign);
    if digits.len() < 2 {
        out.push('0');
    }
    out.push_str(digits);
}

/// Writes a millisecond timestamp as seconds, as Prometheus's `jsonutil.MarshalTimestamp`:
/// `1700000000123` → `1700000000.123`, `1700000000120` → `1700000000.120`,
/// `1700000000000` → `1700000000`, `-1500` → `-1.500`.
pub fn write_timestamp(out: &mut String, t: i64) {
    if t < 0 {
        out.push('-');
    }
    // unsigned_abs keeps i64::MIN from overflowing.
    let a = t.unsigned_abs();
    let _ = write!(out, "{}", a / 1000);
    let frac = a % 1000;
    if frac != 0 {
        let _ = write!(out, ".{frac:03}");
    }
}

/// Writes a millisecond timestamp as Go's `encoding/json` writes `float64(t)/1000`: the
/// shortest digits, trailing zeros dropped (`1700000000120` → `1700000000.12`). Used for
/// scalar and string results.
pub fn write_float_seconds(out: &mut String, t: i64) {
    let secs = t as f64 / 1000.0;
    let abs = secs.abs();
    if abs != 0.0 && !(1e-6..1e21).contains(&abs) {
        // encoding/json trims the exponent to at least one digit ("1e-7", "1e+21").
        let s = format!("{secs:e}");
        let (mantissa, exp) = s.split_once('e').unwrap_or((s.as_str(), "0"));
        out.push_str(mantissa);
        out.push('e');
        if !exp.starts_with('-') {
            out.push('+');
        }
        out.push_str(exp);
    } else {
        let _ = write!(out, "{secs}");
    }
}

/// Which Go encoder's escaping rules to follow.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Escaping {
    /// Go's `encoding/json` (1.22+): short `\b` and `\f`.
    Std,
    /// jsoniter's standard-library-compatible config: `\u0008`, `\u000c`.
    Jsoniter,
}

fn push_json_string(out: &mut String, s: &str, esc: Escaping) {
    out.push('"');
    let mut start = 0;
    for (i, c) in s.char_indices() {
        let replacement: Option<&str> = match c {
            '"' => Some("\\\""),
            '\\' => Some("\\\\"),
            '\n' => Some("\\n"),
            '\r' => Some("\\r"),
            '\t' => Some("\\t"),
            '\u{8}' if esc == Escaping::Std => Some("\\b"),
            '\u{c}' if esc == Escaping::Std => Some("\\f"),
            '\u{2028}' => Some("\\u2028"),
            '\u{2029}' => Some("\\u2029"),
            c if (c as u32) < 0x20 || c == '<' || c == '>' || c == '&' => None,
            _ => continue,
        };
        out.push_str(&s[start..i]);
        match replacement {
            Some(r) => out.push_str(r),
            None => {
                let b = c as u32 as usize;
                out.push_str("\\u00");
                out.push(HEX[b >> 4] as char);
                out.push(HEX[b & 0xf] as char);
            }
        }
        start = i + c.len_utf8();
    }
    out.push_str(&s[start..]);
    out.push('"');
}

/// Writes a JSON string escaped as jsoniter does (API strings: names, values, errors).
pub fn write_string(out: &mut String, s: &str) {
    push_json_string(out, s, Escaping::Jsoniter);
}

/// Writes a label set as a JSON object in label order, as Prometheus's `Labels.MarshalJSON`.
pub fn write_labels(out: &mut String, labels: &Labels) {
    out.push('{');
    for (i, l) in labels.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        push_json_string(out, &l.name, Escaping::Std);
        out.push(':');
        push_json_string(out, &l.value, Escaping::Std);
    }
    out.push('}');
}

fn write_sample_pair(out: &mut String, t: i64, v: f64) {
    out.push('[');
    write_timestamp(out, t);
    out.push_str(",\"");
    push_sample_value(out, v);
    out.push_str("\"]");
}

/// Writes `{"resultType":…,"result":…}` for a query result.
pub fn write_query_data(out: &mut String, value: &Value) {
    out.push_str("{\"resultType\":");
    match value {
        Value::Scalar { t, v } => {
            out.push_str("\"scalar\",\"result\":[");
            write_float_seconds(out, *t);
            out.push_str(",\"");
            push_float_f(out, *v);
            out.push_str("\"]");
        }
        Value::String { t, v } => {
            out.push_str("\"string\",\"result\":[");
            write_float_seconds(out, *t);
            out.push(',');
            push_json_string(out, v, Escaping::Std);
            out.push(']');
        }
        Value::Vector(samples) => {
            out.push_str("\"vector\",\"result\":[");
            for (i, s) in samples.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                out.push_str("{\"metric\":");
                write_labels(out, &s.labels);
                match &s.h {
                    Some(h) => {
                        out.push_str(",\"histogram\":");
                        write_histogram_pair(out, s.t, h);
                    }
                    None => {
                        out.push_str(",\"value\":");
                        write_sample_pair(out, s.t, s.v);
                    }
                }
                out.push('}');
            }
            out.push(']');
        }
        Value::Matrix(series) => {
            out.push_str("\"matrix\",\"result\":[");
            for (i, s) in series.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                out.push_str("{\"metric\":");
                write_labels(out, &s.labels);
                // Prometheus leaves "values" out of a series without float points.
                if !s.samples.is_empty() {
                    out.push_str(",\"values\":[");
                    for (j, p) in s.samples.iter().enumerate() {
                        if j > 0 {
                            out.push(',');
                        }
                        write_sample_pair(out, p.t, p.v);
                    }
                    out.push(']');
                }
                // Native histogram points, `"histograms"` as in Prometheus (left out when none).
                if !s.histograms.is_empty() {
                    out.push_str(",\"histograms\":[");
                    for (j, p) in s.histograms.iter().enumerate() {
                        if j > 0 {
                            out.push(',');
                        }
                        write_histogram_pair(out, p.t, &p.h);
                    }
                    out.push(']');
                }
                out.push('}');
            }
            out.push(']');
        }
    }
    out.push('}');
}

/// Writes `[<seconds>, {"count":…,"sum":…,"buckets":[[<boundary rule>,"<lower>","<upper>","<count>"],…]}]`
/// as Prometheus's `jsonutil.MarshalHistogram`: empty buckets are left out, and so is
/// `"buckets"` when none is populated. The boundary rule is 0 for `(lower, upper]`, 1 for
/// `[lower, upper)`, 2 for `(lower, upper)` and 3 for `[lower, upper]`.
fn write_histogram_pair(out: &mut String, t: i64, h: &strata_model::histogram::FloatHistogram) {
    out.push('[');
    write_timestamp(out, t);
    out.push_str(",{\"count\":\"");
    push_sample_value(out, h.count);
    out.push_str("\",\"sum\":\"");
    push_sample_value(out, h.sum);
    out.push('"');
    let mut first = true;
    for b in h.all_buckets_iter() {
        if b.count == 0.0 {
            continue;
        }
        out.push_str(if first { ",\"buckets\":[" } else { "," });
        first = false;
        let rule = match (b.lower_inclusive, b.upper_inclusive) {
            (false, true) => 0,
            (true, false) => 1,
            (false, false) => 2,
            (true, true) => 3,
        };
        let _ = write!(out, "[{rule},\"");
        push_sample_value(out, b.lower);
        out.push_str("\",\"");
        push_sample_value(out, b.upper);
        out.push_str("\",\"");
        push_sample_value(out, b.count);
        out.push_str("\"]");
    }
    if !first {
        out.push(']');
    }
    out.push_str("}]");
}

/// Wraps already-written `data` in a success envelope, adding `warnings` and `infos` only
/// when non-empty.
pub fn success_body(data: &str, warnings: &[String], infos: &[String]) -> String {
    let mut out = String::with_capacity(data.len() + 64);
    out.push_str("{\"status\":\"success\",\"data\":");
    out.push_str(data);
    write_string_list_field(&mut out, "warnings", warnings);
    write_string_list_field(&mut out, "infos", infos);
    out.push('}');
    out
}

fn write_string_list_field(out: &mut String, name: &str, items: &[String]) {
    if items.is_empty() {
        return;
    }
    out.push_str(",\"");
    out.push_str(name);
    out.push_str("\":");
    write_string_list(out, items);
}

/// Writes a JSON array of strings.
pub fn write_string_list(out: &mut String, items: &[String]) {
    out.push('[');
    for (i, s) in items.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        write_string(out, s);
    }
    out.push(']');
}

/// The full body of a query answer.
pub fn query_body(res: &QueryResult) -> String {
    // Pre-size for the common shapes (~32 bytes a point, ~128 a label set) to avoid regrowth.
    let estimate = match &res.value {
        Value::Vector(v) => v.len() * 160,
        Value::Matrix(m) => m
            .iter()
            .map(|s| 128 + s.samples.len() * 32 + s.histograms.len() * 128)
            .sum(),
        _ => 64,
    };
    let mut out = String::with_capacity(estimate + 64);
    out.push_str("{\"status\":\"success\",\"data\":");
    write_query_data(&mut out, &res.value);
    write_string_list_field(&mut out, "warnings", &res.warnings);
    write_string_list_field(&mut out, "infos", &res.infos);
    out.push('}');
    out
}

/// The body of an error answer: `{"status":"error","errorType":…,"error":…}`.
pub fn error_body(error_type: &str, message: &str) -> String {
    let mut out = String::with_capacity(message.len() + 64);
    out.push_str("{\"status\":\"error\",\"errorType\":");
    write_string(&mut out, error_type);
    out.push_str(",\"error\":");
    write_string(&mut out, message);
    out.push('}');
    out
}

/// Writes a list of label sets (the `series` endpoint's data).
pub fn write_label_sets(out: &mut String, sets: &[Labels]) {
    out.push('[');
    for (i, l) in sets.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        write_labels(out, l);
    }
    out.push(']');
}

/// Prometheus's name for a metric type in the metadata API.
pub fn metric_type_name(t: i32) -> &'static str {
    match MetricType::try_from(t).unwrap_or(MetricType::Unknown) {
        MetricType::Unknown => "unknown",
        MetricType::Counter => "counter",
        MetricType::Gauge => "gauge",
        MetricType::Histogram => "histogram",
        MetricType::Gaugehistogram => "gaugehistogram",
        MetricType::Summary => "summary",
        MetricType::Info => "info",
        MetricType::Stateset => "stateset",
    }
}

/// Writes the `metadata` endpoint's data: an object keyed by metric family (sorted, as Go
/// marshals maps), each a list of `{"type","help","unit"}`. `groups` must be sorted by name.
pub fn write_metadata(out: &mut String, groups: &[(String, Vec<MetricMetadata>)]) {
    out.push('{');
    for (i, (name, entries)) in groups.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        write_string(out, name);
        out.push_str(":[");
        for (j, m) in entries.iter().enumerate() {
            if j > 0 {
                out.push(',');
            }
            out.push_str("{\"type\":");
            write_string(out, metric_type_name(m.r#type));
            out.push_str(",\"help\":");
            write_string(out, &m.help);
            out.push_str(",\"unit\":");
            write_string(out, &m.unit);
            out.push('}');
        }
        out.push(']');
    }
    out.push('}');
}

#[cfg(test)]
mod tests;
