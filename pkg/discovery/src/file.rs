//! `file_sd_configs`: target groups read from JSON or YAML files matched by patterns whose
//! last path element may hold a `*`. Files are checked every `file_poll_interval` (mtime and
//! size) and all re-read every `refresh_interval`.
//!
//! Each group gets source `<path>:<index>` and the label `__meta_filepath`. A file that
//! cannot be read or parsed keeps its last good groups and counts
//! `prometheus_sd_file_read_errors_total`; a file that disappears (or shrinks) removes its
//! groups.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant, SystemTime};

use strata_promconfig::sd::FileSdConfig;
use tracing::error;

use crate::error::DiscoveryError;
use crate::metrics::SdMetrics;
use crate::provider::{GroupSink, ProviderContext};
use crate::target_group::{parse_static_groups, GroupFormat, TargetGroup};

/// The label naming the file a target came from.
pub const FILEPATH_LABEL: &str = "__meta_filepath";

/// One file SD provider.
#[derive(Debug)]
pub struct FileDiscovery {
    patterns: Vec<String>,
    refresh_interval: Duration,
    poll_interval: Duration,
    metrics: SdMetrics,
    /// Per file: its (mtime, size) when last read and its number of groups.
    last: BTreeMap<PathBuf, (Option<(SystemTime, u64)>, usize)>,
}

impl FileDiscovery {
    /// Checks the patterns (`.json`, `.yml`, `.yaml`; a `*` only in the last element).
    pub fn new(cfg: &FileSdConfig, ctx: &ProviderContext) -> Result<Self, DiscoveryError> {
        for p in &cfg.files {
            let (dir, name) = split_pattern(p);
            if dir.contains('*')
                || name.matches('*').count() > 1
                || format_of(Path::new(name)).is_none()
            {
                return Err(DiscoveryError::config(
                    "file",
                    format!("path {p:?} is not valid for file discovery"),
                ));
            }
        }
        Ok(Self {
            patterns: cfg.files.clone(),
            refresh_interval: cfg.refresh_interval,
            poll_interval: ctx.options.file_poll_interval,
            metrics: ctx.metrics.clone(),
            last: BTreeMap::new(),
        })
    }

    /// Reads all files now, then watches them until the task is aborted.
    pub async fn run(self, sink: GroupSink) {
        // File reads block: each scan runs on the blocking pool, taking the state along.
        let Some(mut me) = self.scan(&sink, true).await else {
            return;
        };
        let mut last_full = Instant::now();
        loop {
            tokio::time::sleep(me.poll_interval).await;
            let full = last_full.elapsed() >= me.refresh_interval;
            if full {
                last_full = Instant::now();
            }
            let Some(next) = me.scan(&sink, full).await else {
                return;
            };
            me = next;
        }
    }

    async fn scan(self, sink: &GroupSink, full: bool) -> Option<Self> {
        let sink = sink.clone();
        match tokio::task::spawn_blocking(move || {
            let mut me = self;
            me.refresh(&sink, full);
            me
        })
        .await
        {
            Ok(me) => Some(me),
            Err(err) => {
                error!(err = %err, "file sd scan task failed; provider stops");
                None
            }
        }
    }

    /// Reads changed files (all when `full`) and sends their groups; sends empty groups for
    /// files gone or shrunk.
    fn refresh(&mut self, sink: &GroupSink, full: bool) {
        let mut seen = BTreeMap::new();
        for path in self.list_files() {
            let stamp = std::fs::metadata(&path)
                .ok()
                .map(|m| (m.modified().unwrap_or(SystemTime::UNIX_EPOCH), m.len()));
            let prev = self.last.get(&path).cloned();
            if !full {
                if let Some((Some(s), n)) = &prev {
                    if Some(*s) == stamp {
                        seen.insert(path, (Some(*s), *n));
                        continue;
                    }
                }
            }
            match read_file(&path) {
                Ok(groups) => {
                    let n = groups.len();
                    let mut update = groups;
                    let prev_n = prev.map(|p| p.1).unwrap_or(0);
                    for i in n..prev_n {
                        update.push(TargetGroup::empty(source(&path, i)));
                    }
                    sink.send(update);
                    seen.insert(path, (stamp, n));
                }
                Err(err) => {
                    self.metrics.file_read_errors.inc();
                    self.metrics.refresh_failed("file");
                    error!(path = %path.display(), err = %err, "error reading file sd file");
                    // Keep the last good groups; read the file again once it changes.
                    seen.insert(path, (stamp, prev.map(|p| p.1).unwrap_or(0)));
                }
            }
        }
        for (path, (_, n)) in &self.last {
            if !seen.contains_key(path) && *n > 0 {
                sink.send(
                    (0..*n)
                        .map(|i| TargetGroup::empty(source(path, i)))
                        .collect(),
                );
            }
        }
        self.last = seen;
    }

    fn list_files(&self) -> Vec<PathBuf> {
        let mut out = Vec::new();
        for p in &self.patterns {
            let (dir, name) = split_pattern(p);
            if !name.contains('*') {
                let path = PathBuf::from(p);
                if path.is_file() {
                    out.push(path);
                }
                continue;
            }
            let dir_path = if dir.is_empty() {
                Path::new(".")
            } else {
                Path::new(dir)
            };
            let Ok(entries) = std::fs::read_dir(dir_path) else {
                continue;
            };
            let mut matched: Vec<PathBuf> = entries
                .filter_map(|e| e.ok())
                .filter(|e| {
                    e.file_type()
                        .map(|t| t.is_file() || t.is_symlink())
                        .unwrap_or(false)
                })
                .filter_map(|e| {
                    let n = e.file_name().to_string_lossy().into_owned();
                    wildcard_match(name, &n).then(|| {
                        if dir.is_empty() {
                            PathBuf::from(n)
                        } else {
                            Path::new(dir).join(n)
                        }
                    })
                })
                .collect();
            matched.sort();
            out.extend(matched);
        }
        out.dedup();
        out
    }
}

fn split_pattern(p: &str) -> (&str, &str) {
    match p.rfind('/') {
        Some(0) => ("/", &p[1..]),
        Some(i) => (&p[..i], &p[i + 1..]),
        None => ("", p),
    }
}

fn format_of(path: &Path) -> Option<GroupFormat> {
    match path.extension()?.to_str()?.to_ascii_lowercase().as_str() {
        "json" => Some(GroupFormat::Json),
        "yml" | "yaml" => Some(GroupFormat::Yaml),
        _ => None,
    }
}

/// Matches `name` against a pattern with at most one `*` (any run of characters).
fn wildcard_match(pattern: &str, name: &str) -> bool {
    match pattern.split_once('*') {
        None => pattern == name,
        Some((pre, post)) => {
            name.len() >= pre.len() + post.len() && name.starts_with(pre) && name.ends_with(post)
        }
    }
}

fn source(path: &Path, i: usize) -> String {
    format!("{}:{i}", path.display())
}

fn read_file(path: &Path) -> Result<Vec<TargetGroup>, DiscoveryError> {
    let body = std::fs::read(path).map_err(|source| DiscoveryError::Io {
        path: path.display().to_string(),
        source,
    })?;
    let format = format_of(path)
        .ok_or_else(|| DiscoveryError::Parse(format!("unknown extension of {}", path.display())))?;
    let mut groups = parse_static_groups(&body, format)?;
    let file = path.display().to_string();
    for (i, g) in groups.iter_mut().enumerate() {
        g.source = source(path, i);
        g.labels.insert(FILEPATH_LABEL.to_string(), file.clone());
    }
    Ok(groups)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // in tests a failed unwrap is a failed test
mod tests {
    use super::*;

    #[test]
    fn wildcard_and_pattern_split() {
        assert!(wildcard_match("tg_*.json", "tg_a.json"));
        assert!(wildcard_match("tg_*.json", "tg_.json"));
        assert!(!wildcard_match("tg_*.json", "tg.json"));
        assert!(!wildcard_match("tg_*.json", "xtg_a.json"));
        assert_eq!(split_pattern("/etc/sd/tg_*.json"), ("/etc/sd", "tg_*.json"));
        assert_eq!(split_pattern("tg.yml"), ("", "tg.yml"));
        assert_eq!(split_pattern("/tg.yml"), ("/", "tg.yml"));
    }
}
