//! Token generation that keeps ownership even (not random).
//!
//! Random tokens leave some instances owning twice the share of others. Like Mimir's
//! spread-minimizing generator, [`spread_tokens`] places a new instance's tokens by looking at
//! the ring it joins:
//!
//! - the first instance of a zone gets `count` evenly spaced tokens;
//! - a later instance should end up owning `1/(n+1)` of its zone, so each of its tokens should
//!   take `2^32 / ((n+1)·count)` of the circle. Token by token, it takes that slice from the
//!   largest range of the instance that currently owns the most, placing the new token at the
//!   start of that range (the range `(prev, prev+slice]` becomes the new instance's).
//!
//! Only the instances of the same zone are considered: with zone-aware replication each zone
//! holds one replica of every key, so evenness matters per zone. Tokens stay unique across the
//! whole ring (a collision moves the token by one). The result depends only on the ring's
//! contents, so every process computes the same tokens for the same ring.

use std::collections::{BTreeMap, HashSet};

use crate::instance::{InstanceId, RingDesc, Token};

const RING_SIZE: u64 = 1 << 32;

/// Generates `count` tokens for a new instance joining `zone` of `desc`, sorted ascending.
///
/// The instance itself must not be in `desc` yet (a restarting instance reuses its persisted
/// tokens instead). `count == 0` gives no tokens.
pub fn spread_tokens(desc: &RingDesc, zone: &str, count: usize) -> Vec<Token> {
    if count == 0 {
        return Vec::new();
    }
    let mut taken: HashSet<Token> = desc
        .instances
        .values()
        .flat_map(|i| i.tokens.iter().copied())
        .collect();
    let zone_instances: Vec<&InstanceId> = desc
        .instances
        .values()
        .filter(|i| i.zone == zone && !i.tokens.is_empty())
        .map(|i| &i.id)
        .collect();
    let mut out = if zone_instances.is_empty() {
        evenly_spaced(zone, count, &mut taken)
    } else {
        split_largest(desc, zone, &zone_instances, count, &mut taken)
    };
    out.sort_unstable();
    out
}

/// `count` tokens spaced `2^32/count` apart, offset by a hash of the zone so that the first
/// instances of different zones interleave rather than collide. The FNV hash is mixed first:
/// its low bits barely differ between names such as `zone-a` and `zone-b`, which put the
/// zones' first instances a few hundred positions apart (one owning almost the whole ring).
fn evenly_spaced(zone: &str, count: usize, taken: &mut HashSet<Token>) -> Vec<Token> {
    let spacing = (RING_SIZE / count as u64).max(1);
    let mixed = crate::hash::SplitMix64::new(crate::hash::fnv1a64(zone.as_bytes())).next_u64();
    let offset = mixed % spacing;
    (0..count as u64)
        .map(|i| claim((offset + i * spacing) % RING_SIZE, taken))
        .collect()
}

/// Places each token in the largest range of the currently largest owner of the zone.
fn split_largest(
    desc: &RingDesc,
    zone: &str,
    owners: &[&InstanceId],
    count: usize,
    taken: &mut HashSet<Token>,
) -> Vec<Token> {
    // Owner index `owners.len()` is the new instance.
    let new_owner = owners.len();
    let index: BTreeMap<&InstanceId, usize> =
        owners.iter().enumerate().map(|(i, id)| (*id, i)).collect();
    let mut ring: Vec<(u64, usize)> = desc
        .instances
        .values()
        .filter(|i| i.zone == zone)
        .flat_map(|i| {
            let owner = index.get(&i.id).copied().unwrap_or(new_owner);
            i.tokens.iter().map(move |t| (u64::from(*t), owner))
        })
        .collect();
    ring.sort_unstable();
    let mut owned = vec![0u64; owners.len() + 1];
    for (j, (token, owner)) in ring.iter().enumerate() {
        owned[*owner] += range_len(&ring, j, *token);
    }
    let slice = RING_SIZE / ((owners.len() as u64 + 1) * count as u64);
    let mut out = Vec::with_capacity(count);
    for _ in 0..count {
        // The existing owner with the most; ties go to the lowest index (deterministic).
        let Some(victim) = (0..owners.len()).max_by_key(|o| (owned[*o], std::cmp::Reverse(*o)))
        else {
            break;
        };
        let Some((pos, len)) = ring
            .iter()
            .enumerate()
            .filter(|(_, (_, owner))| *owner == victim)
            .map(|(j, (token, _))| (j, range_len(&ring, j, *token)))
            .max_by_key(|(j, len)| (*len, std::cmp::Reverse(*j)))
        else {
            break;
        };
        if len < 2 {
            break;
        }
        // Take the slice, but always leave the victim a quarter of its range.
        let take = slice.min(len - len / 4).max(1);
        let prev = ring[(pos + ring.len() - 1) % ring.len()].0;
        let token = claim((prev + take) % RING_SIZE, taken);
        let at = ring.partition_point(|(t, _)| *t < u64::from(token));
        ring.insert(at, (u64::from(token), new_owner));
        owned[victim] = owned[victim].saturating_sub(take);
        owned[new_owner] += take;
        out.push(token);
    }
    out
}

/// The length of the range `(previous token, token]` ending at position `j`.
fn range_len(ring: &[(u64, usize)], j: usize, token: u64) -> u64 {
    if ring.len() == 1 {
        return RING_SIZE;
    }
    let prev = ring[(j + ring.len() - 1) % ring.len()].0;
    (token + RING_SIZE - prev) % RING_SIZE
}

/// Returns `want` (mod 2^32), or the next free token after it, and marks it taken.
fn claim(want: u64, taken: &mut HashSet<Token>) -> Token {
    let mut t = (want % RING_SIZE) as Token;
    while !taken.insert(t) {
        t = t.wrapping_add(1);
    }
    t
}
