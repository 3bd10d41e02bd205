//! Numbers as Prometheus reads them: Go's `strconv.ParseFloat` without hex floats or
//! underscores, and `strconv.ParseInt` for text-format timestamps.

/// Prometheus's canonical NaN (`value.NormalNaN`); every parsed NaN becomes this one, so
/// it never reads as the stale marker.
pub const NORMAL_NAN: f64 = f64::from_bits(0x7ff8_0000_0000_0001);

/// Parses a sample value or OpenMetrics timestamp as Prometheus's `parseFloat`; the error
/// is Go's message.
pub(crate) fn parse_float(b: &[u8]) -> Result<f64, String> {
    let Ok(s) = std::str::from_utf8(b) else {
        return Err(syntax("ParseFloat", b));
    };
    if s.contains(['p', 'P', '_']) {
        return Err("unsupported character in float".into());
    }
    let unsigned = s.strip_prefix(['+', '-']).unwrap_or(s);
    let lower = unsigned.to_ascii_lowercase();
    let special = lower == "inf" || lower == "infinity";
    if lower == "nan" {
        // Go accepts NaN only without a sign.
        if unsigned.len() != s.len() {
            return Err(syntax("ParseFloat", b));
        }
        return Ok(NORMAL_NAN);
    }
    if !special
        && !unsigned
            .bytes()
            .all(|c| c.is_ascii_digit() || matches!(c, b'.' | b'e' | b'E' | b'+' | b'-'))
    {
        // Rust would also take forms Go does not (and the reverse is handled above).
        return Err(syntax("ParseFloat", b));
    }
    match s.parse::<f64>() {
        Ok(v) if v.is_infinite() && !special => Err(format!(
            "strconv.ParseFloat: parsing {:?}: value out of range",
            s
        )),
        Ok(v) => Ok(v),
        Err(_) => Err(syntax("ParseFloat", b)),
    }
}

/// Parses a text-format timestamp (decimal digits only, as the lexer gives them).
pub(crate) fn parse_int(b: &[u8]) -> Result<i64, String> {
    let s = std::str::from_utf8(b).map_err(|_| syntax("ParseInt", b))?;
    s.parse::<i64>().map_err(|e| {
        if matches!(
            e.kind(),
            std::num::IntErrorKind::PosOverflow | std::num::IntErrorKind::NegOverflow
        ) {
            format!("strconv.ParseInt: parsing {s:?}: value out of range")
        } else {
            syntax("ParseInt", b)
        }
    })
}

fn syntax(func: &str, b: &[u8]) -> String {
    format!(
        "strconv.{func}: parsing {}: invalid syntax",
        crate::error::Quoted(b)
    )
}

/// OpenMetrics seconds to milliseconds as Prometheus (`int64(ts * 1000)`), refusing NaN
/// and infinities.
pub(crate) fn seconds_to_ms(ts: f64) -> Option<i64> {
    if ts.is_nan() || ts.is_infinite() {
        return None;
    }
    // `as` saturates; Go's conversion of an out-of-range float is undefined.
    Some((ts * 1000.0) as i64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn floats_as_go() {
        for (s, want) in [
            ("1", 1.0),
            ("-1.5", -1.5),
            ("+.5", 0.5),
            ("1.", 1.0),
            ("1e3", 1000.0),
            ("1E-3", 0.001),
            ("+Inf", f64::INFINITY),
            ("-inf", f64::NEG_INFINITY),
            ("Infinity", f64::INFINITY),
            ("1e-400", 0.0),
        ] {
            assert_eq!(parse_float(s.as_bytes()), Ok(want), "{s}");
        }
        assert_eq!(
            parse_float(b"NaN").map(f64::to_bits),
            Ok(NORMAL_NAN.to_bits())
        );
        assert_eq!(
            parse_float(b"nan").map(f64::to_bits),
            Ok(NORMAL_NAN.to_bits())
        );
        for s in [
            "", "-nan", "0x1", "1_0", "0x1p3", "1e", "e1", "abc", "1.2.3", " 1",
        ] {
            assert!(parse_float(s.as_bytes()).is_err(), "{s}");
        }
        assert_eq!(
            parse_float(b"1e400"),
            Err("strconv.ParseFloat: parsing \"1e400\": value out of range".into())
        );
        assert_eq!(
            parse_float(b"1_0"),
            Err("unsupported character in float".into())
        );
        assert_eq!(
            parse_float(b"x"),
            Err("strconv.ParseFloat: parsing \"x\": invalid syntax".into())
        );
    }

    #[test]
    fn ints_as_go() {
        assert_eq!(parse_int(b"1700000000000"), Ok(1_700_000_000_000));
        assert!(parse_int(b"99999999999999999999")
            .expect_err("overflow")
            .ends_with("value out of range"));
    }
}
