//! Applying relabel rules to a label set, action by action as Prometheus's `relabel.Process`.

use crate::{Action, RelabelBuilder, RelabelConfig};
use md5::{Digest, Md5};
use strata_model::Labels;

/// Applies `rules` in order to `labels`. Returns the new set, or `None` when a `keep`,
/// `drop`, `keepequal` or `dropequal` rule dropped it (later rules are then not run).
pub fn process(labels: &Labels, rules: &[RelabelConfig]) -> Option<Labels> {
    let mut b = RelabelBuilder::new(labels.clone());
    process_builder(&mut b, rules).then(|| b.labels())
}

/// As [`process`], on a builder the caller made (and may change further); returns whether
/// the set is kept.
pub fn process_builder(b: &mut RelabelBuilder, rules: &[RelabelConfig]) -> bool {
    rules.iter().all(|r| relabel(r, b))
}

/// Joins the values of `source_labels` (empty for absent labels) with `separator`.
fn source_value(cfg: &RelabelConfig, b: &RelabelBuilder) -> String {
    let mut val = String::new();
    for (i, name) in cfg.source_labels.iter().enumerate() {
        if i > 0 {
            val.push_str(&cfg.separator);
        }
        val.push_str(b.get(name));
    }
    val
}

fn relabel(cfg: &RelabelConfig, b: &mut RelabelBuilder) -> bool {
    let val = source_value(cfg, b);
    match cfg.action {
        Action::Drop => return !cfg.regex.is_match(&val),
        Action::Keep => return cfg.regex.is_match(&val),
        Action::DropEqual => return b.get(&cfg.target_label) != val,
        Action::KeepEqual => return b.get(&cfg.target_label) == val,
        Action::Replace => replace(cfg, b, &val),
        Action::Lowercase => b.set(&cfg.target_label, &go_lower(&val)),
        Action::Uppercase => b.set(&cfg.target_label, &go_upper(&val)),
        Action::HashMod => {
            let m = hashmod(&val, cfg.modulus);
            b.set(&cfg.target_label, &m.to_string());
        }
        Action::LabelMap => {
            for l in b.snapshot() {
                if let Some(caps) = cfg.regex.captures(&l.name) {
                    // The regex is anchored, so Go's ReplaceAllString replaces exactly
                    // this one whole-name match. The new name is not validated, as in
                    // Prometheus: the caller's label checks see it.
                    let mut name = String::new();
                    cfg.regex.expand(&cfg.replacement, &caps, &mut name);
                    b.set(&name, &l.value);
                }
            }
        }
        Action::LabelDrop => {
            for l in b.snapshot() {
                if cfg.regex.is_match(&l.name) {
                    b.del(&l.name);
                }
            }
        }
        Action::LabelKeep => {
            for l in b.snapshot() {
                if !cfg.regex.is_match(&l.name) {
                    b.del(&l.name);
                }
            }
        }
    }
    true
}

fn replace(cfg: &RelabelConfig, b: &mut RelabelBuilder, val: &str) {
    let Some(caps) = cfg.regex.captures(val) else {
        // No match: no replacement takes place.
        return;
    };
    let mut target = String::new();
    cfg.regex.expand(&cfg.target_label, &caps, &mut target);
    if !crate::is_valid_label_name(&target) {
        return;
    }
    let mut res = String::new();
    cfg.regex.expand(&cfg.replacement, &caps, &mut res);
    if res.is_empty() {
        b.del(&target);
    } else {
        b.set(&target, &res);
    }
}

/// Prometheus's `hashmod`: the last 8 bytes of the MD5 of `val`, big-endian, modulo
/// `modulus` (Prometheus's `sum64` shifts the first 8 bytes out of a `u64`).
pub fn hashmod(val: &str, modulus: u64) -> u64 {
    let digest = Md5::digest(val.as_bytes());
    let mut tail = [0u8; 8];
    tail.copy_from_slice(&digest[8..16]);
    u64::from_be_bytes(tail) % modulus.max(1)
}

/// Go's `strings.ToLower`: each rune through its simple lower-case mapping (one rune to
/// one rune), unlike Rust's full mapping (`İ` becomes `i`, not `i̇`; a final `Σ` is `σ`).
fn go_lower(s: &str) -> String {
    if s.is_ascii() {
        return s.to_ascii_lowercase();
    }
    s.chars()
        .map(|c| {
            let mut it = c.to_lowercase();
            match (it.next(), it.next()) {
                (Some(l), None) => l,
                _ if c == '\u{130}' => 'i',
                _ => c,
            }
        })
        .collect()
}

/// Go's `strings.ToUpper`: each rune through its simple upper-case mapping (`ß` stays `ß`,
/// `ﬁ` stays `ﬁ`, Greek letters with ypogegrammeni take their titlecase form).
fn go_upper(s: &str) -> String {
    if s.is_ascii() {
        return s.to_ascii_uppercase();
    }
    s.chars()
        .map(|c| {
            let mut it = c.to_uppercase();
            match (it.next(), it.next()) {
                (Some(u), None) => u,
                _ => simple_upper_of_multi(c),
            }
        })
        .collect()
}

/// The simple upper-case mapping of the few runes whose full mapping is several runes but
/// which still have a one-rune simple mapping (UnicodeData.txt); every other such rune maps
/// to itself.
fn simple_upper_of_multi(c: char) -> char {
    let u = u32::from(c);
    let mapped = match u {
        0x1F80..=0x1F87 | 0x1F90..=0x1F97 | 0x1FA0..=0x1FA7 => u + 8,
        0x1FB3 => 0x1FBC,
        0x1FC3 => 0x1FCC,
        0x1FF3 => 0x1FFC,
        _ => u,
    };
    char::from_u32(mapped).unwrap_or(c)
}
