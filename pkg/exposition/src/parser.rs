//! The parsers: a [`Parser`] walks an exposition entry by entry, in either format.

use crate::entry::{Entry, Exemplar, Label, MetricType, Sample};
use crate::error::{ParseError, Quoted};
use crate::float::{parse_float, parse_int, seconds_to_ms, NORMAL_NAN};
use crate::lexer::{Lexer, Tok};
use crate::Format;
use std::borrow::Cow;

/// Limits a parser enforces on its input.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limits {
    /// The longest line accepted, in bytes (newline excluded). Longer lines fail the
    /// parse as soon as the parser reaches them, without reading past the limit.
    pub max_line_bytes: usize,
}

impl Default for Limits {
    /// 16 MiB per line: far above any real exposition, far below a body that would hurt.
    fn default() -> Self {
        Self {
            max_line_bytes: 16 << 20,
        }
    }
}

/// A streaming parser over one exposition: an iterator of entries that borrows names,
/// label values and help texts from the input (copying only values that held escapes).
/// After the first error it yields nothing more.
pub struct Parser<'a> {
    b: &'a [u8],
    lex: Lexer<'a>,
    format: Format,
    limits: Limits,
    /// Start of the entry being parsed (for "while parsing" and line checks).
    entry_start: usize,
    /// The last `# TYPE` family and its type (OpenMetrics `_created` detection).
    family: Option<(&'a str, MetricType)>,
    done: bool,
}

/// Prometheus text's escapes in label values (and all OpenMetrics escapes): `\\`, `\"`,
/// `\n`; any other backslash pair is kept as written, as Prometheus does.
fn unescape(raw: &str, quote: bool) -> Cow<'_, str> {
    if !raw.contains('\\') {
        return Cow::Borrowed(raw);
    }
    let mut out = String::with_capacity(raw.len());
    let mut chars = raw.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some('\\') => out.push('\\'),
            Some('n') => out.push('\n'),
            Some('"') if quote => out.push('"'),
            Some(other) => {
                out.push('\\');
                out.push(other);
            }
            None => out.push('\\'),
        }
    }
    Cow::Owned(out)
}

/// Go's `%f` of a float: six decimals, `NaN`, `+Inf`, `-Inf`.
fn go_f(v: f64) -> String {
    if v.is_nan() {
        "NaN".into()
    } else if v.is_infinite() {
        if v > 0.0 { "+Inf" } else { "-Inf" }.into()
    } else {
        format!("{v:.6}")
    }
}

fn as_str(b: &[u8]) -> &str {
    // Only called on bytes the lexer restricted to ASCII.
    std::str::from_utf8(b).unwrap_or_default()
}

impl<'a> Parser<'a> {
    /// A parser of `input` in `format` with `limits`.
    pub fn new(input: &'a [u8], format: Format, limits: Limits) -> Self {
        Self {
            b: input,
            lex: Lexer::new(input, format == Format::OpenMetrics),
            format,
            limits,
            entry_start: 0,
            family: None,
            done: false,
        }
    }

    fn om(&self) -> bool {
        self.format == Format::OpenMetrics
    }

    fn err_at(&self, offset: usize, message: String) -> ParseError {
        ParseError::at(self.b, offset, message)
    }

    /// The entry's text up to the current token's end, for "while parsing" (Go's `%q`).
    fn so_far(&self) -> String {
        let e = self.lex.i.min(self.b.len());
        let s = self.entry_start.min(e);
        Quoted(&self.b[s..e]).to_string()
    }

    /// As [`Parser::so_far`] plus the next byte, as Prometheus's `parseError` shows it.
    fn so_far_and_next(&self) -> String {
        let e = (self.lex.i + 1).min(self.b.len());
        let s = self.entry_start.min(e);
        Quoted(&self.b[s..e]).to_string()
    }

    /// Prometheus's `parseError`: what was expected, the token got, and the entry so far.
    fn parse_error(&self, expected: &str, got: Tok) -> ParseError {
        let e = (self.lex.i + 1).min(self.b.len());
        let s = self.lex.start.min(e);
        let msg = format!(
            "{expected}, got {:?} ({}) while parsing: {}",
            got.name(),
            Quoted(&self.b[s..e]),
            self.so_far_and_next()
        );
        self.err_at(self.lex.start, msg)
    }

    /// The next token; Prometheus text skips whitespace tokens.
    fn next_token(&mut self) -> Tok {
        loop {
            let t = self.lex.lex();
            if t != Tok::Whitespace {
                return t;
            }
        }
    }

    fn check_line_length(&self) -> Result<(), ParseError> {
        let max = self.limits.max_line_bytes;
        let from = self.lex.i.min(self.b.len());
        let window = &self.b[from..self.b.len().min(from.saturating_add(max).saturating_add(1))];
        if window.len() > max && !window.contains(&b'\n') {
            return Err(self.err_at(
                from + max,
                format!("line longer than the limit of {max} bytes"),
            ));
        }
        Ok(())
    }

    fn next_entry(&mut self) -> Result<Option<Entry<'a>>, ParseError> {
        if self.format == Format::PrometheusProto {
            return Err(self.err_at(
                0,
                "the protobuf exposition format is not supported yet".into(),
            ));
        }
        loop {
            self.entry_start = self.lex.i;
            self.check_line_length()?;
            let t = self.next_token();
            match t {
                Tok::Eof if self.om() => {
                    return Err(self.err_at(self.b.len(), "data does not end with # EOF".into()))
                }
                Tok::Eof => return Ok(None),
                Tok::EofWord => {
                    if self.next_token() != Tok::Eof {
                        return Err(
                            self.err_at(self.lex.start, "unexpected data after # EOF".into())
                        );
                    }
                    return Ok(None);
                }
                Tok::Linebreak => continue,
                Tok::Help | Tok::Type | Tok::Unit => return self.metadata(t).map(Some),
                Tok::Comment if !self.om() => {
                    let text = String::from_utf8_lossy(self.lex.buf());
                    let t2 = self.next_token();
                    if t2 != Tok::Linebreak {
                        return Err(self.parse_error("linebreak expected after comment", t2));
                    }
                    return Ok(Some(Entry::Comment(text)));
                }
                Tok::MName => {
                    // Prometheus's text parser takes the name from where the entry began
                    // (its `p.start`): blanks before it are part of the name, which then
                    // fails the metric name check unless relabeling drops the series.
                    let name = if self.om() {
                        as_str(self.lex.buf())
                    } else {
                        as_str(&self.b[self.entry_start.min(self.lex.i)..self.lex.i])
                    };
                    let mut t2 = self.next_token();
                    let mut labels = Vec::new();
                    if t2 == Tok::BraceOpen {
                        labels = self.label_values(false)?;
                        t2 = self.next_token();
                    }
                    return self.metric_suffix(name, labels, t2).map(Some);
                }
                Tok::BraceOpen => {
                    // A brace first: only UTF-8 quoted names put the metric name inside,
                    // which this parser does not take (Prometheus 2 names).
                    self.label_values(false)?;
                    return Err(self.err_at(
                        self.entry_start,
                        format!("metric name not set while parsing: {}", self.so_far()),
                    ));
                }
                _ => return Err(self.parse_error("expected a valid start token", t)),
            }
        }
    }

    fn metadata(&mut self, t: Tok) -> Result<Entry<'a>, ParseError> {
        let t2 = self.next_token();
        if t2 != Tok::MName {
            return Err(self.parse_error(&format!("expected metric name after {}", t.name()), t2));
        }
        let metric = as_str(self.lex.buf());
        let t3 = self.next_token();
        if t3 != Tok::Text {
            let msg = if self.om() {
                format!("expected text in {}", t.name())
            } else {
                format!("expected text in {}, got {}", t.name(), t3.name())
            };
            return Err(self.err_at(self.lex.start, msg));
        }
        let text_pos = self.lex.start;
        let buf = self.lex.buf();
        let text: &'a [u8] = if self.om() {
            // ` text\n`
            buf.get(1..buf.len().saturating_sub(1)).unwrap_or(&[])
        } else {
            buf.get(1..).unwrap_or(&[])
        };
        let entry = match t {
            Tok::Type => {
                let kind = match (text, self.om()) {
                    (b"counter", _) => MetricType::Counter,
                    (b"gauge", _) => MetricType::Gauge,
                    (b"histogram", _) => MetricType::Histogram,
                    (b"summary", _) => MetricType::Summary,
                    (b"untyped", false) | (b"unknown", true) => MetricType::Unknown,
                    (b"gaugehistogram", true) => MetricType::GaugeHistogram,
                    (b"info", true) => MetricType::Info,
                    (b"stateset", true) => MetricType::StateSet,
                    _ => {
                        return Err(
                            self.err_at(text_pos, format!("invalid metric type {}", Quoted(text)))
                        )
                    }
                };
                self.family = Some((metric, kind));
                Entry::Type { metric, kind }
            }
            Tok::Help => {
                let Ok(s) = std::str::from_utf8(text) else {
                    return Err(self.err_at(
                        text_pos,
                        format!("help text {} is not a valid utf8 string", Quoted(text)),
                    ));
                };
                Entry::Help {
                    metric,
                    text: unescape(s, self.om()),
                }
            }
            _ => {
                let unit = std::str::from_utf8(text).unwrap_or_default();
                let suffix_ok = unit.is_empty()
                    || (metric.len() > unit.len()
                        && metric.ends_with(unit)
                        && metric.as_bytes()[metric.len() - unit.len() - 1] == b'_');
                if !suffix_ok || unit.len() != text.len() {
                    return Err(self.err_at(
                        text_pos,
                        format!(
                            "unit {} not a suffix of metric {}",
                            Quoted(text),
                            Quoted(metric.as_bytes())
                        ),
                    ));
                }
                Entry::Unit { metric, unit }
            }
        };
        if !self.om() {
            let t4 = self.next_token();
            if t4 != Tok::Linebreak {
                return Err(self.parse_error("linebreak expected after metadata", t4));
            }
        }
        Ok(entry)
    }

    /// Reads `name="value", …}` after a `{`. Prometheus text allows a missing comma between
    /// pairs; OpenMetrics does not. Exemplar labels use the same rules.
    fn label_values(&mut self, exemplar: bool) -> Result<Vec<Label<'a>>, ParseError> {
        let mut out = Vec::new();
        let mut t = self.next_token();
        loop {
            match t {
                Tok::BraceClose => return Ok(out),
                Tok::LName => {}
                _ => return Err(self.parse_error("expected label name", t)),
            }
            let name = as_str(self.lex.buf());
            t = self.next_token();
            if t != Tok::Equal {
                return Err(self.parse_error("expected equal", t));
            }
            t = self.next_token();
            if t != Tok::LValue {
                return Err(self.parse_error("expected label value", t));
            }
            let buf = self.lex.buf();
            let raw = buf.get(1..buf.len().saturating_sub(1)).unwrap_or(&[]);
            let Ok(raw) = std::str::from_utf8(raw) else {
                return Err(self.err_at(
                    self.lex.start,
                    format!("invalid UTF-8 label value: {}", Quoted(buf)),
                ));
            };
            out.push(Label {
                name,
                value: unescape(raw, true),
            });
            t = self.next_token();
            if t == Tok::Comma {
                t = self.next_token();
            } else if (self.om() || exemplar) && t != Tok::BraceClose {
                return Err(self.parse_error("expected comma or brace close", t));
            }
        }
    }

    /// A value token's number (OpenMetrics tokens carry their leading space).
    fn float_token(&self, what: &str, t: Tok) -> Result<f64, ParseError> {
        if t != Tok::Value {
            return Err(self.parse_error(&format!("expected value after {what}"), t));
        }
        let buf = self.lex.buf();
        let num = if self.om() {
            buf.get(1..).unwrap_or(&[])
        } else {
            buf
        };
        let v = parse_float(num).map_err(|e| {
            self.err_at(
                self.lex.start,
                format!("{e} while parsing: {}", self.so_far()),
            )
        })?;
        Ok(if v.is_nan() { NORMAL_NAN } else { v })
    }

    /// An OpenMetrics timestamp (seconds, after a space) in milliseconds.
    fn om_timestamp(&self, what: &str) -> Result<i64, ParseError> {
        let buf = self.lex.buf();
        let ts = parse_float(buf.get(1..).unwrap_or(&[])).map_err(|e| {
            self.err_at(
                self.lex.start,
                format!("{e} while parsing: {}", self.so_far()),
            )
        })?;
        seconds_to_ms(ts)
            .ok_or_else(|| self.err_at(self.lex.start, format!("invalid {what} {}", go_f(ts))))
    }

    fn metric_suffix(
        &mut self,
        name: &'a str,
        labels: Vec<Label<'a>>,
        t: Tok,
    ) -> Result<Entry<'a>, ParseError> {
        let value = self.float_token("metric", t)?;
        let mut sample = Sample {
            name,
            labels,
            value,
            timestamp_ms: None,
            exemplar: None,
            created: false,
        };
        if self.om() {
            sample.created = self.family.is_some_and(|(f, kind)| {
                kind.has_created() && name.strip_suffix("_created") == Some(f)
            });
            match self.next_token() {
                Tok::Eof => {
                    return Err(self.err_at(self.b.len(), "data does not end with # EOF".into()))
                }
                Tok::Linebreak => {}
                Tok::Comment => sample.exemplar = Some(self.exemplar()?),
                Tok::Timestamp => {
                    sample.timestamp_ms = Some(self.om_timestamp("timestamp")?);
                    match self.next_token() {
                        Tok::Linebreak => {}
                        Tok::Comment => sample.exemplar = Some(self.exemplar()?),
                        t3 => {
                            return Err(self.parse_error("expected next entry after timestamp", t3))
                        }
                    }
                }
                t2 => return Err(self.parse_error("expected timestamp or # symbol", t2)),
            }
        } else {
            match self.next_token() {
                Tok::Linebreak => {}
                Tok::Timestamp => {
                    let ts = parse_int(self.lex.buf()).map_err(|e| {
                        self.err_at(
                            self.lex.start,
                            format!("{e} while parsing: {}", self.so_far()),
                        )
                    })?;
                    sample.timestamp_ms = Some(ts);
                    let t3 = self.next_token();
                    if t3 != Tok::Linebreak {
                        return Err(self.parse_error("expected next entry after timestamp", t3));
                    }
                }
                t2 => return Err(self.parse_error("expected timestamp or new record", t2)),
            }
        }
        Ok(Entry::Sample(sample))
    }

    /// After ` # {`: the exemplar's labels, value and optional timestamp.
    fn exemplar(&mut self) -> Result<Exemplar<'a>, ParseError> {
        let labels = self.label_values(true)?;
        let t = self.next_token();
        let value = self.float_token("exemplar labels", t)?;
        let mut ex = Exemplar {
            labels,
            value,
            timestamp_ms: None,
        };
        match self.next_token() {
            Tok::Eof => {
                return Err(self.err_at(self.b.len(), "data does not end with # EOF".into()))
            }
            Tok::Linebreak => {}
            Tok::Timestamp => {
                ex.timestamp_ms = Some(self.om_timestamp("exemplar timestamp")?);
                let t3 = self.next_token();
                if t3 != Tok::Linebreak {
                    return Err(
                        self.parse_error("expected next entry after exemplar timestamp", t3)
                    );
                }
            }
            t2 => return Err(self.parse_error("expected timestamp or comment", t2)),
        }
        Ok(ex)
    }
}

impl<'a> Iterator for Parser<'a> {
    type Item = Result<Entry<'a>, ParseError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.done {
            return None;
        }
        match self.next_entry() {
            Ok(Some(e)) => Some(Ok(e)),
            Ok(None) => {
                self.done = true;
                None
            }
            Err(e) => {
                self.done = true;
                Some(Err(e))
            }
        }
    }
}
