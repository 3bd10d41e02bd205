use serde::{de::DeserializeOwned, Serialize};
use serde_yaml::{Mapping, Value};

use crate::{duration::parse_duration, ConfigError};

/// How a flag's text becomes a YAML value.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FlagKind {
    /// Any text.
    String,
    /// A signed integer.
    Int,
    /// A float.
    Float,
    /// `true`/`false`; a bare flag means `true`.
    Bool,
    /// A Prometheus duration (`30s`).
    Duration,
    /// A comma-separated list of strings.
    List,
}

/// One command-line flag bound to a dotted path in the YAML tree.
#[derive(Clone, Debug)]
pub struct Flag {
    /// The flag without its dash: `server.http-listen-port`.
    pub name: &'static str,
    /// The YAML path it sets: `server.http_listen_port`.
    pub path: &'static str,
    /// How its value parses.
    pub kind: FlagKind,
    /// One line of help.
    pub help: &'static str,
}

/// Every flag the binary accepts.
#[derive(Clone, Debug, Default)]
pub struct FlagSet {
    flags: Vec<Flag>,
}

/// What the command line asked for.
#[derive(Clone, Debug, Default)]
pub struct ParsedArgs {
    /// `-config.file`.
    pub config_file: Option<String>,
    /// `-config.check`: validate and exit.
    pub config_check: bool,
    /// `-help`.
    pub help: bool,
    /// `-version`.
    pub version: bool,
    /// `-config.expand-env` is not supported; flags given, in order, as (path, kind, raw value, flag name).
    overrides: Vec<(Flag, String)>,
}

impl FlagSet {
    /// Makes a set from flag definitions.
    pub fn new(flags: Vec<Flag>) -> Self {
        Self { flags }
    }

    fn find(&self, name: &str) -> Option<&Flag> {
        self.flags.iter().find(|f| f.name == name)
    }

    /// Help text listing every flag with its default taken from `T::default()`.
    pub fn help<T: Serialize + Default>(&self, usage: &str) -> String {
        let defaults = serde_yaml::to_value(T::default()).unwrap_or(Value::Null);
        let mut out = format!("{usage}\n\nFlags:\n");
        let builtins = [
            (
                "config.file",
                "path to the YAML config file; flags override its values",
                "\"\"",
            ),
            (
                "config.check",
                "validate the configuration and exit",
                "false",
            ),
            ("help", "print this help and exit", "false"),
            ("version", "print the version and exit", "false"),
        ];
        for (name, help, def) in builtins {
            out.push_str(&format!("  -{name}\n    \t{help} (default {def})\n"));
        }
        let mut flags: Vec<&Flag> = self.flags.iter().collect();
        flags.sort_by_key(|f| f.name);
        for f in flags {
            let def = lookup(&defaults, f.path)
                .map(render_default)
                .unwrap_or_else(|| "\"\"".into());
            out.push_str(&format!(
                "  -{} {}\n    \t{} (default {def})\n",
                f.name,
                kind_word(f.kind),
                f.help
            ));
        }
        out
    }
}

fn kind_word(k: FlagKind) -> &'static str {
    match k {
        FlagKind::String => "string",
        FlagKind::Int => "int",
        FlagKind::Float => "float",
        FlagKind::Bool => "",
        FlagKind::Duration => "duration",
        FlagKind::List => "list",
    }
}

fn render_default(v: &Value) -> String {
    match v {
        Value::String(s) => format!("{s:?}"),
        Value::Sequence(seq) => {
            let items: Vec<String> = seq
                .iter()
                .map(|i| match i {
                    Value::String(s) => s.clone(),
                    other => serde_yaml::to_string(other)
                        .unwrap_or_default()
                        .trim()
                        .to_string(),
                })
                .collect();
            format!("{:?}", items.join(","))
        }
        Value::Null => "\"\"".into(),
        other => serde_yaml::to_string(other)
            .unwrap_or_default()
            .trim()
            .to_string(),
    }
}

fn lookup<'a>(v: &'a Value, path: &str) -> Option<&'a Value> {
    path.split('.').try_fold(v, |cur, key| cur.get(key))
}

/// Reads the command line (without the program name). Flags take one or two dashes and
/// `-name=value` or `-name value`; bool flags may stand alone.
pub fn parse_args(
    set: &FlagSet,
    args: impl IntoIterator<Item = String>,
) -> Result<ParsedArgs, ConfigError> {
    let mut out = ParsedArgs::default();
    let mut args = args.into_iter().peekable();
    while let Some(arg) = args.next() {
        let Some(body) = arg.strip_prefix("--").or_else(|| arg.strip_prefix('-')) else {
            return Err(ConfigError::UnknownFlag(arg));
        };
        let (name, inline) = match body.split_once('=') {
            Some((n, v)) => (n, Some(v.to_string())),
            None => (body, None),
        };
        let bool_value = |flag: &str, v: Option<String>| -> Result<bool, ConfigError> {
            match v.as_deref() {
                None | Some("true") => Ok(true),
                Some("false") => Ok(false),
                Some(other) => Err(ConfigError::BadFlagValue {
                    flag: format!("-{flag}"),
                    value: other.to_string(),
                    reason: "expected true or false".into(),
                }),
            }
        };
        match name {
            "help" | "h" => out.help = bool_value(name, inline)?,
            "version" => out.version = bool_value(name, inline)?,
            "config.check" => out.config_check = bool_value(name, inline)?,
            "config.file" => {
                let v = match inline {
                    Some(v) => v,
                    None => args.next().ok_or_else(|| missing_value(name))?,
                };
                out.config_file = Some(v);
            }
            _ => {
                let flag = set
                    .find(name)
                    .ok_or_else(|| ConfigError::UnknownFlag(format!("-{name}")))?;
                let value = match (inline, flag.kind) {
                    (Some(v), _) => v,
                    (None, FlagKind::Bool) => "true".to_string(),
                    (None, _) => args.next().ok_or_else(|| missing_value(name))?,
                };
                // Check the value now so the error names the flag, not the YAML path.
                to_value(flag, &value)?;
                out.overrides.push((flag.clone(), value));
            }
        }
    }
    Ok(out)
}

fn missing_value(name: &str) -> ConfigError {
    ConfigError::BadFlagValue {
        flag: format!("-{name}"),
        value: String::new(),
        reason: "flag needs a value".into(),
    }
}

fn to_value(flag: &Flag, raw: &str) -> Result<Value, ConfigError> {
    let bad = |reason: String| ConfigError::BadFlagValue {
        flag: format!("-{}", flag.name),
        value: raw.to_string(),
        reason,
    };
    Ok(match flag.kind {
        FlagKind::String => Value::String(raw.to_string()),
        FlagKind::Int => Value::Number(raw.parse::<i64>().map_err(|e| bad(e.to_string()))?.into()),
        FlagKind::Float => {
            Value::Number(raw.parse::<f64>().map_err(|e| bad(e.to_string()))?.into())
        }
        FlagKind::Bool => match raw {
            "true" => Value::Bool(true),
            "false" => Value::Bool(false),
            _ => return Err(bad("expected true or false".into())),
        },
        FlagKind::Duration => {
            parse_duration(raw).map_err(bad)?;
            Value::String(raw.to_string())
        }
        FlagKind::List => Value::Sequence(
            raw.split(',')
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(|s| Value::String(s.to_string()))
                .collect(),
        ),
    })
}

fn set_path(root: &mut Value, path: &str, v: Value) {
    let mut cur = root;
    let mut keys = path.split('.').peekable();
    while let Some(key) = keys.next() {
        if !cur.is_mapping() {
            *cur = Value::Mapping(Mapping::new());
        }
        let map = cur.as_mapping_mut().expect("just made a mapping");
        if keys.peek().is_none() {
            map.insert(Value::String(key.to_string()), v);
            return;
        }
        cur = map
            .entry(Value::String(key.to_string()))
            .or_insert_with(|| Value::Mapping(Mapping::new()));
    }
}

/// Loads `T` from the config file (if any) with the flags laid over it. Missing keys take
/// `T`'s defaults; unknown keys and bad values fail naming their dotted path.
pub fn load<T: DeserializeOwned>(args: &ParsedArgs) -> Result<T, ConfigError> {
    let mut root = match &args.config_file {
        Some(path) => {
            let text = std::fs::read_to_string(path).map_err(|source| ConfigError::ReadFile {
                path: path.clone(),
                source,
            })?;
            let v: Value =
                serde_yaml::from_str(&text).map_err(|source| ConfigError::ParseFile {
                    path: path.clone(),
                    source,
                })?;
            if v.is_null() {
                Value::Mapping(Mapping::new())
            } else {
                v
            }
        }
        None => Value::Mapping(Mapping::new()),
    };
    for (flag, raw) in &args.overrides {
        set_path(&mut root, flag.path, to_value(flag, raw)?);
    }
    serde_path_to_error::deserialize(root).map_err(|e| {
        let key = e.path().to_string();
        ConfigError::Invalid {
            key: if key == "." {
                "(top level)".into()
            } else {
                key
            },
            message: e.into_inner().to_string(),
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;

    #[derive(Debug, Deserialize, Serialize, PartialEq)]
    #[serde(deny_unknown_fields, default)]
    struct Server {
        http_listen_port: u16,
        http_listen_address: String,
        #[serde(with = "crate::duration")]
        timeout: std::time::Duration,
    }
    impl Default for Server {
        fn default() -> Self {
            Self {
                http_listen_port: 8080,
                http_listen_address: "0.0.0.0".into(),
                timeout: std::time::Duration::from_secs(30),
            }
        }
    }
    #[derive(Debug, Default, Deserialize, Serialize, PartialEq)]
    #[serde(deny_unknown_fields, default)]
    struct Cfg {
        server: Server,
        addresses: Vec<String>,
        enabled: bool,
    }

    fn set() -> FlagSet {
        FlagSet::new(vec![
            Flag {
                name: "server.http-listen-port",
                path: "server.http_listen_port",
                kind: FlagKind::Int,
                help: "port",
            },
            Flag {
                name: "server.timeout",
                path: "server.timeout",
                kind: FlagKind::Duration,
                help: "t",
            },
            Flag {
                name: "addresses",
                path: "addresses",
                kind: FlagKind::List,
                help: "a",
            },
            Flag {
                name: "enabled",
                path: "enabled",
                kind: FlagKind::Bool,
                help: "e",
            },
        ])
    }

    fn args(a: &[&str]) -> Vec<String> {
        a.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn flags_override_file_and_defaults_fill_the_rest() {
        let dir = tempdir();
        let f = dir.join("c.yaml");
        std::fs::write(
            &f,
            "server:\n  http_listen_port: 1234\n  http_listen_address: 127.0.0.1\n",
        )
        .expect("write");
        let p = parse_args(
            &set(),
            args(&[
                &format!("-config.file={}", f.display()),
                "-server.http-listen-port=99",
                "--addresses",
                "a:1, b:2",
                "-enabled",
            ]),
        )
        .expect("parse");
        let c: Cfg = load(&p).expect("load");
        assert_eq!(c.server.http_listen_port, 99);
        assert_eq!(c.server.http_listen_address, "127.0.0.1");
        assert_eq!(c.server.timeout, std::time::Duration::from_secs(30));
        assert_eq!(c.addresses, vec!["a:1", "b:2"]);
        assert!(c.enabled);
    }

    #[test]
    fn unknown_key_names_its_path() {
        let dir = tempdir();
        let f = dir.join("c.yaml");
        std::fs::write(&f, "server:\n  http_listen_prot: 1\n").expect("write");
        let p =
            parse_args(&set(), args(&[&format!("-config.file={}", f.display())])).expect("parse");
        let e = load::<Cfg>(&p).expect_err("unknown key");
        let msg = e.to_string();
        assert!(
            msg.contains("server") && msg.contains("http_listen_prot"),
            "{msg}"
        );
    }

    #[test]
    fn bad_values_name_the_flag_or_key() {
        let e = parse_args(&set(), args(&["-server.http-listen-port=abc"])).expect_err("bad int");
        assert!(e.to_string().contains("-server.http-listen-port"), "{e}");
        let e = parse_args(&set(), args(&["-server.timeout=5"])).expect_err("bad duration");
        assert!(e.to_string().contains("-server.timeout"), "{e}");
        let e = parse_args(&set(), args(&["-nope=1"])).expect_err("unknown");
        assert!(e.to_string().contains("-nope"), "{e}");
        let p = parse_args(&set(), args(&["-server.http-listen-port=70000"])).expect("int parses");
        let e = load::<Cfg>(&p).expect_err("out of range");
        assert!(e.to_string().contains("server.http_listen_port"), "{e}");
    }

    #[test]
    fn help_lists_defaults() {
        let h = set().help::<Cfg>("usage");
        assert!(h.contains("-server.http-listen-port int"), "{h}");
        assert!(h.contains("(default 8080)"), "{h}");
        assert!(h.contains("(default \"30s\")"), "{h}");
    }

    fn tempdir() -> std::path::PathBuf {
        let d = std::env::temp_dir().join(format!(
            "strata-config-test-{}-{:?}",
            std::process::id(),
            std::thread::current().id()
        ));
        std::fs::create_dir_all(&d).expect("mkdir");
        d
    }
}
