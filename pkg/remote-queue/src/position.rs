//! A reader's place in the WAL, and its file `<dir>/endpoints/<name>/position`.
//!
//! The file is one line, `v1 <segment> <offset>\n`, written atomically: a temporary file,
//! fsync, rename over the old one, fsync of the directory. A missing file means "never
//! sent"; an unreadable one is logged and treated the same way.

use std::fmt;
use std::io::Write;
use std::path::Path;

use crate::error::QueueError;

/// A place in the WAL: the end of a record (`offset` bytes into `segment`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Position {
    /// The segment number.
    pub segment: u32,
    /// Bytes into the segment.
    pub offset: u64,
}

impl fmt::Display for Position {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:08}:{}", self.segment, self.offset)
    }
}

const FILE: &str = "position";

/// Reads the position stored in `dir`, `None` when there is none (or it is unreadable).
pub fn load(dir: &Path) -> Option<Position> {
    let path = dir.join(FILE);
    let text = match std::fs::read_to_string(&path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return None,
        Err(e) => {
            tracing::error!(path = %path.display(), err = %e, "remote queue: cannot read position; starting from the head");
            return None;
        }
    };
    let mut it = text.split_whitespace();
    let parsed = match (it.next(), it.next(), it.next()) {
        (Some("v1"), Some(s), Some(o)) => s.parse().ok().zip(o.parse().ok()),
        _ => None,
    };
    match parsed {
        Some((segment, offset)) => Some(Position { segment, offset }),
        None => {
            tracing::error!(path = %path.display(), "remote queue: malformed position file; starting from the head");
            None
        }
    }
}

/// Stores `pos` in `dir` atomically (tmp + fsync + rename + directory fsync). Blocking.
pub fn store(dir: &Path, pos: Position) -> Result<(), QueueError> {
    std::fs::create_dir_all(dir)
        .map_err(|e| QueueError::io("create endpoint directory", dir, e))?;
    let tmp = dir.join(format!("{FILE}.tmp"));
    let fin = dir.join(FILE);
    let mut f =
        std::fs::File::create(&tmp).map_err(|e| QueueError::io("create position", &tmp, e))?;
    f.write_all(format!("v1 {} {}\n", pos.segment, pos.offset).as_bytes())
        .and_then(|_| f.sync_all())
        .map_err(|e| QueueError::io("write position", &tmp, e))?;
    drop(f);
    std::fs::rename(&tmp, &fin).map_err(|e| QueueError::io("rename position", &fin, e))?;
    std::fs::File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(|e| QueueError::io("fsync endpoint directory", dir, e))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn position_round_trips_and_orders() {
        let d = tempfile::tempdir().expect("tempdir");
        assert_eq!(load(d.path()), None);
        let p = Position {
            segment: 3,
            offset: 70_000,
        };
        store(d.path(), p).expect("store");
        assert_eq!(load(d.path()), Some(p));
        std::fs::write(d.path().join(FILE), "garbage").expect("write");
        assert_eq!(load(d.path()), None);
        assert!(
            Position {
                segment: 2,
                offset: 99
            } < p
        );
    }
}
