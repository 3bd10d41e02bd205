//! A child process owned by a test: its own temp dir, its output in a log file there, and a
//! SIGTERM-then-SIGKILL stop on drop.

use std::fs::File;
use std::io::{Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use anyhow::Context;

/// How long a stopped process gets between SIGTERM and SIGKILL.
pub const STOP_GRACE: Duration = Duration::from_secs(10);

/// How many bytes of the log are printed when a test fails.
const LOG_TAIL_BYTES: u64 = 8 * 1024;

/// A running child process. Dropping it stops the process (SIGTERM, then SIGKILL after
/// [`STOP_GRACE`]) and removes its directory, printing the log tail first if the thread is
/// panicking. Set `STRATA_TEST_KEEP=1` to keep the directories.
pub struct Process {
    name: String,
    child: Option<Child>,
    dir: Option<tempfile::TempDir>,
    log_path: PathBuf,
}

impl Process {
    /// Spawns `program` with `args` (which may use [`Process::dir`] paths prepared by
    /// `prepare`), with stdout and stderr appended to `<dir>/<name>.log`.
    ///
    /// `prepare` receives the fresh temp dir before the spawn, to write config files and
    /// return the arguments.
    pub fn spawn(
        name: &str,
        program: &Path,
        prepare: impl FnOnce(&Path) -> anyhow::Result<Vec<String>>,
    ) -> anyhow::Result<Self> {
        // Tests talk to what they spawn with reqwest, whose TLS needs a crypto provider.
        crate::install_tls();
        let dir = tempfile::Builder::new()
            .prefix(&format!("strata-e2e-{name}-"))
            .tempdir()
            .with_context(|| format!("create temp dir for {name}"))?;
        let args = prepare(dir.path()).with_context(|| format!("prepare {name}"))?;
        let log_path = dir.path().join(format!("{name}.log"));
        let log = File::create(&log_path)
            .with_context(|| format!("create log file {}", log_path.display()))?;
        let log_err = log.try_clone().context("clone log file handle")?;
        let child = Command::new(program)
            .args(&args)
            .current_dir(dir.path())
            .stdin(Stdio::null())
            .stdout(Stdio::from(log))
            .stderr(Stdio::from(log_err))
            .spawn()
            .with_context(|| format!("spawn {name}: {} {}", program.display(), args.join(" ")))?;
        eprintln!(
            "[harness] started {name} (pid {}) in {}: {} {}",
            child.id(),
            dir.path().display(),
            program.display(),
            args.join(" ")
        );
        Ok(Self {
            name: name.to_string(),
            child: Some(child),
            dir: Some(dir),
            log_path,
        })
    }

    /// The process's name in messages.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The process's own temporary directory.
    pub fn dir(&self) -> &Path {
        self.dir
            .as_ref()
            .map(|d| d.path())
            .expect("the dir lives as long as the process guard")
    }

    /// The OS process id, while running.
    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    /// Fails if the process has exited (it should be serving), with its log tail.
    pub fn check_running(&mut self) -> anyhow::Result<()> {
        let Some(child) = self.child.as_mut() else {
            anyhow::bail!("{} was already stopped", self.name);
        };
        match child.try_wait() {
            Ok(None) => Ok(()),
            Ok(Some(status)) => anyhow::bail!(
                "{} exited early with {status}; log tail:\n{}",
                self.name,
                self.log_tail()
            ),
            Err(e) => anyhow::bail!("{}: cannot poll process: {e}", self.name),
        }
    }

    /// The last few KiB of the process's output.
    pub fn log_tail(&self) -> String {
        read_tail(&self.log_path, LOG_TAIL_BYTES)
            .unwrap_or_else(|e| format!("<cannot read {}: {e}>", self.log_path.display()))
    }

    /// Sends SIGTERM and waits up to `grace` for the exit; SIGKILLs after that. Returns the
    /// exit status and whether the process stopped within the grace period.
    pub fn stop(&mut self, grace: Duration) -> anyhow::Result<(ExitStatus, bool)> {
        let Some(mut child) = self.child.take() else {
            anyhow::bail!("{} was already stopped", self.name);
        };
        if let Ok(Some(status)) = child.try_wait() {
            return Ok((status, true));
        }
        // `kill` is used rather than libc to keep the crate free of unsafe code.
        let sent = Command::new("kill")
            .args(["-TERM", &child.id().to_string()])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .map(|s| s.success())
            .unwrap_or(false);
        let deadline = Instant::now() + grace;
        while sent && Instant::now() < deadline {
            if let Some(status) = child.try_wait().context("poll stopping process")? {
                return Ok((status, true));
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        child.kill().ok();
        let status = child.wait().context("wait for killed process")?;
        Ok((status, false))
    }
}

/// Log tails of processes stopped without a panic, so a test that fails by returning an
/// error can still print them (see [`crate::e2e`]). Bounded: only the last few are kept.
static RECENT_LOGS: Mutex<Vec<String>> = Mutex::new(Vec::new());
const RECENT_LOGS_KEPT: usize = 8;

/// Takes the log tails of processes stopped since the last call.
pub fn take_recent_logs() -> Vec<String> {
    std::mem::take(&mut *RECENT_LOGS.lock().unwrap_or_else(|e| e.into_inner()))
}

impl Drop for Process {
    fn drop(&mut self) {
        let tail = format!(
            "[harness] ---- {} log tail ({}) ----\n{}\n[harness] ---- end of {} log ----",
            self.name,
            self.log_path.display(),
            self.log_tail(),
            self.name
        );
        if std::thread::panicking() {
            eprintln!("{tail}");
        } else {
            let mut recent = RECENT_LOGS.lock().unwrap_or_else(|e| e.into_inner());
            if recent.len() == RECENT_LOGS_KEPT {
                recent.remove(0);
            }
            recent.push(tail);
        }
        if self.child.is_some() {
            if let Err(e) = self.stop(STOP_GRACE) {
                eprintln!("[harness] stopping {}: {e:#}", self.name);
            }
        }
        if std::env::var_os("STRATA_TEST_KEEP").is_some() {
            if let Some(dir) = self.dir.take() {
                eprintln!("[harness] kept {}", dir.keep().display());
            }
        }
    }
}

fn read_tail(path: &Path, max: u64) -> std::io::Result<String> {
    let mut f = File::open(path)?;
    let len = f.metadata()?.len();
    f.seek(SeekFrom::Start(len.saturating_sub(max)))?;
    let mut buf = Vec::new();
    f.read_to_end(&mut buf)?;
    Ok(String::from_utf8_lossy(&buf).into_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn captures_output_and_stops_with_sigterm() {
        let mut p = Process::spawn("sh", Path::new("/bin/sh"), |_| {
            Ok(vec![
                "-c".into(),
                "echo hello-from-child; trap 'exit 7' TERM; while :; do sleep 0.05; done".into(),
            ])
        })
        .expect("spawn sh");
        crate::wait::wait_until_sync(Duration::from_secs(5), || {
            p.log_tail().contains("hello-from-child")
        })
        .expect("output reaches the log");
        p.check_running().expect("still running");
        let (status, graceful) = p.stop(Duration::from_secs(5)).expect("stop");
        assert!(graceful, "stopped by SIGTERM");
        assert_eq!(status.code(), Some(7));
    }

    #[test]
    fn reports_an_early_exit_with_the_log() {
        let mut p = Process::spawn("false", Path::new("/bin/sh"), |_| {
            Ok(vec!["-c".into(), "echo dying; exit 3".into()])
        })
        .expect("spawn sh");
        let err =
            crate::wait::wait_until_sync(Duration::from_secs(5), || p.check_running().is_err());
        assert!(err.is_ok());
        let msg = format!("{:#}", p.check_running().expect_err("exited"));
        assert!(msg.contains("dying"), "{msg}");
    }
}
