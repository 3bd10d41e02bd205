//! Reading a YAML mapping the way Prometheus's strict YAML decoding does: every key must be
//! taken by some field (several parsers may share one mapping, as Go's `yaml:",inline"`
//! structs do), and what is left over is an unknown field of the enclosing Go type.
//!
//! ```text
//!  Value ──Obj::new(path, "config.ScrapeConfig")──► obj.str("job_name"), obj.duration(..),
//!        HttpClientConfig::parse(&mut obj), … ──obj.finish()──► Ok | UnknownField
//! ```

use crate::units::{parse_duration, parse_size};
use crate::ConfigError;
use serde_yaml::Value;
use std::collections::BTreeMap;
use std::time::Duration;

/// Joins a key onto a path: `a.b`, or `b` at the root.
pub(crate) fn join(path: &str, key: &str) -> String {
    if path.is_empty() {
        key.to_string()
    } else {
        format!("{path}.{key}")
    }
}

/// Names a YAML value's kind as Go's YAML errors do (`!!seq`).
fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "!!null",
        Value::Bool(_) => "!!bool",
        Value::Number(n) if n.is_f64() => "!!float",
        Value::Number(_) => "!!int",
        Value::String(_) => "!!str",
        Value::Sequence(_) => "!!seq",
        Value::Mapping(_) => "!!map",
        Value::Tagged(_) => "!!tagged",
    }
}

fn mismatch(path: &str, v: &Value, go_type: &str) -> ConfigError {
    ConfigError::invalid(path, format!("cannot unmarshal {} into {go_type}", kind(v)))
}

/// A scalar as a string, as Go's YAML decoding allows for string fields (`job_name: 1`).
pub(crate) fn scalar_string(path: &str, v: &Value) -> Result<String, ConfigError> {
    match v {
        Value::String(s) => Ok(s.clone()),
        Value::Bool(b) => Ok(b.to_string()),
        Value::Number(n) => Ok(n.to_string()),
        Value::Null => Ok(String::new()),
        other => Err(mismatch(path, other, "string")),
    }
}

/// A sequence's elements with their paths; null is an empty sequence.
pub(crate) fn seq(path: &str, v: Value) -> Result<Vec<(String, Value)>, ConfigError> {
    match v {
        Value::Null => Ok(Vec::new()),
        Value::Sequence(items) => Ok(items
            .into_iter()
            .enumerate()
            .map(|(i, v)| (format!("{path}[{i}]"), v))
            .collect()),
        other => Err(mismatch(path, &other, "[]")),
    }
}

/// One YAML mapping being read into a Go-named type.
pub(crate) struct Obj {
    path: String,
    go_type: &'static str,
    entries: Vec<(String, Value)>,
}

impl Obj {
    /// Opens `v` (a mapping, or null for an empty one) read as Go type `go_type`.
    pub(crate) fn new(path: &str, v: Value, go_type: &'static str) -> Result<Self, ConfigError> {
        let map = match v {
            Value::Null => serde_yaml::Mapping::new(),
            Value::Mapping(m) => m,
            other => return Err(mismatch(path, &other, go_type)),
        };
        let mut entries = Vec::with_capacity(map.len());
        for (k, v) in map {
            let key = scalar_string(path, &k)?;
            entries.push((key, v));
        }
        Ok(Self {
            path: path.to_string(),
            go_type,
            entries,
        })
    }

    /// The mapping's own path.
    pub(crate) fn path(&self) -> &str {
        &self.path
    }

    /// The path of `key` in this mapping.
    pub(crate) fn at(&self, key: &str) -> String {
        join(&self.path, key)
    }

    /// The keys still unread, in document order.
    pub(crate) fn keys(&self) -> Vec<String> {
        self.entries.iter().map(|(k, _)| k.clone()).collect()
    }

    /// Tells whether `key` is still unread in the mapping.
    pub(crate) fn has(&self, key: &str) -> bool {
        self.entries.iter().any(|(k, _)| k == key)
    }

    /// Removes and returns `key`'s value; a null value counts as absent.
    pub(crate) fn take(&mut self, key: &str) -> Option<Value> {
        let i = self.entries.iter().position(|(k, _)| k == key)?;
        match self.entries.remove(i).1 {
            Value::Null => None,
            v => Some(v),
        }
    }

    /// `key`'s value, left in the mapping.
    pub(crate) fn peek(&self, key: &str) -> Option<&Value> {
        self.entries.iter().find(|(k, _)| k == key).map(|(_, v)| v)
    }

    /// A string field.
    pub(crate) fn str(&mut self, key: &str) -> Result<Option<String>, ConfigError> {
        let path = self.at(key);
        self.take(key).map(|v| scalar_string(&path, &v)).transpose()
    }

    /// A string field, `default` when absent.
    pub(crate) fn str_or(&mut self, key: &str, default: &str) -> Result<String, ConfigError> {
        Ok(self.str(key)?.unwrap_or_else(|| default.to_string()))
    }

    /// A boolean field.
    pub(crate) fn bool(&mut self, key: &str) -> Result<Option<bool>, ConfigError> {
        let path = self.at(key);
        match self.take(key) {
            None => Ok(None),
            Some(Value::Bool(b)) => Ok(Some(b)),
            // YAML 1.1 booleans, which Go's YAML decoder (and so Prometheus) accepts. A
            // quoted "yes" cannot be told apart here and is accepted too.
            Some(Value::String(s)) => match s.as_str() {
                "y" | "Y" | "yes" | "Yes" | "YES" | "on" | "On" | "ON" => Ok(Some(true)),
                "n" | "N" | "no" | "No" | "NO" | "off" | "Off" | "OFF" => Ok(Some(false)),
                _ => Err(mismatch(&path, &Value::String(s), "bool")),
            },
            Some(other) => Err(mismatch(&path, &other, "bool")),
        }
    }

    /// A boolean field, `default` when absent.
    pub(crate) fn bool_or(&mut self, key: &str, default: bool) -> Result<bool, ConfigError> {
        Ok(self.bool(key)?.unwrap_or(default))
    }

    /// An unsigned integer field.
    pub(crate) fn u64(&mut self, key: &str) -> Result<Option<u64>, ConfigError> {
        let path = self.at(key);
        match self.take(key) {
            None => Ok(None),
            Some(Value::Number(n)) if n.as_u64().is_some() => Ok(n.as_u64()),
            Some(other) => Err(mismatch(&path, &other, "uint")),
        }
    }

    /// A signed integer field.
    pub(crate) fn i64(&mut self, key: &str) -> Result<Option<i64>, ConfigError> {
        let path = self.at(key);
        match self.take(key) {
            None => Ok(None),
            Some(Value::Number(n)) if n.as_i64().is_some() => Ok(n.as_i64()),
            Some(other) => Err(mismatch(&path, &other, "int")),
        }
    }

    /// A float field (integers accepted).
    pub(crate) fn f64(&mut self, key: &str) -> Result<Option<f64>, ConfigError> {
        let path = self.at(key);
        match self.take(key) {
            None => Ok(None),
            Some(Value::Number(n)) => Ok(n.as_f64()),
            Some(other) => Err(mismatch(&path, &other, "float64")),
        }
    }

    /// A duration field in Prometheus's format (`1m30s`).
    pub(crate) fn duration(&mut self, key: &str) -> Result<Option<Duration>, ConfigError> {
        let path = self.at(key);
        let Some(s) = self.str(key)? else {
            return Ok(None);
        };
        parse_duration(&s)
            .map(Some)
            .map_err(|e| ConfigError::invalid(&path, e))
    }

    /// A duration field, `default` when absent.
    pub(crate) fn duration_or(
        &mut self,
        key: &str,
        default: Duration,
    ) -> Result<Duration, ConfigError> {
        Ok(self.duration(key)?.unwrap_or(default))
    }

    /// A byte size field (`10MB`, base 2).
    pub(crate) fn size(&mut self, key: &str) -> Result<Option<u64>, ConfigError> {
        let path = self.at(key);
        let Some(s) = self.str(key)? else {
            return Ok(None);
        };
        parse_size(&s)
            .map(Some)
            .map_err(|e| ConfigError::invalid(&path, e))
    }

    /// A list of strings.
    pub(crate) fn strings(&mut self, key: &str) -> Result<Vec<String>, ConfigError> {
        let path = self.at(key);
        let Some(v) = self.take(key) else {
            return Ok(Vec::new());
        };
        seq(&path, v)?
            .into_iter()
            .map(|(p, v)| scalar_string(&p, &v))
            .collect()
    }

    /// A mapping of strings to strings.
    pub(crate) fn str_map(&mut self, key: &str) -> Result<BTreeMap<String, String>, ConfigError> {
        let path = self.at(key);
        let Some(v) = self.take(key) else {
            return Ok(BTreeMap::new());
        };
        let Value::Mapping(m) = v else {
            return Err(mismatch(&path, &v, "map[string]string"));
        };
        let mut out = BTreeMap::new();
        for (k, v) in m {
            let k = scalar_string(&path, &k)?;
            let v = scalar_string(&join(&path, &k), &v)?;
            out.insert(k, v);
        }
        Ok(out)
    }

    /// A mapping of strings to lists of strings (`params`, `proxy_connect_header`).
    pub(crate) fn str_list_map(
        &mut self,
        key: &str,
    ) -> Result<BTreeMap<String, Vec<String>>, ConfigError> {
        let path = self.at(key);
        let Some(v) = self.take(key) else {
            return Ok(BTreeMap::new());
        };
        let Value::Mapping(m) = v else {
            return Err(mismatch(&path, &v, "map[string][]string"));
        };
        let mut out = BTreeMap::new();
        for (k, v) in m {
            let k = scalar_string(&path, &k)?;
            let p = join(&path, &k);
            let vals = seq(&p, v)?
                .into_iter()
                .map(|(p, v)| scalar_string(&p, &v))
                .collect::<Result<Vec<_>, _>>()?;
            out.insert(k, vals);
        }
        Ok(out)
    }

    /// A nested mapping read as `go_type`; `None` when absent.
    pub(crate) fn obj(
        &mut self,
        key: &str,
        go_type: &'static str,
    ) -> Result<Option<Obj>, ConfigError> {
        let path = self.at(key);
        self.take(key)
            .map(|v| Obj::new(&path, v, go_type))
            .transpose()
    }

    /// A sequence field's elements with their paths (empty when absent).
    pub(crate) fn list(&mut self, key: &str) -> Result<Vec<(String, Value)>, ConfigError> {
        let path = self.at(key);
        match self.take(key) {
            None => Ok(Vec::new()),
            Some(v) => seq(&path, v),
        }
    }

    /// A sequence of relabel rules, checked by `strata-relabel`; a null rule is refused
    /// with `null_message` as Prometheus does.
    pub(crate) fn relabel_configs(
        &mut self,
        key: &str,
        null_message: &str,
    ) -> Result<Vec<strata_relabel::RelabelConfig>, ConfigError> {
        self.list(key)?
            .into_iter()
            .map(|(p, v)| {
                if v.is_null() {
                    return Err(ConfigError::invalid(&p, null_message));
                }
                serde_yaml::from_value(v).map_err(|e| ConfigError::invalid(&p, e.to_string()))
            })
            .collect()
    }

    /// Refuses any key no parser took, as Prometheus's strict decoding does.
    pub(crate) fn finish(self) -> Result<(), ConfigError> {
        match self.entries.into_iter().next() {
            None => Ok(()),
            Some((key, _)) => Err(ConfigError::UnknownField {
                path: join(&self.path, &key),
                key,
                go_type: self.go_type,
            }),
        }
    }
}
