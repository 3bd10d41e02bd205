use regex::Regex;
use std::fmt;

/// A matcher's operator.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum MatchOp {
    /// `=`
    Equal,
    /// `!=`
    NotEqual,
    /// `=~`, fully anchored.
    RegexMatch,
    /// `!~`, fully anchored.
    RegexNoMatch,
}

impl fmt::Display for MatchOp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            MatchOp::Equal => "=",
            MatchOp::NotEqual => "!=",
            MatchOp::RegexMatch => "=~",
            MatchOp::RegexNoMatch => "!~",
        })
    }
}

/// A matcher's regex did not compile.
#[derive(Debug, thiserror::Error)]
#[error("invalid regular expression {pattern:?} in matcher for label {name:?}: {source}")]
pub struct MatcherError {
    /// The label the matcher is for.
    pub name: String,
    /// The pattern as given.
    pub pattern: String,
    /// Why it did not compile.
    #[source]
    pub source: regex::Error,
}

/// A label matcher. A missing label matches as the empty string, as in Prometheus.
#[derive(Clone, Debug)]
pub struct Matcher {
    /// The label name.
    pub name: String,
    /// The operator.
    pub op: MatchOp,
    /// The value or pattern as written.
    pub value: String,
    re: Option<Regex>,
}

impl PartialEq for Matcher {
    fn eq(&self, other: &Self) -> bool {
        self.name == other.name && self.op == other.op && self.value == other.value
    }
}

impl Matcher {
    /// Makes a matcher, compiling regexes as Prometheus 3 does: anchored at both ends, with
    /// `.` matching newlines (`^(?s:…)$`).
    pub fn new(
        op: MatchOp,
        name: impl Into<String>,
        value: impl Into<String>,
    ) -> Result<Self, MatcherError> {
        let name = name.into();
        let value = value.into();
        let re = match op {
            MatchOp::RegexMatch | MatchOp::RegexNoMatch => Some(
                Regex::new(&format!("^(?s:{value})$")).map_err(|source| MatcherError {
                    name: name.clone(),
                    pattern: value.clone(),
                    source,
                })?,
            ),
            _ => None,
        };
        Ok(Self {
            name,
            op,
            value,
            re,
        })
    }

    /// An equality matcher, which cannot fail.
    pub fn equal(name: impl Into<String>, value: impl Into<String>) -> Self {
        Self {
            name: name.into(),
            op: MatchOp::Equal,
            value: value.into(),
            re: None,
        }
    }

    /// Tells whether label value `v` (empty when the label is absent) matches.
    pub fn matches(&self, v: &str) -> bool {
        match self.op {
            MatchOp::Equal => v == self.value,
            MatchOp::NotEqual => v != self.value,
            MatchOp::RegexMatch => self.re.as_ref().is_some_and(|r| r.is_match(v)),
            MatchOp::RegexNoMatch => !self.re.as_ref().is_some_and(|r| r.is_match(v)),
        }
    }

    /// Tells whether the matcher matches the empty string (and so series lacking the label).
    pub fn matches_empty(&self) -> bool {
        self.matches("")
    }

    /// Tells whether the series with `labels` satisfies this matcher.
    pub fn matches_labels(&self, labels: &crate::Labels) -> bool {
        self.matches(labels.get(&self.name).unwrap_or(""))
    }
}

impl fmt::Display for Matcher {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}{}{:?}", self.name, self.op, self.value)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn regex_is_anchored_and_dot_matches_newline() {
        let m = Matcher::new(MatchOp::RegexMatch, "a", "fo.").expect("valid regex");
        assert!(m.matches("foo"));
        assert!(m.matches("fo\n"));
        assert!(!m.matches("xfoo"));
        assert!(!m.matches("foox"));
        let m = Matcher::new(MatchOp::RegexNoMatch, "a", "x|").expect("valid regex");
        assert!(!m.matches(""));
        assert!(m.matches("y"));
    }

    #[test]
    fn bad_regex_is_an_error() {
        assert!(Matcher::new(MatchOp::RegexMatch, "a", "(").is_err());
    }
}
