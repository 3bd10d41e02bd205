//! [`TargetGroup`], Prometheus's `targetgroup.Group`: targets sharing labels, from one source.
//!
//! File SD and HTTP SD read the same wire form, a list of static configs:
//! `[{"targets": ["host:port", ...], "labels": {"name": "value"}}]`, parsed by
//! [`parse_static_groups`].

use std::collections::BTreeMap;

use serde::Deserialize;

use crate::error::DiscoveryError;

/// The label holding a target's address (`host:port`).
pub const ADDRESS_LABEL: &str = "__address__";

/// Targets that share a set of labels, as one discovery mechanism reports them.
///
/// A group is identified by `source` within its provider: a later group with the same source
/// replaces the earlier one, and a group with no targets removes it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TargetGroup {
    /// Identifies the group within its provider (`pod/ns/name`, `<file>:<index>`, a DNS name).
    pub source: String,
    /// One label set per target; each has `__address__` and any per-target `__meta_*` labels.
    pub targets: Vec<BTreeMap<String, String>>,
    /// Labels common to every target of the group.
    pub labels: BTreeMap<String, String>,
}

impl TargetGroup {
    /// Creates an empty group for `source`: sent alone, it removes the group of that source.
    pub fn empty(source: impl Into<String>) -> Self {
        Self {
            source: source.into(),
            ..Self::default()
        }
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct WireGroup {
    #[serde(default)]
    targets: Vec<String>,
    #[serde(default)]
    labels: BTreeMap<String, String>,
}

/// The format of a static-config list.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum GroupFormat {
    /// A JSON array.
    Json,
    /// A YAML sequence.
    Yaml,
}

/// Parses a list of static configs (file SD and HTTP SD bodies) into groups with their
/// labels checked as Prometheus checks them; the caller sets `source` and meta labels.
pub fn parse_static_groups(
    body: &[u8],
    format: GroupFormat,
) -> Result<Vec<TargetGroup>, DiscoveryError> {
    let wire: Vec<Option<WireGroup>> = match format {
        GroupFormat::Json => {
            serde_json::from_slice(body).map_err(|e| DiscoveryError::Parse(format!("json: {e}")))?
        }
        GroupFormat::Yaml => {
            if body.iter().all(|b| b.is_ascii_whitespace()) {
                Vec::new()
            } else {
                serde_yaml::from_slice(body)
                    .map_err(|e| DiscoveryError::Parse(format!("yaml: {e}")))?
            }
        }
    };
    let mut out = Vec::with_capacity(wire.len());
    for (i, g) in wire.into_iter().enumerate() {
        let g = g.ok_or_else(|| {
            DiscoveryError::Parse(format!("nil target group item found (index {i})"))
        })?;
        for name in g.labels.keys() {
            if !is_valid_label_name(name) {
                return Err(DiscoveryError::Parse(format!(
                    "{name:?} is not a valid label name"
                )));
            }
        }
        let targets = g
            .targets
            .into_iter()
            .map(|t| BTreeMap::from([(ADDRESS_LABEL.to_string(), t)]))
            .collect();
        out.push(TargetGroup {
            source: String::new(),
            targets,
            labels: g.labels,
        });
    }
    Ok(out)
}

/// Whether `name` is a legal label name (`[a-zA-Z_][a-zA-Z0-9_]*`), Prometheus's legacy check.
pub fn is_valid_label_name(name: &str) -> bool {
    let mut chars = name.chars();
    match chars.next() {
        Some(c) if c.is_ascii_alphabetic() || c == '_' => {}
        _ => return false,
    }
    chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// Replaces every character that is not `[a-zA-Z0-9_]` by `_`, as Prometheus's
/// `strutil.SanitizeLabelName` does for Kubernetes and Consul label keys.
pub fn sanitize_label_name(name: &str) -> String {
    name.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '_' {
                c
            } else {
                '_'
            }
        })
        .collect()
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // in tests a failed unwrap is a failed test
mod tests {
    use super::*;

    #[test]
    fn parses_json_and_yaml_lists() {
        let json = br#"[{"targets": ["a:1", "b:2"], "labels": {"env": "prod"}}, {"targets": []}]"#;
        let g = parse_static_groups(json, GroupFormat::Json).unwrap();
        assert_eq!(g.len(), 2);
        assert_eq!(g[0].targets[1][ADDRESS_LABEL], "b:2");
        assert_eq!(g[0].labels["env"], "prod");
        let yaml = b"- targets: ['c:3']\n  labels: {team: x}\n";
        let g = parse_static_groups(yaml, GroupFormat::Yaml).unwrap();
        assert_eq!(g[0].targets[0][ADDRESS_LABEL], "c:3");
        assert!(parse_static_groups(b"", GroupFormat::Yaml)
            .unwrap()
            .is_empty());
    }

    #[test]
    fn rejects_bad_label_names_nil_items_and_unknown_keys() {
        assert!(parse_static_groups(
            br#"[{"targets": [], "labels": {"a-b": "x"}}]"#,
            GroupFormat::Json
        )
        .is_err());
        assert!(parse_static_groups(br#"[null]"#, GroupFormat::Json).is_err());
        assert!(parse_static_groups(br#"[{"targetz": []}]"#, GroupFormat::Json).is_err());
        assert!(parse_static_groups(b"{", GroupFormat::Json).is_err());
    }

    #[test]
    fn sanitizes_like_prometheus() {
        assert_eq!(
            sanitize_label_name("app.kubernetes.io/name"),
            "app_kubernetes_io_name"
        );
        assert_eq!(sanitize_label_name("ok_1"), "ok_1");
        assert!(is_valid_label_name("_a1"));
        assert!(!is_valid_label_name("1a"));
        assert!(!is_valid_label_name(""));
    }
}
