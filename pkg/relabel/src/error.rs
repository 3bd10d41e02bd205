//! Errors of relabel configuration parsing and validation.

/// A relabel configuration Prometheus would refuse. The messages are Prometheus's own, so a
/// user sees the same text from Strata's agent as from Prometheus for the same file.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RelabelError {
    /// `action` is not one of the eleven actions (matched case-insensitively).
    #[error("unknown relabel action {0:?}")]
    UnknownAction(String),
    /// `action` was given as an empty string.
    #[error("relabel action cannot be empty")]
    EmptyAction,
    /// A `source_labels` entry is not a valid label name.
    #[error("{0:?} is not a valid label name")]
    InvalidSourceLabel(String),
    /// `regex` does not compile.
    #[error("error parsing regexp {pattern:?}: {reason}")]
    Regex {
        /// The pattern as written.
        pattern: String,
        /// What the regex compiler said.
        reason: String,
    },
    /// `hashmod` with `modulus` 0 or unset.
    #[error("relabel configuration for hashmod requires non-zero modulus")]
    ZeroModulus,
    /// An action that writes a label has no `target_label`.
    #[error("relabel configuration for {0} action requires 'target_label' value")]
    MissingTargetLabel(&'static str),
    /// `target_label` is not a label name (or, for `replace`, not a name template).
    #[error("{label:?} is invalid 'target_label' for {action} action")]
    InvalidTargetLabel {
        /// The target label as written.
        label: String,
        /// The action name.
        action: &'static str,
    },
    /// `replacement` set for an action that takes none.
    #[error("'replacement' can not be set for {0} action")]
    ReplacementNotAllowed(&'static str),
    /// `labelmap`'s `replacement` is not a label name template.
    #[error("{replacement:?} is invalid 'replacement' for {action} action")]
    InvalidReplacement {
        /// The replacement as written.
        replacement: String,
        /// The action name.
        action: &'static str,
    },
    /// `keepequal`/`dropequal` with a field other than `source_labels` and `target_label`.
    #[error("{0} action requires only 'source_labels' and `target_label`, and no other fields")]
    OnlySourceAndTarget(&'static str),
    /// `labeldrop`/`labelkeep` with a field other than `regex`.
    #[error("{0} action requires only 'regex', and no other fields")]
    OnlyRegex(&'static str),
}
