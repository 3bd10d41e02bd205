//! `relabel_config`: the YAML shape, Prometheus's defaults and its validation rules.
//!
//! A configuration is read into a raw form that remembers which keys were written, then
//! checked the way Prometheus 2.x's `relabel.Config.Validate` does, with its messages. The
//! checks that compare a field with its default ("labeldrop action requires only 'regex'")
//! treat `regex` as set whenever the key is present, as Prometheus does (it compares the
//! compiled regex by identity), so `keepequal` with an explicit `regex: (.*)` is refused.

use crate::{Regexp, RelabelError};
use serde::{Deserialize, Deserializer, Serialize};
use std::fmt;

/// The default `separator`.
pub const DEFAULT_SEPARATOR: &str = ";";
/// The default `regex`.
pub const DEFAULT_REGEX: &str = "(.*)";
/// The default `replacement`.
pub const DEFAULT_REPLACEMENT: &str = "$1";

/// What a relabel rule does.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum Action {
    /// Sets `target_label` (a template) to `replacement` expanded against the regex match
    /// of the joined source values; no match leaves the labels alone.
    #[default]
    Replace,
    /// Drops the set unless the regex matches the joined source values.
    Keep,
    /// Drops the set if the regex matches the joined source values.
    Drop,
    /// Drops the set unless `target_label`'s value equals the joined source values.
    KeepEqual,
    /// Drops the set if `target_label`'s value equals the joined source values.
    DropEqual,
    /// Sets `target_label` to the MD5 of the joined source values modulo `modulus`.
    HashMod,
    /// Copies every label whose name matches the regex to the name `replacement` expands to.
    LabelMap,
    /// Deletes every label whose name matches the regex.
    LabelDrop,
    /// Deletes every label whose name does not match the regex.
    LabelKeep,
    /// Sets `target_label` to the joined source values in lower case.
    Lowercase,
    /// Sets `target_label` to the joined source values in upper case.
    Uppercase,
}

impl Action {
    /// Every action, in the order Prometheus's docs list them.
    pub const ALL: [Action; 11] = [
        Action::Replace,
        Action::Keep,
        Action::Drop,
        Action::KeepEqual,
        Action::DropEqual,
        Action::HashMod,
        Action::LabelMap,
        Action::LabelDrop,
        Action::LabelKeep,
        Action::Lowercase,
        Action::Uppercase,
    ];

    /// The action's name in configuration files.
    pub fn as_str(self) -> &'static str {
        match self {
            Action::Replace => "replace",
            Action::Keep => "keep",
            Action::Drop => "drop",
            Action::KeepEqual => "keepequal",
            Action::DropEqual => "dropequal",
            Action::HashMod => "hashmod",
            Action::LabelMap => "labelmap",
            Action::LabelDrop => "labeldrop",
            Action::LabelKeep => "labelkeep",
            Action::Lowercase => "lowercase",
            Action::Uppercase => "uppercase",
        }
    }

    /// Parses an action name case-insensitively, as Prometheus does.
    pub fn parse(s: &str) -> Result<Self, RelabelError> {
        let lower = s.to_lowercase();
        Action::ALL
            .into_iter()
            .find(|a| a.as_str() == lower)
            .ok_or_else(|| RelabelError::UnknownAction(s.to_string()))
    }
}

impl fmt::Display for Action {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One validated relabel rule. Build it from YAML (serde) or from a [`RawRelabelConfig`]
/// (`try_into`); either way it has passed Prometheus's checks.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize, Serialize)]
#[serde(try_from = "RawRelabelConfig", into = "RawRelabelConfig")]
pub struct RelabelConfig {
    /// Labels whose values are joined with `separator` to form the input.
    pub source_labels: Vec<String>,
    /// The string between joined source values.
    pub separator: String,
    /// The anchored regex the input (or, for label actions, each name) is matched against.
    pub regex: Regexp,
    /// The modulus of `hashmod`.
    pub modulus: u64,
    /// The label an action writes (a template for `replace`).
    pub target_label: String,
    /// The replacement template of `replace` and `labelmap`.
    pub replacement: String,
    /// The action.
    pub action: Action,
}

impl Default for RelabelConfig {
    /// Prometheus's defaults: `replace` with separator `;`, regex `(.*)`, replacement `$1`
    /// (not valid by itself: `replace` needs a `target_label`).
    fn default() -> Self {
        Self {
            source_labels: Vec::new(),
            separator: DEFAULT_SEPARATOR.to_string(),
            regex: Regexp::default(),
            modulus: 0,
            target_label: String::new(),
            replacement: DEFAULT_REPLACEMENT.to_string(),
            action: Action::Replace,
        }
    }
}

/// A relabel rule as written: every key optional, nothing checked yet. Converting it into
/// a [`RelabelConfig`] applies the defaults and Prometheus's validation.
#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct RawRelabelConfig {
    /// `source_labels`; `Some` when the key is present.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source_labels: Option<Vec<String>>,
    /// `separator`.
    #[serde(
        default,
        deserialize_with = "scalar_string",
        skip_serializing_if = "Option::is_none"
    )]
    pub separator: Option<String>,
    /// `regex`: `None` when absent, `Some(None)` when present but null (the empty regex).
    #[serde(
        default,
        deserialize_with = "present_scalar_string",
        skip_serializing_if = "Option::is_none"
    )]
    pub regex: Option<Option<String>>,
    /// `modulus`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub modulus: Option<u64>,
    /// `target_label`.
    #[serde(
        default,
        deserialize_with = "scalar_string",
        skip_serializing_if = "Option::is_none"
    )]
    pub target_label: Option<String>,
    /// `replacement`.
    #[serde(
        default,
        deserialize_with = "scalar_string",
        skip_serializing_if = "Option::is_none"
    )]
    pub replacement: Option<String>,
    /// `action`.
    #[serde(
        default,
        deserialize_with = "scalar_string",
        skip_serializing_if = "Option::is_none"
    )]
    pub action: Option<String>,
}

impl TryFrom<RawRelabelConfig> for RelabelConfig {
    type Error = RelabelError;

    fn try_from(raw: RawRelabelConfig) -> Result<Self, RelabelError> {
        let action = match raw.action.as_deref() {
            None => Action::Replace,
            Some("") => return Err(RelabelError::EmptyAction),
            Some(s) => Action::parse(s)?,
        };
        let source_labels = raw.source_labels.clone().unwrap_or_default();
        if let Some(bad) = source_labels.iter().find(|n| !is_valid_label_name(n)) {
            return Err(RelabelError::InvalidSourceLabel(bad.clone()));
        }
        let regex = match &raw.regex {
            None => Regexp::default(),
            Some(p) => Regexp::new(p.as_deref().unwrap_or(""))?,
        };
        let cfg = RelabelConfig {
            source_labels,
            separator: raw
                .separator
                .clone()
                .unwrap_or_else(|| DEFAULT_SEPARATOR.into()),
            regex,
            modulus: raw.modulus.unwrap_or(0),
            target_label: raw.target_label.clone().unwrap_or_default(),
            replacement: raw
                .replacement
                .clone()
                .unwrap_or_else(|| DEFAULT_REPLACEMENT.into()),
            action,
        };
        cfg.validate(raw.regex.is_some(), raw.source_labels.is_some())?;
        Ok(cfg)
    }
}

impl From<RelabelConfig> for RawRelabelConfig {
    fn from(c: RelabelConfig) -> Self {
        let regex_default = c.regex.as_str() == DEFAULT_REGEX;
        RawRelabelConfig {
            source_labels: (!c.source_labels.is_empty()).then_some(c.source_labels),
            separator: (c.separator != DEFAULT_SEPARATOR).then_some(c.separator),
            regex: (!regex_default).then(|| Some(c.regex.as_str().to_string())),
            modulus: (c.modulus != 0).then_some(c.modulus),
            target_label: (!c.target_label.is_empty()).then_some(c.target_label),
            replacement: (c.replacement != DEFAULT_REPLACEMENT).then_some(c.replacement),
            action: Some(c.action.as_str().to_string()),
        }
    }
}

impl RelabelConfig {
    /// Parses one rule from YAML.
    pub fn from_raw(raw: RawRelabelConfig) -> Result<Self, RelabelError> {
        raw.try_into()
    }

    /// Checks the rule as Prometheus's `Config.Validate`; `regex_set` and
    /// `source_labels_set` say whether those keys were written.
    fn validate(&self, regex_set: bool, source_labels_set: bool) -> Result<(), RelabelError> {
        use Action::*;
        let a = self.action;
        let name = a.as_str();
        if self.modulus == 0 && a == HashMod {
            return Err(RelabelError::ZeroModulus);
        }
        let writes_target = matches!(
            a,
            Replace | HashMod | Lowercase | Uppercase | KeepEqual | DropEqual
        );
        if writes_target && self.target_label.is_empty() {
            return Err(RelabelError::MissingTargetLabel(name));
        }
        let invalid_target = || RelabelError::InvalidTargetLabel {
            label: self.target_label.clone(),
            action: name,
        };
        if a == Replace {
            let ok = if self.target_label.contains('$') {
                is_label_name_template(&self.target_label)
            } else {
                is_valid_label_name(&self.target_label)
            };
            if !ok {
                return Err(invalid_target());
            }
        }
        let plain_target = matches!(a, Lowercase | Uppercase | KeepEqual | DropEqual);
        if plain_target && !is_valid_label_name(&self.target_label) {
            return Err(invalid_target());
        }
        if plain_target && self.replacement != DEFAULT_REPLACEMENT {
            return Err(RelabelError::ReplacementNotAllowed(name));
        }
        if a == LabelMap && !is_label_name_template(&self.replacement) {
            return Err(RelabelError::InvalidReplacement {
                replacement: self.replacement.clone(),
                action: name,
            });
        }
        if a == HashMod && !is_valid_label_name(&self.target_label) {
            return Err(invalid_target());
        }
        if matches!(a, KeepEqual | DropEqual)
            && (regex_set
                || self.modulus != 0
                || self.separator != DEFAULT_SEPARATOR
                || self.replacement != DEFAULT_REPLACEMENT)
        {
            return Err(RelabelError::OnlySourceAndTarget(name));
        }
        if matches!(a, LabelDrop | LabelKeep)
            && (source_labels_set
                || !self.target_label.is_empty()
                || self.modulus != 0
                || self.separator != DEFAULT_SEPARATOR
                || self.replacement != DEFAULT_REPLACEMENT)
        {
            return Err(RelabelError::OnlyRegex(name));
        }
        Ok(())
    }
}

/// Tells whether `s` is a label name in Prometheus 2's (legacy) rules:
/// `[a-zA-Z_][a-zA-Z0-9_]*`.
pub fn is_valid_label_name(s: &str) -> bool {
    let mut bytes = s.bytes();
    matches!(bytes.next(), Some(b) if b.is_ascii_alphabetic() || b == b'_')
        && bytes.all(|b| b.is_ascii_alphanumeric() || b == b'_')
}

/// Tells whether `s` is a label name that may hold `$var` / `${var}` references, as
/// Prometheus's `relabelTarget` pattern
/// `^(?:(?:[a-zA-Z_]|\$(?:\{\w+\}|\w+))+\w*)+$` accepts: it must start with a letter, `_`
/// or a reference, and otherwise hold only word characters and references.
pub fn is_label_name_template(s: &str) -> bool {
    let b = s.as_bytes();
    let word = |c: u8| c.is_ascii_alphanumeric() || c == b'_';
    let mut i = 0;
    let mut first = true;
    while i < b.len() {
        match b[i] {
            b'$' => {
                if b.get(i + 1) == Some(&b'{') {
                    let start = i + 2;
                    let mut j = start;
                    while j < b.len() && word(b[j]) {
                        j += 1;
                    }
                    if j == start || b.get(j) != Some(&b'}') {
                        return false;
                    }
                    i = j + 1;
                } else {
                    let start = i + 1;
                    let mut j = start;
                    while j < b.len() && word(b[j]) {
                        j += 1;
                    }
                    if j == start {
                        return false;
                    }
                    i = j;
                }
            }
            c if first && c.is_ascii_digit() => return false,
            c if word(c) => i += 1,
            _ => return false,
        }
        first = false;
    }
    !b.is_empty()
}

/// Reads a YAML scalar as a string, as Go's YAML decoder does for string fields (`1` is
/// `"1"`, `true` is `"true"`); null is `None`.
fn scalar_string<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    Option::<Scalar>::deserialize(d).map(|o| o.map(|s| s.0))
}

/// As [`scalar_string`], but a present key is always `Some` (null becomes `Some(None)`).
fn present_scalar_string<'de, D: Deserializer<'de>>(
    d: D,
) -> Result<Option<Option<String>>, D::Error> {
    scalar_string(d).map(Some)
}

struct Scalar(String);

impl<'de> Deserialize<'de> for Scalar {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl serde::de::Visitor<'_> for V {
            type Value = Scalar;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a string")
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<Scalar, E> {
                Ok(Scalar(v.to_string()))
            }
            fn visit_bool<E: serde::de::Error>(self, v: bool) -> Result<Scalar, E> {
                Ok(Scalar(v.to_string()))
            }
            fn visit_i64<E: serde::de::Error>(self, v: i64) -> Result<Scalar, E> {
                Ok(Scalar(v.to_string()))
            }
            fn visit_u64<E: serde::de::Error>(self, v: u64) -> Result<Scalar, E> {
                Ok(Scalar(v.to_string()))
            }
            fn visit_f64<E: serde::de::Error>(self, v: f64) -> Result<Scalar, E> {
                Ok(Scalar(v.to_string()))
            }
        }
        d.deserialize_any(V)
    }
}
