//! Named failpoints: places in Strata's write protocols where a test may make the process
//! die, to check that recovery copes with a crash at exactly that step.
//!
//! The `strata` binary arms one with the test-only flag `-debug.failpoint=<name>`
//! ([`arm`]); when a writer reaches it through [`OsFs`](crate::OsFs), the process logs the
//! name and aborts (no destructors, no flushes — as `kill -9`). Unarmed, a check is one
//! atomic load. [`CrashFs`](crate::CrashFs) can instead simulate a power loss at a named
//! point ([`crate::CrashOptions::crash_at_failpoint`]).

use std::sync::OnceLock;

/// The block's chunk segments are written and fsynced; index and meta.json are not.
pub const BLOCK_AFTER_CHUNKS: &str = "block-after-chunks";
/// The block's index is written and fsynced; tombstones and meta.json are not.
pub const BLOCK_AFTER_INDEX: &str = "block-after-index";
/// Every file of the block and its temporary directory are fsynced; it is not yet renamed.
pub const BLOCK_BEFORE_RENAME: &str = "block-before-rename";
/// The block is renamed into place; its parent directory is not yet fsynced.
pub const BLOCK_BEFORE_DIR_FSYNC: &str = "block-before-dir-fsync";
/// A WAL checkpoint is written and renamed into place (the WAL directory fsynced); the
/// segments it covers and older checkpoints are not yet deleted.
pub const WAL_CHECKPOINT_MIDDLE: &str = "wal-checkpoint-middle";

/// Every failpoint, in protocol order.
pub const ALL: &[&str] = &[
    BLOCK_AFTER_CHUNKS,
    BLOCK_AFTER_INDEX,
    BLOCK_BEFORE_RENAME,
    BLOCK_BEFORE_DIR_FSYNC,
    WAL_CHECKPOINT_MIDDLE,
];

static ARMED: OnceLock<&'static str> = OnceLock::new();

/// Arms failpoint `name` for the rest of the process: reaching it through
/// [`OsFs`](crate::OsFs) aborts. Fails for a name not in [`ALL`] or when another one is
/// already armed.
pub fn arm(name: &str) -> Result<(), String> {
    let Some(&known) = ALL.iter().find(|&&n| n == name) else {
        return Err(format!(
            "unknown failpoint {name:?} (known: {})",
            ALL.join(", ")
        ));
    };
    ARMED
        .set(known)
        .map_err(|already| format!("failpoint {already:?} is already armed; only one per process"))
}

/// The armed failpoint, if any.
pub fn armed() -> Option<&'static str> {
    ARMED.get().copied()
}

/// Aborts the process if `name` is the armed failpoint.
#[inline]
pub fn check(name: &str) {
    if let Some(&armed) = ARMED.get() {
        if armed == name {
            tracing::error!(
                failpoint = name,
                "failpoint reached: aborting the process (test-only -debug.failpoint)"
            );
            eprintln!("strata: failpoint {name} reached, aborting");
            std::process::abort();
        }
    }
}
