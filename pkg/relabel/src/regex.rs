//! Prometheus's relabel regex: RE2 syntax, anchored at both ends, `.` matching newlines,
//! and Go's `Regexp.Expand` for `$1`, `${1}` and `${name}` templates.
//!
//! Prometheus compiles `regex: P` as `^(?s:P)$` with Go's `regexp` package, as
//! [`strata_model::Matcher`] does for query matchers. Rust's `regex` crate takes the same
//! RE2 syntax with three differences this module removes before compiling:
//!
//! - Go's Perl classes are ASCII (`\d` is `[0-9]`, `\w` is `[0-9A-Za-z_]`, `\s` is
//!   `[\t\n\f\r ]`, `\b` an ASCII word boundary); Rust's are Unicode. They are rewritten to
//!   the explicit ASCII classes.
//! - Inside a class Go reads `[`, `&&` and `~~` literally; Rust reads nested classes and set
//!   operations. They are escaped.
//! - Go has `\Q…\E` literal quoting; Rust does not. The quoted text is escaped.

use crate::RelabelError;

/// A compiled relabel regex that remembers the pattern as written.
#[derive(Clone, Debug)]
pub struct Regexp {
    original: String,
    re: regex::Regex,
}

impl PartialEq for Regexp {
    fn eq(&self, other: &Self) -> bool {
        self.original == other.original
    }
}

impl Eq for Regexp {}

impl Regexp {
    /// Compiles `pattern` anchored at both ends (`^(?s:pattern)$`) with Go's RE2 semantics.
    pub fn new(pattern: &str) -> Result<Self, RelabelError> {
        let translated = translate(pattern);
        let re = regex::Regex::new(&format!("^(?s:{translated})$")).map_err(|e| {
            RelabelError::Regex {
                pattern: pattern.to_string(),
                reason: first_line(&e.to_string()),
            }
        })?;
        Ok(Self {
            original: pattern.to_string(),
            re,
        })
    }

    /// The pattern as written, without the anchors.
    pub fn as_str(&self) -> &str {
        &self.original
    }

    /// Tells whether the whole of `s` matches.
    pub fn is_match(&self, s: &str) -> bool {
        self.re.is_match(s)
    }

    /// Matches the whole of `s`, returning its capture groups.
    pub fn captures<'h>(&self, s: &'h str) -> Option<regex::Captures<'h>> {
        self.re.captures(s)
    }

    /// Expands `template` against `caps` as Go's `Regexp.Expand` does: `$name` or `${name}`
    /// names a group by number or name (the longest run of letters, digits and `_` after
    /// `$`), a group that does not exist or did not take part is empty, `$$` is `$`, and a
    /// `$` not followed by a name is kept as it is.
    pub fn expand(&self, template: &str, caps: &regex::Captures<'_>, dst: &mut String) {
        let mut rest = template;
        while let Some(pos) = rest.find('$') {
            dst.push_str(&rest[..pos]);
            rest = &rest[pos + 1..];
            if let Some(after) = rest.strip_prefix('$') {
                dst.push('$');
                rest = after;
                continue;
            }
            let Some((name, after)) = extract_name(rest) else {
                dst.push('$');
                continue;
            };
            rest = after;
            match group_number(name) {
                Some(n) => {
                    if let Some(m) = caps.get(n) {
                        dst.push_str(m.as_str());
                    }
                }
                None => {
                    if let Some(m) = caps.name(name) {
                        dst.push_str(m.as_str());
                    }
                }
            }
        }
        dst.push_str(rest);
    }
}

impl Default for Regexp {
    /// Prometheus's default relabel regex, `(.*)`.
    fn default() -> Self {
        Self::new(crate::config::DEFAULT_REGEX).expect("the default regex compiles")
    }
}

impl std::fmt::Display for Regexp {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.original)
    }
}

fn first_line(s: &str) -> String {
    // The regex crate's errors span several lines with a caret diagram; keep the reason.
    s.lines()
        .rev()
        .find(|l| l.starts_with("error:"))
        .map(|l| l.trim_start_matches("error:").trim().to_string())
        .unwrap_or_else(|| s.replace('\n', " "))
}

/// Splits a template after `$` into the group name and the rest, as Go's `extract`:
/// `{name}` or a bare name; `None` when there is no name (or no closing brace).
fn extract_name(s: &str) -> Option<(&str, &str)> {
    let (body, brace) = match s.strip_prefix('{') {
        Some(b) => (b, true),
        None => (s, false),
    };
    let len: usize = body
        .char_indices()
        .find(|&(_, c)| !(c.is_alphanumeric() || c == '_'))
        .map_or(body.len(), |(i, _)| i);
    if len == 0 {
        return None;
    }
    let name = &body[..len];
    let mut rest = &body[len..];
    if brace {
        rest = rest.strip_prefix('}')?;
    }
    Some((name, rest))
}

/// A name made only of ASCII digits, without a leading zero and below 10^8, is a group
/// number (Go's rule); anything else is a group name.
fn group_number(name: &str) -> Option<usize> {
    if !name.bytes().all(|b| b.is_ascii_digit()) || (name.len() > 1 && name.starts_with('0')) {
        return None;
    }
    let mut n: usize = 0;
    for b in name.bytes() {
        if n >= 100_000_000 {
            return None;
        }
        n = n * 10 + usize::from(b - b'0');
    }
    Some(n)
}

/// Rewrites Go RE2 syntax into the `regex` crate's with the same meaning (module docs).
fn translate(pattern: &str) -> String {
    let mut out = String::with_capacity(pattern.len() + 16);
    let mut chars = pattern.chars().peekable();
    // Inside `[...]`: Go has no nested classes.
    let mut in_class = false;
    // Just after `[` or `[^`, where `]` is a literal.
    let mut class_start = false;
    while let Some(c) = chars.next() {
        let at_start = std::mem::take(&mut class_start);
        match c {
            '\\' => {
                let Some(n) = chars.next() else {
                    // A trailing backslash: let the compiler report it.
                    out.push('\\');
                    break;
                };
                match n {
                    'd' => out.push_str("[0-9]"),
                    'D' => out.push_str("[^0-9]"),
                    'w' => out.push_str("[0-9A-Za-z_]"),
                    'W' => out.push_str("[^0-9A-Za-z_]"),
                    's' => out.push_str("[\\t\\n\\f\\r ]"),
                    'S' => out.push_str("[^\\t\\n\\f\\r ]"),
                    'b' if !in_class => out.push_str("(?-u:\\b)"),
                    'B' if !in_class => out.push_str("(?-u:\\B)"),
                    'Q' => {
                        let mut lit = String::new();
                        while let Some(q) = chars.next() {
                            if q == '\\' && chars.peek() == Some(&'E') {
                                chars.next();
                                break;
                            }
                            lit.push(q);
                        }
                        for q in lit.chars() {
                            push_literal(&mut out, q);
                        }
                    }
                    other => {
                        out.push('\\');
                        out.push(other);
                    }
                }
            }
            '[' if !in_class => {
                in_class = true;
                out.push('[');
                if chars.peek() == Some(&'^') {
                    chars.next();
                    out.push('^');
                }
                class_start = true;
            }
            '[' => {
                if chars.peek() == Some(&':') {
                    // A POSIX class `[:alpha:]`: copy it whole.
                    out.push('[');
                    for q in chars.by_ref() {
                        out.push(q);
                        if q == ']' {
                            break;
                        }
                    }
                } else {
                    out.push_str("\\[");
                }
            }
            ']' if in_class && at_start => out.push_str("\\]"),
            ']' if in_class => {
                in_class = false;
                out.push(']');
            }
            '&' | '~' if in_class => {
                out.push('\\');
                out.push(c);
            }
            _ => out.push(c),
        }
    }
    out
}

fn push_literal(out: &mut String, c: char) {
    if regex_syntax_is_meta(c) {
        out.push('\\');
    }
    out.push(c);
}

fn regex_syntax_is_meta(c: char) -> bool {
    matches!(
        c,
        '\\' | '.'
            | '+'
            | '*'
            | '?'
            | '('
            | ')'
            | '|'
            | '['
            | ']'
            | '{'
            | '}'
            | '^'
            | '$'
            | '#'
            | '&'
            | '-'
            | '~'
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn expand(pattern: &str, input: &str, template: &str) -> String {
        let re = Regexp::new(pattern).expect("valid regex");
        let caps = re.captures(input).expect("matches");
        let mut out = String::new();
        re.expand(template, &caps, &mut out);
        out
    }

    #[test]
    fn anchored_and_dot_matches_newline() {
        let re = Regexp::new("fo.").expect("valid");
        assert!(re.is_match("foo"));
        assert!(re.is_match("fo\n"));
        assert!(!re.is_match("xfoo"));
        assert!(!re.is_match("foox"));
        // An alternation is anchored as a whole, not only its ends.
        let re = Regexp::new("a|b").expect("valid");
        assert!(re.is_match("a") && re.is_match("b") && !re.is_match("ab"));
    }

    #[test]
    fn perl_classes_are_ascii_as_in_go() {
        assert!(!Regexp::new(r"\d").expect("valid").is_match("٣"));
        assert!(Regexp::new(r"\d").expect("valid").is_match("3"));
        assert!(!Regexp::new(r"\w+").expect("valid").is_match("é"));
        assert!(Regexp::new(r"\W").expect("valid").is_match("é"));
        assert!(!Regexp::new(r"\s").expect("valid").is_match("\u{a0}"));
        assert!(Regexp::new(r"[\d_]+").expect("valid").is_match("1_2"));
        assert!(!Regexp::new(r"[\d_]+").expect("valid").is_match("١"));
        assert!(Regexp::new(r"a\bb|a\b").expect("valid").is_match("a"));
    }

    #[test]
    fn class_syntax_is_gos() {
        assert!(Regexp::new("[[]").expect("valid").is_match("["));
        assert!(Regexp::new("[]a]+").expect("valid").is_match("]a"));
        assert!(Regexp::new("[a&&b]+").expect("valid").is_match("a&b"));
        assert!(Regexp::new("[[:digit:]x]+").expect("valid").is_match("1x2"));
        assert!(Regexp::new(r"\Q.*+\E").expect("valid").is_match(".*+"));
        assert!(!Regexp::new(r"\Q.*\E").expect("valid").is_match("ab"));
    }

    #[test]
    fn bad_regex_is_an_error() {
        let err = Regexp::new("(").expect_err("unclosed group");
        assert!(
            err.to_string().starts_with("error parsing regexp \"(\""),
            "{err}"
        );
    }

    #[test]
    fn expand_follows_go() {
        assert_eq!(expand("(a)(b)", "ab", "$2$1"), "ba");
        assert_eq!(expand("(a)(b)", "ab", "${1}x"), "ax");
        // `$1x` names group "1x", which does not exist.
        assert_eq!(expand("(a)(b)", "ab", "$1x"), "");
        assert_eq!(expand("(?P<n>a)b", "ab", "<$n>"), "<a>");
        assert_eq!(expand("(?P<n>a)b", "ab", "<${n}>"), "<a>");
        assert_eq!(expand("(a)", "a", "$$1"), "$1");
        assert_eq!(expand("(a)", "a", "cost $"), "cost $");
        assert_eq!(expand("(a)", "a", "${1"), "${1");
        assert_eq!(expand("(a)", "a", "$-"), "$-");
        assert_eq!(expand("(a)", "a", "$9"), "");
        assert_eq!(expand("(a)", "a", "$01"), "");
        assert_eq!(expand("(a)|(b)", "b", "[$1][$2]"), "[][b]");
        assert_eq!(expand("(a)", "a", "$0"), "a");
    }
}
