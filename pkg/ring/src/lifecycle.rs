//! An instance's side of the ring: what it should propose, as a pure decision core.
//!
//! A [`Lifecycler`] holds what the instance wants to be (address, zone, state, read-only)
//! and the tokens it persisted; [`Lifecycler::step`] compares that with the committed ring
//! and returns [`Action`]s: proposals to make and tokens to persist. A thin driver (the
//! ingester) calls `step` on every ring change and every few seconds, carries the actions
//! out, and sends heartbeats. Every proposed command is idempotent, so a repeated or
//! duplicated step does no harm.
//!
//! ```text
//!  start ─► Join(persisted tokens or none) ─► ring has it ─► PersistTokens(tokens)
//!  ready ─► set_state(Active) ─► UpdateState(Active)
//!  shutdown ─► set_state(Leaving) ─► UpdateState(Leaving) ─► WAL checkpoint ─► exit
//! ```
//!
//! The instance id and tokens live in [`InstanceFile`] (`ring-instance.json`, replaced
//! atomically), so a restart re-registers with the same tokens and no series move.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::command::Command;
use crate::error::RingError;
use crate::instance::{InstanceDesc, InstanceId, InstanceState, RingDesc, Token};
use crate::raft::fsutil::{atomic_write, read_optional};

/// What an instance keeps on disk to rejoin with the same identity and tokens.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PersistedInstance {
    /// The instance id.
    pub id: InstanceId,
    /// The zone the tokens were generated for.
    pub zone: String,
    /// The tokens, sorted.
    pub tokens: Vec<Token>,
}

/// The file holding a [`PersistedInstance`].
#[derive(Clone, Debug)]
pub struct InstanceFile {
    path: PathBuf,
}

impl InstanceFile {
    /// The file `ring-instance.json` in `dir`.
    pub fn in_dir(dir: &Path) -> Self {
        Self {
            path: dir.join("ring-instance.json"),
        }
    }

    /// Reads the persisted instance, if the file exists. Blocking.
    pub fn load(&self) -> Result<Option<PersistedInstance>, RingError> {
        match read_optional(&self.path)? {
            None => Ok(None),
            Some(b) => serde_json::from_slice(&b)
                .map(Some)
                .map_err(|e| RingError::Corrupt {
                    path: self.path.clone(),
                    detail: e.to_string(),
                }),
        }
    }

    /// Replaces the file atomically. Blocking.
    pub fn save(&self, inst: &PersistedInstance) -> Result<(), RingError> {
        let bytes = serde_json::to_vec(inst).map_err(|source| RingError::Codec {
            what: "encode ring instance file",
            source,
        })?;
        atomic_write(&self.path, &bytes)
    }
}

/// Something the driver must do.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Action {
    /// Propose this command (through the leader).
    Propose(Command),
    /// Persist these tokens (the ring assigned or confirmed them).
    PersistTokens(PersistedInstance),
}

/// The instance's wishes and persisted tokens.
#[derive(Clone, Debug)]
pub struct Lifecycler {
    id: InstanceId,
    addr: String,
    zone: String,
    token_count: usize,
    state: InstanceState,
    read_only: bool,
    registered_at_ms: i64,
    tokens: Vec<Token>,
}

impl Lifecycler {
    /// A lifecycler for `id` at `addr` in `zone`, wanting `token_count` tokens, starting
    /// JOINING. `persisted` tokens are reused when they were made for the same zone.
    pub fn new(
        id: InstanceId,
        addr: impl Into<String>,
        zone: impl Into<String>,
        token_count: usize,
        persisted: Option<PersistedInstance>,
        now_ms: i64,
    ) -> Self {
        let zone = zone.into();
        let tokens = persisted
            .filter(|p| p.id == id && p.zone == zone)
            .map(|p| p.tokens)
            .unwrap_or_default();
        Self {
            id,
            addr: addr.into(),
            zone,
            token_count,
            state: InstanceState::Joining,
            read_only: false,
            registered_at_ms: now_ms,
            tokens,
        }
    }

    /// The instance id.
    pub fn id(&self) -> &InstanceId {
        &self.id
    }

    /// Sets the wanted state (ACTIVE when ready, LEAVING on shutdown).
    pub fn set_state(&mut self, state: InstanceState) {
        self.state = state;
    }

    /// Sets the wanted read-only flag.
    pub fn set_read_only(&mut self, read_only: bool) {
        self.read_only = read_only;
    }

    /// Drops the persisted tokens after the ring rejected them (they clash with another
    /// instance's); the next join gets fresh spread tokens.
    pub fn drop_tokens(&mut self) {
        self.tokens.clear();
    }

    /// Compares the wishes with the committed `ring` and says what to do.
    pub fn step(&mut self, ring: &RingDesc) -> Vec<Action> {
        let Some(current) = ring.instances.get(&self.id) else {
            return vec![Action::Propose(self.join())];
        };
        let mut out = Vec::new();
        if current.tokens != self.tokens && !current.tokens.is_empty() {
            self.tokens = current.tokens.clone();
            out.push(Action::PersistTokens(PersistedInstance {
                id: self.id.clone(),
                zone: self.zone.clone(),
                tokens: self.tokens.clone(),
            }));
        }
        if current.addr != self.addr || current.zone != self.zone {
            if current.zone != self.zone {
                // Tokens are spread per zone: a zone change needs new ones.
                self.tokens.clear();
                out.retain(|a| !matches!(a, Action::PersistTokens(_)));
            }
            out.push(Action::Propose(self.join()));
        } else if current.state != self.state || current.read_only != self.read_only {
            out.push(Action::Propose(Command::UpdateState {
                id: self.id.clone(),
                state: self.state,
                read_only: Some(self.read_only),
            }));
        }
        out
    }

    fn join(&self) -> Command {
        Command::Join {
            instance: InstanceDesc {
                id: self.id.clone(),
                addr: self.addr.clone(),
                zone: self.zone.clone(),
                state: self.state,
                tokens: self.tokens.clone(),
                registered_at_ms: self.registered_at_ms,
                read_only: self.read_only,
            },
            token_count: self.token_count,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::command::{apply, CommandResponse};

    /// Applies every proposal of `actions` to `ring`; returns the persisted tokens, if any.
    fn carry_out(ring: &mut RingDesc, actions: &[Action]) -> Option<PersistedInstance> {
        let mut persisted = None;
        for a in actions {
            match a {
                Action::Propose(cmd) => {
                    let resp = apply(ring, cmd);
                    assert!(!matches!(resp, CommandResponse::Rejected(_)), "{resp:?}");
                }
                Action::PersistTokens(p) => persisted = Some(p.clone()),
            }
        }
        persisted
    }

    #[test]
    fn fresh_instance_joins_persists_tokens_and_becomes_active() {
        let mut ring = RingDesc::default();
        let mut lc = Lifecycler::new(InstanceId::new("ing-1"), "a:1", "z1", 32, None, 5);
        let actions = lc.step(&ring);
        assert!(matches!(
            &actions[..],
            [Action::Propose(Command::Join { .. })]
        ));
        assert_eq!(carry_out(&mut ring, &actions), None);

        let actions = lc.step(&ring);
        let persisted = carry_out(&mut ring, &actions).expect("tokens persisted");
        assert_eq!(persisted.tokens.len(), 32);
        assert!(lc.step(&ring).is_empty(), "steady state proposes nothing");

        lc.set_state(InstanceState::Active);
        let actions = lc.step(&ring);
        assert!(matches!(
            &actions[..],
            [Action::Propose(Command::UpdateState {
                state: InstanceState::Active,
                ..
            })]
        ));
        carry_out(&mut ring, &actions);
        assert!(lc.step(&ring).is_empty());
    }

    #[test]
    fn restart_rejoins_with_persisted_tokens_after_being_forgotten() {
        let mut ring = RingDesc::default();
        let mut first = Lifecycler::new(InstanceId::new("ing-1"), "a:1", "z1", 16, None, 5);
        let actions = first.step(&ring);
        carry_out(&mut ring, &actions);
        let actions = first.step(&ring);
        let persisted = carry_out(&mut ring, &actions).expect("persisted");
        apply(
            &mut ring,
            &Command::Forget {
                id: InstanceId::new("ing-1"),
            },
        );
        let mut again = Lifecycler::new(
            InstanceId::new("ing-1"),
            "a:2",
            "z1",
            16,
            Some(persisted.clone()),
            99,
        );
        let actions = again.step(&ring);
        match &actions[..] {
            [Action::Propose(Command::Join { instance, .. })] => {
                assert_eq!(instance.tokens, persisted.tokens)
            }
            other => panic!("unexpected {other:?}"),
        }
        carry_out(&mut ring, &actions);
        assert_eq!(
            ring.instances[&InstanceId::new("ing-1")].tokens,
            persisted.tokens
        );
    }

    #[test]
    fn instance_file_round_trips() {
        let dir = tempfile::tempdir().expect("tempdir");
        let file = InstanceFile::in_dir(dir.path());
        assert_eq!(file.load().expect("load"), None);
        let inst = PersistedInstance {
            id: InstanceId::new("ing-1"),
            zone: "z1".to_string(),
            tokens: vec![1, 5, 9],
        };
        file.save(&inst).expect("save");
        assert_eq!(file.load().expect("load"), Some(inst));
    }
}
