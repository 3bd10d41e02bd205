//! Durations and byte sizes as Prometheus's configuration writes them.
//!
//! Durations are Prometheus's `model.ParseDuration` (`1h30m`, `1d`, `1w`, `1y`, `500ms`,
//! `0`: integer amounts, units in decreasing order, each at most once), which
//! `strata_config::duration` already implements with the same messages. Sizes are
//! `units.Base2Bytes` from `alecthomas/units`: a sequence of decimal amounts with units
//! `B`, `KB`/`KiB` (1024), `MB`/`MiB`, … up to `EB`/`EiB`, or `0`.

use std::time::Duration;

/// Parses a Prometheus duration (`model.ParseDuration`).
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    strata_config::duration::parse_duration(s)
}

/// Formats a duration as Prometheus prints it (`1m30s`, `0s`).
pub fn format_duration(d: Duration) -> String {
    strata_config::duration::format_duration(d)
}

/// Parses a byte size as `units.ParseBase2Bytes` does; negative sizes read as 0 (no limit).
pub fn parse_size(s: &str) -> Result<u64, String> {
    const NEW: [(&str, u32); 7] = [
        ("B", 0),
        ("KiB", 1),
        ("MiB", 2),
        ("GiB", 3),
        ("TiB", 4),
        ("PiB", 5),
        ("EiB", 6),
    ];
    const OLD: [(&str, u32); 7] = [
        ("B", 0),
        ("KB", 1),
        ("MB", 2),
        ("GB", 3),
        ("TB", 4),
        ("PB", 5),
        ("EB", 6),
    ];
    let v = parse_unit(s, &NEW).or_else(|_| parse_unit(s, &OLD))?;
    Ok(if v < 0.0 { 0 } else { v as u64 })
}

/// `units.ParseUnit`: `[-+]?([0-9]*(\.[0-9]*)?[a-zA-Z]+)+`, or `0`.
fn parse_unit(orig: &str, units: &[(&str, u32)]) -> Result<f64, String> {
    let invalid = || format!("units: invalid {orig}");
    let mut s = orig;
    let mut neg = false;
    if let Some(rest) = s.strip_prefix('-') {
        neg = true;
        s = rest;
    } else if let Some(rest) = s.strip_prefix('+') {
        s = rest;
    }
    if s == "0" {
        return Ok(0.0);
    }
    if s.is_empty() {
        return Err(invalid());
    }
    let mut total = 0.0f64;
    while !s.is_empty() {
        let num_end = s
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(s.len());
        let num = &s[..num_end];
        if num.is_empty() || num == "." || num.matches('.').count() > 1 {
            return Err(invalid());
        }
        let amount: f64 = num.parse().map_err(|_| invalid())?;
        let rest = &s[num_end..];
        let unit_end = rest
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(rest.len());
        let unit = &rest[..unit_end];
        let Some((_, power)) = units.iter().find(|(u, _)| *u == unit) else {
            return Err(format!("units: unknown unit {unit} in {orig}"));
        };
        total += amount * 1024f64.powi(*power as i32);
        s = &rest[unit_end..];
    }
    if total > i64::MAX as f64 {
        return Err("units: overflow parsing unit".to_string());
    }
    Ok(if neg { -total } else { total })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_are_base_two() {
        assert_eq!(parse_size("10MB"), Ok(10 << 20));
        assert_eq!(parse_size("10MiB"), Ok(10 << 20));
        assert_eq!(parse_size("1KB512B"), Ok(1536));
        assert_eq!(parse_size("1.5KB"), Ok(1536));
        assert_eq!(parse_size("0"), Ok(0));
        assert_eq!(parse_size("512B"), Ok(512));
        assert!(parse_size("100").is_err());
        assert!(parse_size("10mb").is_err());
        assert!(parse_size("1KB1KiB").is_err());
        assert!(parse_size("").is_err());
        assert!(parse_size("KB").is_err());
    }

    #[test]
    fn durations_are_prometheus_model_durations() {
        assert_eq!(parse_duration("1h30m"), Ok(Duration::from_secs(5400)));
        assert_eq!(parse_duration("1w"), Ok(Duration::from_secs(7 * 86400)));
        assert_eq!(parse_duration("1y"), Ok(Duration::from_secs(365 * 86400)));
        assert_eq!(parse_duration("250ms"), Ok(Duration::from_millis(250)));
        assert!(parse_duration("1.5s").is_err());
        assert!(parse_duration("10").is_err());
        assert!(parse_duration("1s1m").is_err());
    }
}
