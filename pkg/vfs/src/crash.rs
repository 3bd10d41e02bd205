//! [`CrashFs`]: a power-loss simulator over the real files under one root directory.
//!
//! Model (what a journaling file system promises after `fsync`, and nothing more):
//! - a file's durable content is what it held at its last `fsync` (`sync_data` or
//!   `sync_all`) through this layer; later writes, truncations and extensions are lost;
//! - a directory's durable entries are what it held at its last directory fsync
//!   ([`Fs::sync_dir`]); a file created, renamed or removed since then goes back to how the
//!   entries were (a new file vanishes, a renamed one returns to its old name, a removed one
//!   returns with its durable content);
//! - everything present when the [`CrashFs`] was made counts as durable.
//!
//! Identity: a file or directory is known by its inode while it lives, so renames need no
//! bookkeeping; a directory fsync reads the real directory and records which inode each
//! name holds. Removed inodes are forgotten (the kernel may reuse their numbers), but their
//! durable content stays wherever a durable entry still names it.
//!
//! Crashing: [`CrashFs::crash`] (or a trigger: after N operations, at a named failpoint)
//! first freezes the layer — every later operation through it fails, as a dead process does
//! nothing more — then rewinds the real files to the durable state. A frozen-but-not-rewound
//! layer lets a test stop its threads first and rewind afterwards. With
//! [`CrashOptions::torn_writes_seed`] the rewind keeps a seeded random prefix of what was
//! appended to each surviving file since its last fsync (a torn write), instead of nothing. Real fsyncs are skipped:
//! durability is simulated, and tests stay fast.

use std::collections::{BTreeMap, HashMap};
use std::ffi::OsString;
use std::fmt;
use std::fs::{File, OpenOptions};
use std::io::{self, Seek, SeekFrom, Write};
use std::os::unix::fs::{FileExt, MetadataExt};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use crate::{Fs, FsFile};

type NodeId = u64;
/// (device, inode) of a live file or directory.
type Key = (u64, u64);

fn key(md: &std::fs::Metadata) -> Key {
    (md.dev(), md.ino())
}

/// What a simulated crash keeps of a file or directory.
#[derive(Debug)]
enum Node {
    File {
        durable: Vec<u8>,
        /// The lowest offset changed since the last fsync.
        dirty_from: Option<u64>,
    },
    Dir {
        durable: BTreeMap<OsString, NodeId>,
    },
}

/// When [`CrashFs`] crashes by itself, and deliberate durability bugs for tests that must
/// show a check can fail.
#[derive(Clone, Debug, Default)]
pub struct CrashOptions {
    /// Freeze (crash) just before the N-th mutating operation (1-based): writes,
    /// truncations, fsyncs, creations, renames, removals each count one.
    pub crash_after_ops: Option<u64>,
    /// Freeze when this failpoint is reached (see [`crate::failpoint`]).
    pub crash_at_failpoint: Option<String>,
    /// Bug injection: file fsyncs report success but make nothing durable.
    pub skip_file_fsync: bool,
    /// Bug injection: directory fsyncs report success but make nothing durable.
    pub skip_dir_fsync: bool,
    /// Torn writes: at the crash, keep a random prefix (seeded by this) of what was appended
    /// to each surviving file since its last fsync, as a disk that had written part of the
    /// page cache when the power went out. `None` drops every unsynced byte.
    pub torn_writes_seed: Option<u64>,
}

/// What a crash left.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CrashReport {
    /// Why the layer crashed: `manual`, `after N operations` or `failpoint <name>`.
    pub cause: String,
    /// Mutating operations done before the crash.
    pub ops: u64,
    /// Files left after the rewind.
    pub files: usize,
    /// Directories left after the rewind (the root not counted).
    pub dirs: usize,
    /// Bytes in the files left.
    pub bytes: u64,
    /// Bytes the rewind threw away (on disk before, not durable).
    pub bytes_dropped: u64,
    /// Unsynced bytes kept as torn writes (see [`CrashOptions::torn_writes_seed`]).
    pub torn_bytes_kept: u64,
}

#[derive(Debug)]
struct State {
    nodes: HashMap<NodeId, Node>,
    live: HashMap<Key, NodeId>,
    next: NodeId,
    root_node: NodeId,
    ops: u64,
    frozen: Option<String>,
    rewound: bool,
    opts: CrashOptions,
}

fn crashed() -> io::Error {
    io::Error::other("simulated power loss: the file layer has crashed")
}

impl State {
    fn add(&mut self, k: Key, node: Node) -> NodeId {
        let id = self.next;
        self.next += 1;
        self.nodes.insert(id, node);
        self.live.insert(k, id);
        id
    }

    fn alive(&self) -> io::Result<()> {
        match self.frozen {
            Some(_) => Err(crashed()),
            None => Ok(()),
        }
    }

    /// Counts one mutating operation; fails if the layer has crashed or crashes now.
    fn op(&mut self) -> io::Result<()> {
        self.alive()?;
        self.ops += 1;
        if let Some(n) = self.opts.crash_after_ops {
            if self.ops >= n {
                self.frozen = Some(format!("after {n} operations"));
                return Err(crashed());
            }
        }
        Ok(())
    }

    /// Records the tree at `path` as durable (a [`CrashFs`] starts from what is on disk).
    fn scan(&mut self, path: &Path, depth: usize) -> io::Result<NodeId> {
        let md = std::fs::symlink_metadata(path)?;
        if md.is_dir() {
            if depth > 64 {
                return Err(io::Error::other(format!(
                    "crashfs: directory tree too deep at {}",
                    path.display()
                )));
            }
            let mut durable = BTreeMap::new();
            for ent in std::fs::read_dir(path)? {
                let ent = ent?;
                durable.insert(ent.file_name(), self.scan(&ent.path(), depth + 1)?);
            }
            Ok(self.add(key(&md), Node::Dir { durable }))
        } else if md.is_file() {
            let durable = std::fs::read(path)?;
            Ok(self.add(
                key(&md),
                Node::File {
                    durable,
                    dirty_from: None,
                },
            ))
        } else {
            Err(io::Error::new(
                io::ErrorKind::Unsupported,
                format!("crashfs: {} is neither file nor directory", path.display()),
            ))
        }
    }

    /// The node of a live path, adopted (as never made durable) when it was made outside
    /// this layer.
    fn node_of(&mut self, md: &std::fs::Metadata) -> NodeId {
        let k = key(md);
        let is_dir = md.is_dir();
        match self.live.get(&k) {
            Some(&id) if matches!(self.nodes.get(&id), Some(Node::Dir { .. })) == is_dir => id,
            _ if is_dir => self.add(
                k,
                Node::Dir {
                    durable: BTreeMap::new(),
                },
            ),
            _ => self.add(
                k,
                Node::File {
                    durable: Vec::new(),
                    dirty_from: Some(0),
                },
            ),
        }
    }

    /// Forgets the inodes of the tree at `path` (about to be removed or replaced).
    fn unbind_tree(&mut self, path: &Path) {
        let Ok(md) = std::fs::symlink_metadata(path) else {
            return;
        };
        self.live.remove(&key(&md));
        if md.is_dir() {
            if let Ok(rd) = std::fs::read_dir(path) {
                for ent in rd.flatten() {
                    self.unbind_tree(&ent.path());
                }
            }
        }
    }

    fn mark_dirty(&mut self, node: NodeId, from: u64) {
        if let Some(Node::File { dirty_from, .. }) = self.nodes.get_mut(&node) {
            *dirty_from = Some(dirty_from.map_or(from, |d| d.min(from)));
        }
    }

    /// The current content of every live file under `dir`, by node.
    fn current_files(&self, dir: &Path, out: &mut HashMap<NodeId, Vec<u8>>) -> io::Result<()> {
        for ent in std::fs::read_dir(dir)? {
            let ent = ent?;
            let md = std::fs::symlink_metadata(ent.path())?;
            if md.is_dir() {
                self.current_files(&ent.path(), out)?;
            } else if let Some(&id) = self.live.get(&key(&md)) {
                out.insert(id, std::fs::read(ent.path())?);
            }
        }
        Ok(())
    }

    /// Writes the durable tree under `dir` (which exists and is empty); with `torn`, a file
    /// whose current content extends its durable content keeps a random part of the rest.
    fn materialize(
        &self,
        node: NodeId,
        dir: &Path,
        report: &mut CrashReport,
        torn: &mut Option<(HashMap<NodeId, Vec<u8>>, u64)>,
        depth: usize,
    ) -> io::Result<()> {
        let Some(Node::Dir { durable }) = self.nodes.get(&node) else {
            return Ok(());
        };
        if depth > 64 {
            return Err(io::Error::other("crashfs: durable tree too deep"));
        }
        for (name, id) in durable {
            let p = dir.join(name);
            match self.nodes.get(id) {
                Some(Node::File { durable, .. }) => {
                    let mut content = durable.as_slice();
                    if let Some((current, rng)) = torn.as_mut() {
                        if let Some(cur) = current.get(id) {
                            if cur.len() > durable.len() && cur.starts_with(durable) {
                                // xorshift64: seeded, so a failing run can be repeated.
                                *rng ^= *rng << 13;
                                *rng ^= *rng >> 7;
                                *rng ^= *rng << 17;
                                let extra =
                                    (*rng % (cur.len() - durable.len() + 1) as u64) as usize;
                                content = &cur[..durable.len() + extra];
                                report.torn_bytes_kept += extra as u64;
                            }
                        }
                    }
                    std::fs::write(&p, content)?;
                    report.files += 1;
                    report.bytes += content.len() as u64;
                }
                Some(Node::Dir { .. }) => {
                    std::fs::create_dir(&p)?;
                    report.dirs += 1;
                    self.materialize(*id, &p, report, torn, depth + 1)?;
                }
                None => {}
            }
        }
        Ok(())
    }
}

struct Inner {
    root: PathBuf,
    state: Mutex<State>,
}

impl Inner {
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn check_path(&self, path: &Path) -> io::Result<()> {
        if path.starts_with(&self.root) {
            Ok(())
        } else {
            Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!(
                    "crashfs: {} is outside the simulated root {}",
                    path.display(),
                    self.root.display()
                ),
            ))
        }
    }
}

/// A file system that can lose power: see the module docs. Cloning shares the state.
#[derive(Clone)]
pub struct CrashFs(Arc<Inner>);

impl fmt::Debug for CrashFs {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let st = self.0.lock();
        f.debug_struct("CrashFs")
            .field("root", &self.0.root)
            .field("ops", &st.ops)
            .field("crashed", &st.frozen)
            .finish_non_exhaustive()
    }
}

impl CrashFs {
    /// A layer over the existing directory `root`; everything in it counts as durable.
    pub fn new(root: &Path) -> io::Result<Self> {
        Self::with_options(root, CrashOptions::default())
    }

    /// [`CrashFs::new`] with crash triggers or injected bugs.
    pub fn with_options(root: &Path, opts: CrashOptions) -> io::Result<Self> {
        let mut st = State {
            nodes: HashMap::new(),
            live: HashMap::new(),
            next: 0,
            root_node: 0,
            ops: 0,
            frozen: None,
            rewound: false,
            opts,
        };
        st.root_node = st.scan(root, 0)?;
        if !matches!(st.nodes.get(&st.root_node), Some(Node::Dir { .. })) {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("crashfs: root {} is not a directory", root.display()),
            ));
        }
        Ok(Self(Arc::new(Inner {
            root: root.to_path_buf(),
            state: Mutex::new(st),
        })))
    }

    /// The simulated root.
    pub fn root(&self) -> &Path {
        &self.0.root
    }

    /// Mutating operations so far.
    pub fn ops(&self) -> u64 {
        self.0.lock().ops
    }

    /// Whether the layer has crashed (frozen, whether rewound yet or not).
    pub fn is_crashed(&self) -> bool {
        self.0.lock().frozen.is_some()
    }

    /// Why the layer crashed, once it has.
    pub fn crash_cause(&self) -> Option<String> {
        self.0.lock().frozen.clone()
    }

    /// Stops every later operation (they fail), as the moment of a power loss; the files
    /// stay as they are until [`CrashFs::crash`] rewinds them.
    pub fn freeze(&self) {
        let mut st = self.0.lock();
        if st.frozen.is_none() {
            st.frozen = Some("manual".into());
        }
    }

    /// Loses power: freezes the layer (if a trigger has not already) and rewinds the real
    /// files under the root to their durable state. Only once per layer; make a new
    /// [`CrashFs`] over the root to go on.
    pub fn crash(&self) -> io::Result<CrashReport> {
        let mut st = self.0.lock();
        if st.frozen.is_none() {
            st.frozen = Some("manual".into());
        }
        if st.rewound {
            return Err(io::Error::other("crashfs: already crashed and rewound"));
        }
        st.rewound = true;
        let before = tree_bytes(&self.0.root);
        let mut torn = match st.opts.torn_writes_seed {
            Some(seed) => {
                let mut current = HashMap::new();
                st.current_files(&self.0.root, &mut current)?;
                Some((current, seed | 1))
            }
            None => None,
        };
        for ent in std::fs::read_dir(&self.0.root)? {
            let ent = ent?;
            if ent.file_type()?.is_dir() {
                std::fs::remove_dir_all(ent.path())?;
            } else {
                std::fs::remove_file(ent.path())?;
            }
        }
        let mut report = CrashReport {
            cause: st.frozen.clone().unwrap_or_default(),
            ops: st.ops,
            ..Default::default()
        };
        st.materialize(st.root_node, &self.0.root, &mut report, &mut torn, 0)?;
        report.bytes_dropped = before.saturating_sub(report.bytes);
        Ok(report)
    }
}

/// Total bytes of the files under `dir` (best effort).
fn tree_bytes(dir: &Path) -> u64 {
    let Ok(rd) = std::fs::read_dir(dir) else {
        return 0;
    };
    rd.flatten()
        .map(|e| match e.file_type() {
            Ok(t) if t.is_dir() => tree_bytes(&e.path()),
            Ok(_) => e.metadata().map(|m| m.len()).unwrap_or(0),
            Err(_) => 0,
        })
        .sum()
}

impl Fs for CrashFs {
    fn create(&self, path: &Path) -> io::Result<Box<dyn FsFile>> {
        self.0.check_path(path)?;
        let mut st = self.0.lock();
        st.op()?;
        let existed = std::fs::symlink_metadata(path)
            .ok()
            .filter(|m| m.is_file())
            .map(|m| key(&m));
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(true)
            .open(path)?;
        let k = key(&file.metadata()?);
        let node = match (existed, st.live.get(&k)) {
            // O_TRUNC keeps the inode: its durable content stays until the next fsync.
            (Some(e), Some(&id)) if e == k => id,
            _ => st.add(
                k,
                Node::File {
                    durable: Vec::new(),
                    dirty_from: None,
                },
            ),
        };
        st.mark_dirty(node, 0);
        Ok(Box::new(CrashFile {
            fs: Arc::clone(&self.0),
            node,
            file,
            pos: 0,
        }))
    }

    fn open_write(&self, path: &Path) -> io::Result<Box<dyn FsFile>> {
        self.0.check_path(path)?;
        let mut st = self.0.lock();
        st.alive()?;
        let file = OpenOptions::new().read(true).write(true).open(path)?;
        let node = st.node_of(&file.metadata()?);
        Ok(Box::new(CrashFile {
            fs: Arc::clone(&self.0),
            node,
            file,
            pos: 0,
        }))
    }

    fn create_dir(&self, path: &Path) -> io::Result<()> {
        self.0.check_path(path)?;
        let mut st = self.0.lock();
        st.op()?;
        std::fs::create_dir(path)?;
        let md = std::fs::symlink_metadata(path)?;
        st.add(
            key(&md),
            Node::Dir {
                durable: BTreeMap::new(),
            },
        );
        Ok(())
    }

    fn create_dir_all(&self, path: &Path) -> io::Result<()> {
        self.0.check_path(path)?;
        let mut st = self.0.lock();
        st.op()?;
        let mut missing = Vec::new();
        let mut p = path;
        while !p.exists() {
            missing.push(p.to_path_buf());
            match p.parent() {
                Some(parent) => p = parent,
                None => break,
            }
        }
        for m in missing.into_iter().rev() {
            std::fs::create_dir(&m)?;
            let md = std::fs::symlink_metadata(&m)?;
            st.add(
                key(&md),
                Node::Dir {
                    durable: BTreeMap::new(),
                },
            );
        }
        Ok(())
    }

    fn rename(&self, from: &Path, to: &Path) -> io::Result<()> {
        self.0.check_path(from)?;
        self.0.check_path(to)?;
        let mut st = self.0.lock();
        st.op()?;
        std::fs::symlink_metadata(from)?;
        st.unbind_tree(to);
        std::fs::rename(from, to)
    }

    fn remove_file(&self, path: &Path) -> io::Result<()> {
        self.0.check_path(path)?;
        let mut st = self.0.lock();
        st.op()?;
        let md = std::fs::symlink_metadata(path)?;
        std::fs::remove_file(path)?;
        st.live.remove(&key(&md));
        Ok(())
    }

    fn remove_dir_all(&self, path: &Path) -> io::Result<()> {
        self.0.check_path(path)?;
        let mut st = self.0.lock();
        st.op()?;
        std::fs::symlink_metadata(path)?;
        st.unbind_tree(path);
        std::fs::remove_dir_all(path)
    }

    fn sync_dir(&self, path: &Path) -> io::Result<()> {
        self.0.check_path(path)?;
        let mut st = self.0.lock();
        st.op()?;
        let md = std::fs::metadata(path)?;
        let id = st.node_of(&md);
        if st.opts.skip_dir_fsync {
            return Ok(());
        }
        let mut entries = BTreeMap::new();
        for ent in std::fs::read_dir(path)? {
            let ent = ent?;
            let md = std::fs::symlink_metadata(ent.path())?;
            entries.insert(ent.file_name(), st.node_of(&md));
        }
        if let Some(Node::Dir { durable }) = st.nodes.get_mut(&id) {
            *durable = entries;
        }
        Ok(())
    }

    fn failpoint(&self, name: &str) -> io::Result<()> {
        let mut st = self.0.lock();
        st.alive()?;
        if st.opts.crash_at_failpoint.as_deref() == Some(name) {
            st.frozen = Some(format!("failpoint {name}"));
            return Err(crashed());
        }
        Ok(())
    }
}

/// A file of [`CrashFs`]: writes go to the real file and mark it dirty; an fsync copies
/// what changed into the durable content.
struct CrashFile {
    fs: Arc<Inner>,
    node: NodeId,
    file: File,
    /// The file position (the layer's own writes are the only ones that move it).
    pos: u64,
}

impl fmt::Debug for CrashFile {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CrashFile")
            .field("node", &self.node)
            .field("pos", &self.pos)
            .finish_non_exhaustive()
    }
}

impl CrashFile {
    fn sync(&mut self) -> io::Result<()> {
        let mut st = self.fs.lock();
        st.op()?;
        if st.opts.skip_file_fsync {
            return Ok(());
        }
        let len = self.file.metadata()?.len();
        let Some(Node::File {
            durable,
            dirty_from,
        }) = st.nodes.get_mut(&self.node)
        else {
            return Ok(());
        };
        let Some(from) = dirty_from.take() else {
            return Ok(());
        };
        let from = from.min(len);
        let mut tail = vec![0u8; (len - from) as usize];
        self.file.read_exact_at(&mut tail, from)?;
        durable.resize(from as usize, 0);
        durable.extend_from_slice(&tail);
        Ok(())
    }
}

impl Write for CrashFile {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let mut st = self.fs.lock();
        st.op()?;
        let n = self.file.write(buf)?;
        st.mark_dirty(self.node, self.pos);
        self.pos += n as u64;
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl Seek for CrashFile {
    fn seek(&mut self, pos: SeekFrom) -> io::Result<u64> {
        self.fs.lock().alive()?;
        self.pos = self.file.seek(pos)?;
        Ok(self.pos)
    }
}

impl FsFile for CrashFile {
    fn sync_data(&mut self) -> io::Result<()> {
        self.sync()
    }

    fn sync_all(&mut self) -> io::Result<()> {
        self.sync()
    }

    fn set_len(&mut self, len: u64) -> io::Result<()> {
        let mut st = self.fs.lock();
        st.op()?;
        let old = self.file.metadata()?.len();
        self.file.set_len(len)?;
        st.mark_dirty(self.node, old.min(len));
        Ok(())
    }
}
