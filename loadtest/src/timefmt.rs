//! Parsing of durations (`15s`, `1h30m`, `500ms`) and points in time for `--sim-start`
//! (`now`, `now-2h`, `-2h`, unix seconds or milliseconds, `2026-11-27T08:00:00Z`).

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use crate::error::{LoadgenError, Result};

/// Parses a Prometheus-style duration: one or more `<integer><unit>` with units
/// `ms`, `s`, `m`, `h`, `d`, `w`, e.g. `15s`, `1h30m`. A bare `0` is zero.
pub fn parse_duration(input: &str) -> Result<Duration> {
    let err = |reason| LoadgenError::Duration {
        input: input.to_string(),
        reason,
    };
    let s = input.trim();
    if s == "0" {
        return Ok(Duration::ZERO);
    }
    if s.is_empty() {
        return Err(err("empty"));
    }
    let mut total_ms: u64 = 0;
    let mut rest = s;
    while !rest.is_empty() {
        let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
        if digits == 0 {
            return Err(err("expected a number before each unit"));
        }
        let n: u64 = rest[..digits]
            .parse()
            .map_err(|_| err("number too large"))?;
        rest = &rest[digits..];
        let unit_len = rest.bytes().take_while(u8::is_ascii_alphabetic).count();
        let unit_ms: u64 = match &rest[..unit_len] {
            "ms" => 1,
            "s" => 1_000,
            "m" => 60_000,
            "h" => 3_600_000,
            "d" => 86_400_000,
            "w" => 604_800_000,
            "" => return Err(err("missing unit (ms, s, m, h, d, w)")),
            _ => return Err(err("unknown unit (want ms, s, m, h, d, w)")),
        };
        rest = &rest[unit_len..];
        total_ms = n
            .checked_mul(unit_ms)
            .and_then(|v| total_ms.checked_add(v))
            .ok_or_else(|| err("duration too large"))?;
    }
    Ok(Duration::from_millis(total_ms))
}

/// Milliseconds since the Unix epoch now.
pub fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

/// Parses a point in time relative to `now_ms` (see the module docs) into epoch milliseconds.
pub fn parse_time(input: &str, now_ms: i64) -> Result<i64> {
    let err = |reason| LoadgenError::Time {
        input: input.to_string(),
        reason,
    };
    let s = input.trim();
    if s == "now" {
        return Ok(now_ms);
    }
    let rel = s.strip_prefix("now-").or_else(|| s.strip_prefix('-'));
    if let Some(d) = rel {
        let d = parse_duration(d).map_err(|_| err("bad duration after '-'"))?;
        return Ok(now_ms - d.as_millis() as i64);
    }
    if s.bytes().all(|b| b.is_ascii_digit()) {
        let n: i64 = s.parse().map_err(|_| err("number too large"))?;
        // Seconds until the year 5138; anything larger is already milliseconds.
        return Ok(if n < 100_000_000_000 { n * 1000 } else { n });
    }
    parse_rfc3339_utc(s)
        .ok_or_else(|| err("want now, now-<dur>, unix seconds/ms or YYYY-MM-DDTHH:MM:SSZ"))
}

/// `YYYY-MM-DDTHH:MM:SS[.fff]Z` in UTC.
fn parse_rfc3339_utc(s: &str) -> Option<i64> {
    let s = s.strip_suffix('Z').or_else(|| s.strip_suffix('z'))?;
    let (date, time) = s.split_once(['T', 't', ' '])?;
    let mut d = date.split('-');
    let y: i64 = d.next()?.parse().ok()?;
    let mo: i64 = d.next()?.parse().ok()?;
    let da: i64 = d.next()?.parse().ok()?;
    let (hms, frac) = match time.split_once('.') {
        Some((a, b)) => (a, Some(b)),
        None => (time, None),
    };
    let mut t = hms.split(':');
    let h: i64 = t.next()?.parse().ok()?;
    let mi: i64 = t.next()?.parse().ok()?;
    let se: i64 = t.next()?.parse().ok()?;
    if !(1..=12).contains(&mo) || !(1..=31).contains(&da) || h > 23 || mi > 59 || se > 60 {
        return None;
    }
    let ms = match frac {
        Some(f) if !f.is_empty() && f.bytes().all(|b| b.is_ascii_digit()) => {
            let f3: String = f.chars().chain("000".chars()).take(3).collect();
            f3.parse().ok()?
        }
        Some(_) => return None,
        None => 0,
    };
    let days = days_from_civil(y, mo, da);
    Some(((days * 24 + h) * 60 + mi) * 60_000 + se * 1000 + ms)
}

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's algorithm).
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// Formats a duration in milliseconds compactly, e.g. `1h2m3s`, for progress lines.
pub fn format_ms(ms: i64) -> String {
    let neg = ms < 0;
    let mut s = ms.unsigned_abs() / 1000;
    let h = s / 3600;
    s %= 3600;
    let m = s / 60;
    s %= 60;
    let body = if h > 0 {
        format!("{h}h{m}m{s}s")
    } else if m > 0 {
        format!("{m}m{s}s")
    } else {
        format!("{s}s")
    };
    if neg {
        format!("-{body}")
    } else {
        body
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        assert_eq!(parse_duration("15s").ok(), Some(Duration::from_secs(15)));
        assert_eq!(
            parse_duration("1h30m").ok(),
            Some(Duration::from_secs(5400))
        );
        assert_eq!(
            parse_duration("250ms").ok(),
            Some(Duration::from_millis(250))
        );
        assert_eq!(parse_duration("0").ok(), Some(Duration::ZERO));
        for bad in ["", "15", "s", "1x", "1.5s", "-1s"] {
            assert!(parse_duration(bad).is_err(), "{bad:?} parsed");
        }
    }

    #[test]
    fn times() {
        let now = 1_800_000_000_000;
        assert_eq!(parse_time("now", now).ok(), Some(now));
        assert_eq!(parse_time("now-2h", now).ok(), Some(now - 7_200_000));
        assert_eq!(parse_time("-30m", now).ok(), Some(now - 1_800_000));
        assert_eq!(parse_time("1700000000", now).ok(), Some(1_700_000_000_000));
        assert_eq!(
            parse_time("1700000000123", now).ok(),
            Some(1_700_000_000_123)
        );
        assert_eq!(
            parse_time("2023-11-14T22:13:20Z", now).ok(),
            Some(1_700_000_000_000)
        );
        assert_eq!(parse_time("1970-01-01T00:00:01.5Z", now).ok(), Some(1500));
        assert!(parse_time("yesterday", now).is_err());
        assert!(parse_time("2023-13-01T00:00:00Z", now).is_err());
    }

    #[test]
    fn formats() {
        assert_eq!(format_ms(3_723_000), "1h2m3s");
        assert_eq!(format_ms(59_999), "59s");
        assert_eq!(format_ms(-61_000), "-1m1s");
    }
}
