//! Prometheus's duration strings (`model.Duration`): `1m30s`, `15s`, `100ms`, as target
//! labels `__scrape_interval__` and `__scrape_timeout__` and the target pages write them.

use std::time::Duration;

const UNITS: [(&str, u64); 7] = [
    ("y", 365 * 86_400_000),
    ("w", 7 * 86_400_000),
    ("d", 86_400_000),
    ("h", 3_600_000),
    ("m", 60_000),
    ("s", 1_000),
    ("ms", 1),
];

/// Formats as Prometheus's `model.Duration.String` (`0s`, `1m30s`, `1w`).
pub fn format(d: Duration) -> String {
    let mut ms = u64::try_from(d.as_millis()).unwrap_or(u64::MAX);
    if ms == 0 {
        return "0s".into();
    }
    let mut out = String::new();
    for (unit, size) in UNITS {
        if ms >= size {
            out.push_str(&format!("{}{unit}", ms / size));
            ms %= size;
        }
    }
    out
}

/// Parses as Prometheus's `model.ParseDuration`: units in descending order, each at most
/// once, integers only; `0` alone is allowed.
pub fn parse(s: &str) -> Result<Duration, String> {
    if s == "0" {
        return Ok(Duration::ZERO);
    }
    if s.is_empty() {
        return Err("empty duration string".into());
    }
    let bad = || format!("not a valid duration string: {s:?}");
    let mut rest = s;
    let mut total: u64 = 0;
    let mut next_unit = 0;
    while !rest.is_empty() {
        let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
        if digits == 0 {
            return Err(bad());
        }
        let n: u64 = rest[..digits].parse().map_err(|_| bad())?;
        rest = &rest[digits..];
        // "ms" before "m" so `100ms` is not read as 100 minutes and an `s`.
        let found = UNITS
            .iter()
            .enumerate()
            .skip(next_unit)
            .filter(|(_, (u, _))| rest.starts_with(u))
            .max_by_key(|(_, (u, _))| u.len());
        let Some((i, (u, size))) = found else {
            return Err(bad());
        };
        total = n
            .checked_mul(*size)
            .and_then(|v| total.checked_add(v))
            .ok_or_else(bad)?;
        rest = &rest[u.len()..];
        next_unit = i + 1;
    }
    Ok(Duration::from_millis(total))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_and_parses_like_prometheus() {
        for (s, ms) in [
            ("0s", 0),
            ("15s", 15_000),
            ("1m30s", 90_000),
            ("100ms", 100),
            ("1h", 3_600_000),
            ("1w1d", 8 * 86_400_000),
        ] {
            assert_eq!(format(Duration::from_millis(ms)), s);
            assert_eq!(parse(s), Ok(Duration::from_millis(ms)), "{s}");
        }
        assert_eq!(parse("0"), Ok(Duration::ZERO));
        for bad in ["", "1", "s", "1s1m", "1.5s", "1x", "1s1s"] {
            assert!(parse(bad).is_err(), "{bad}");
        }
    }
}
