//! Parse errors with their position.

use std::fmt;

/// An exposition the parser refuses, with the position of the offending token.
///
/// The message uses the words of Prometheus's parsers (`expected equal, got "INVALID"`,
/// `data does not end with # EOF`, `invalid metric type "x"`), so a scrape error reads the
/// same as from Prometheus; the position (1-based line, 1-based byte column) is added.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("line {line}, column {column}: {message}")]
pub struct ParseError {
    /// The line of the offending token, from 1.
    pub line: usize,
    /// The byte column of the offending token on its line, from 1.
    pub column: usize,
    /// What is wrong, in Prometheus's words.
    pub message: String,
}

impl ParseError {
    /// An error at byte `offset` of `input`.
    pub(crate) fn at(input: &[u8], offset: usize, message: String) -> Self {
        let offset = offset.min(input.len());
        let before = &input[..offset];
        let line = before.iter().filter(|&&b| b == b'\n').count() + 1;
        let line_start = before
            .iter()
            .rposition(|&b| b == b'\n')
            .map_or(0, |p| p + 1);
        Self {
            line,
            column: offset - line_start + 1,
            message,
        }
    }
}

/// Quotes bytes as Go's `%q` does for text: a double-quoted, escaped string (invalid
/// UTF-8 shown as `\u{fffd}`), cut to 64 bytes so a huge token does not make a huge error.
pub(crate) struct Quoted<'a>(pub &'a [u8]);

impl fmt::Display for Quoted<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        const MAX: usize = 64;
        let (b, cut) = if self.0.len() > MAX {
            (&self.0[..MAX], true)
        } else {
            (self.0, false)
        };
        let s = String::from_utf8_lossy(b);
        write!(f, "{s:?}")?;
        if cut {
            f.write_str("…")?;
        }
        Ok(())
    }
}
