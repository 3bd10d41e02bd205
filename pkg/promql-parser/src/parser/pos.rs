// Copyright 2026 The Strata Authors
//
// Licensed under the Apache License, Version 2.0 (the "License");
// you may not use this file except in compliance with the License.
// You may obtain a copy of the License at
//
//     http://www.apache.org/licenses/LICENSE-2.0
//
// Unless required by applicable law or agreed to in writing, software
// distributed under the License is distributed on an "AS IS" BASIS,
// WITHOUT WARRANTIES OR CONDITIONS OF ANY KIND, either express or implied.
// See the License for the specific language governing permissions and
// limitations under the License.

//! Source positions of AST nodes (Prometheus's `posrange.PositionRange`).

use std::fmt;

/// The byte range `[start, end)` of an AST node in the query text.
///
/// Positions never take part in AST equality: two parses of equivalent queries compare
/// equal even when their text differs in spacing. `PosRange::default()` (0..0) means
/// "unknown", e.g. for nodes built by hand rather than parsed.
#[derive(Clone, Copy, Default)]
pub struct PosRange {
    /// Byte offset of the node's first character.
    pub start: usize,
    /// Byte offset just past the node's last character.
    pub end: usize,
}

impl PosRange {
    /// A range over `start..end`.
    pub fn new(start: usize, end: usize) -> Self {
        Self { start, end }
    }

    /// Whether the range was set by the parser.
    pub fn is_known(&self) -> bool {
        self.end > self.start
    }

    /// The `line:column` of the start in `input`, as Prometheus prints it after annotations
    /// (1-based line; the column is 1-based in bytes from the last line break).
    pub fn start_pos_input(&self, input: &str) -> String {
        if !self.is_known() || self.start > input.len() || !input.is_char_boundary(self.start) {
            return "unknown position".to_string();
        }
        let before = &input[..self.start];
        let line = before.matches('\n').count() + 1;
        let col = match before.rfind('\n') {
            Some(nl) => self.start - nl,
            None => self.start + 1,
        };
        format!("{line}:{col}")
    }
}

impl PartialEq for PosRange {
    fn eq(&self, _other: &Self) -> bool {
        true
    }
}

impl fmt::Debug for PosRange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}..{}", self.start, self.end)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn start_pos_input_counts_lines_and_columns() {
        assert_eq!(PosRange::new(5, 8).start_pos_input("rate(foo[5m])"), "1:6");
        assert_eq!(PosRange::new(0, 3).start_pos_input("foo"), "1:1");
        assert_eq!(PosRange::new(6, 9).start_pos_input("sum(\n  foo)"), "2:2");
        assert_eq!(
            PosRange::default().start_pos_input("foo"),
            "unknown position"
        );
    }
}
