//! Request parameters as Prometheus's HTTP API reads them: form values from the query string
//! and an `application/x-www-form-urlencoded` body (names may repeat, as `match[]`), times as
//! RFC 3339 or Unix seconds, durations as float seconds or Prometheus durations, and series
//! selectors for `match[]`.

use promql_parser::label::MatchOp as PMatchOp;
use promql_parser::parser::{self, Expr};
use strata_model::{MatchOp, Matcher, METRIC_NAME};

use crate::error::ApiError;

/// The earliest time the API accepts, in milliseconds: Prometheus's `MinTime`, the default
/// `start` of the metadata endpoints.
pub const MIN_TIME_MS: i64 = (i64::MIN / 1000 + 62_135_596_801) * 1000;
/// The latest time the API accepts, in milliseconds: Prometheus's `MaxTime`.
pub const MAX_TIME_MS: i64 = (i64::MAX / 1000 - 62_135_596_801) * 1000 + 999;

/// Prometheus's textual forms of [`MIN_TIME_MS`] and [`MAX_TIME_MS`], which clients echo back.
const MIN_TIME_FORMATTED: &str = "-292273086-05-16T16:47:06Z";
const MAX_TIME_FORMATTED: &str = "292277025-08-18T07:12:54.999999999Z";

/// Form parameters in arrival order; names may repeat.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Params(Vec<(String, String)>);

impl Params {
    /// Parses a URL query string and, when given, a form-encoded body. Body values come first,
    /// as Go's `Request.ParseForm` gives them precedence.
    pub fn parse(query: Option<&str>, form_body: Option<&[u8]>) -> Self {
        let mut pairs = Vec::new();
        if let Some(body) = form_body {
            pairs.extend(form_urlencoded::parse(body).into_owned());
        }
        if let Some(q) = query {
            pairs.extend(form_urlencoded::parse(q.as_bytes()).into_owned());
        }
        Self(pairs)
    }

    /// Builds parameters from pairs (tests, internal callers).
    pub fn from_pairs<'a>(pairs: impl IntoIterator<Item = (&'a str, &'a str)>) -> Self {
        Self(
            pairs
                .into_iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
        )
    }

    /// The first value of `name`, or `""` when absent (as Go's `FormValue`).
    pub fn get(&self, name: &str) -> &str {
        self.0
            .iter()
            .find(|(k, _)| k == name)
            .map_or("", |(_, v)| v.as_str())
    }

    /// Every value of `name`, in order.
    pub fn get_all<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a str> + 'a {
        self.0
            .iter()
            .filter(move |(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    /// An optional time parameter, or `default` when absent or empty (Prometheus's
    /// `parseTimeParam`, whose errors say so).
    pub fn time_or(&self, name: &str, default: i64) -> Result<i64, ApiError> {
        match self.get(name) {
            "" => Ok(default),
            s => parse_time(s)
                .map_err(|e| invalid_param(name, &format!("Invalid time value for '{name}': {e}"))),
        }
    }

    /// A required time parameter.
    pub fn time(&self, name: &str) -> Result<i64, ApiError> {
        parse_time(self.get(name)).map_err(|e| invalid_param(name, &e))
    }

    /// A required duration parameter, in milliseconds.
    pub fn duration(&self, name: &str) -> Result<i64, ApiError> {
        parse_duration(self.get(name)).map_err(|e| invalid_param(name, &e))
    }

    /// An optional non-negative `limit`-style parameter; 0 (or absent) means no limit. Errors
    /// read as Prometheus's `parseLimitParam`.
    pub fn limit(&self, name: &str) -> Result<usize, ApiError> {
        match self.get(name) {
            "" => Ok(0),
            s => {
                let n: i64 = s.parse().map_err(|_| {
                    invalid_param(
                        name,
                        &format!("strconv.Atoi: parsing {s:?}: invalid syntax"),
                    )
                })?;
                usize::try_from(n).map_err(|_| invalid_param(name, "limit must be non-negative"))
            }
        }
    }

    /// Every `match[]` selector parsed into matcher sets (one per selector; a selector with
    /// `or` yields several).
    pub fn match_sets(&self) -> Result<Vec<Vec<Matcher>>, ApiError> {
        let mut out = Vec::new();
        for s in self.get_all("match[]") {
            out.extend(parse_selector(s)?);
        }
        Ok(out)
    }
}

fn invalid_param(name: &str, err: &str) -> ApiError {
    ApiError::bad_data(format!("invalid parameter {name:?}: {err}"))
}

/// Parses a timestamp as Prometheus's API: Unix seconds as a float (rounded to the
/// millisecond) or RFC 3339. Returns milliseconds.
pub fn parse_time(s: &str) -> Result<i64, String> {
    let bad = || format!("cannot parse {s:?} to a valid timestamp");
    if let Ok(f) = s.parse::<f64>() {
        if !f.is_finite() || s.eq_ignore_ascii_case("infinity") {
            return Err(bad());
        }
        let secs = f.trunc();
        let frac_ms = ((f - secs) * 1000.0).round();
        let ms = secs * 1000.0 + frac_ms;
        // Beyond this, the i64 millisecond conversion would saturate silently.
        if !(MIN_TIME_MS as f64..=MAX_TIME_MS as f64).contains(&ms) {
            return Err(bad());
        }
        return Ok(secs as i64 * 1000 + frac_ms as i64);
    }
    match s {
        MIN_TIME_FORMATTED => return Ok(MIN_TIME_MS),
        MAX_TIME_FORMATTED => return Ok(MAX_TIME_MS),
        _ => {}
    }
    let dt = chrono::DateTime::parse_from_rfc3339(s).map_err(|_| bad())?;
    Ok(dt.timestamp_millis())
}

/// Parses a duration as Prometheus's API: float seconds, or a Prometheus duration such as
/// `1m30s` (units `y w d h m s ms`, each at most once, largest first). Returns milliseconds,
/// truncating sub-millisecond parts.
pub fn parse_duration(s: &str) -> Result<i64, String> {
    if let Ok(f) = s.parse::<f64>() {
        let ms = f * 1000.0;
        if !ms.is_finite()
            || ms >= i64::MAX as f64 / 1_000_000.0
            || ms <= i64::MIN as f64 / 1_000_000.0
        {
            return Err(format!(
                "cannot parse {s:?} to a valid duration. It overflows int64"
            ));
        }
        return Ok(ms as i64);
    }
    parse_prometheus_duration(s).ok_or_else(|| format!("cannot parse {s:?} to a valid duration"))
}

/// Prometheus's `model.ParseDuration`: `[0-9]+` followed by a unit, repeated, units in
/// decreasing order without repeats; `0` alone is zero.
fn parse_prometheus_duration(s: &str) -> Option<i64> {
    if s == "0" {
        return Some(0);
    }
    if s.is_empty() {
        return None;
    }
    const UNITS: [(&str, i64); 7] = [
        ("y", 365 * 24 * 3_600_000),
        ("w", 7 * 24 * 3_600_000),
        ("d", 24 * 3_600_000),
        ("h", 3_600_000),
        ("m", 60_000),
        ("s", 1000),
        ("ms", 1),
    ];
    let mut rest = s;
    let mut next_unit = 0;
    let mut total: i64 = 0;
    while !rest.is_empty() {
        let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
        if digits == 0 {
            return None;
        }
        let n: i64 = rest[..digits].parse().ok()?;
        rest = &rest[digits..];
        let unit_len = rest.bytes().take_while(u8::is_ascii_alphabetic).count();
        let unit = &rest[..unit_len];
        rest = &rest[unit_len..];
        let idx = UNITS[next_unit..].iter().position(|(u, _)| *u == unit)? + next_unit;
        next_unit = idx + 1;
        total = total.checked_add(n.checked_mul(UNITS[idx].1)?)?;
    }
    // Prometheus keeps durations in nanoseconds as an int64.
    (total <= i64::MAX / 1_000_000).then_some(total)
}

/// Parses one `match[]` value as a PromQL series selector into matcher sets, rejecting
/// selectors whose every matcher matches the empty string, as Prometheus does.
pub fn parse_selector(s: &str) -> Result<Vec<Vec<Matcher>>, ApiError> {
    let expr = parser::parse(s).map_err(|e| ApiError::bad_data(e.to_string()))?;
    let Expr::VectorSelector(vs) = expr else {
        return Err(ApiError::bad_data(format!(
            "invalid parameter \"match[]\": expected a series selector, got {s:?}"
        )));
    };
    let name_matcher = vs
        .name
        .as_ref()
        .map(|n| Matcher::equal(METRIC_NAME, n.as_str()));
    let groups: Vec<&Vec<promql_parser::label::Matcher>> = if vs.matchers.or_matchers.is_empty() {
        vec![&vs.matchers.matchers]
    } else {
        vs.matchers.or_matchers.iter().collect()
    };
    let mut sets = Vec::with_capacity(groups.len());
    for g in groups {
        let mut set: Vec<Matcher> = name_matcher.iter().cloned().collect();
        for m in g {
            set.push(convert_parser_matcher(m)?);
        }
        if set.iter().all(Matcher::matches_empty) {
            return Err(ApiError::bad_data(
                "match[] must contain at least one non-empty matcher",
            ));
        }
        sets.push(set);
    }
    Ok(sets)
}

/// Converts a promql-parser matcher into Strata's, recompiling regexes with Strata's anchoring.
pub fn convert_parser_matcher(m: &promql_parser::label::Matcher) -> Result<Matcher, ApiError> {
    let op = match m.op {
        PMatchOp::Equal => MatchOp::Equal,
        PMatchOp::NotEqual => MatchOp::NotEqual,
        PMatchOp::Re(_) => MatchOp::RegexMatch,
        PMatchOp::NotRe(_) => MatchOp::RegexNoMatch,
    };
    Matcher::new(op, m.name.as_str(), m.value.as_str())
        .map_err(|e| ApiError::bad_data(e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_float_and_rfc3339_times() {
        assert_eq!(parse_time("1700000000"), Ok(1_700_000_000_000));
        assert_eq!(parse_time("1700000000.123"), Ok(1_700_000_000_123));
        assert_eq!(parse_time("1700000000.1235"), Ok(1_700_000_000_124));
        assert_eq!(parse_time("-1.5"), Ok(-1500));
        assert_eq!(parse_time("0"), Ok(0));
        assert_eq!(parse_time("1e3"), Ok(1_000_000));
        assert_eq!(parse_time("2023-11-14T22:13:20Z"), Ok(1_700_000_000_000));
        assert_eq!(parse_time("2023-11-14T22:13:20.5Z"), Ok(1_700_000_000_500));
        assert_eq!(
            parse_time("2023-11-15T00:13:20.123456789+02:00"),
            Ok(1_700_000_000_123)
        );
        assert_eq!(parse_time(MIN_TIME_FORMATTED), Ok(MIN_TIME_MS));
        assert_eq!(parse_time(MAX_TIME_FORMATTED), Ok(MAX_TIME_MS));
    }

    #[test]
    fn rejects_bad_times() {
        for s in [
            "",
            "abc",
            "NaN",
            "Inf",
            "-inf",
            "1e300",
            "2023-13-01T00:00:00Z",
            "2023-11-14 22:13",
        ] {
            assert!(parse_time(s).is_err(), "{s:?} should not parse");
        }
        assert_eq!(
            parse_time("x"),
            Err("cannot parse \"x\" to a valid timestamp".to_string())
        );
    }

    #[test]
    fn parses_durations() {
        assert_eq!(parse_duration("15"), Ok(15_000));
        assert_eq!(parse_duration("0.5"), Ok(500));
        assert_eq!(parse_duration("15s"), Ok(15_000));
        assert_eq!(parse_duration("1m30s"), Ok(90_000));
        assert_eq!(parse_duration("1h"), Ok(3_600_000));
        assert_eq!(parse_duration("2d12h"), Ok(216_000_000));
        assert_eq!(parse_duration("1w"), Ok(604_800_000));
        assert_eq!(parse_duration("1y"), Ok(31_536_000_000));
        assert_eq!(parse_duration("100ms"), Ok(100));
        assert_eq!(parse_duration("1s500ms"), Ok(1500));
        assert_eq!(parse_duration("0"), Ok(0));
        assert_eq!(parse_duration("-5"), Ok(-5000));
    }

    #[test]
    fn rejects_bad_durations() {
        for s in [
            "",
            "1x",
            "s",
            "1s1m",
            "1m1m",
            "1.5m",
            "-1m",
            "1e30",
            "NaN",
            "10000000000000y",
        ] {
            assert!(parse_duration(s).is_err(), "{s:?} should not parse");
        }
    }

    #[test]
    fn params_keep_repeats_and_body_first() {
        let p = Params::parse(
            Some("match[]=up&a=q"),
            Some(b"match[]=%7Bjob%3D%22x%22%7D&a=b"),
        );
        assert_eq!(p.get("a"), "b");
        assert_eq!(
            p.get_all("match[]").collect::<Vec<_>>(),
            vec!["{job=\"x\"}", "up"]
        );
        assert_eq!(p.get("missing"), "");
    }

    #[test]
    fn bad_params_are_bad_data() {
        let p = Params::from_pairs([("time", "nope"), ("step", "x"), ("limit", "-1")]);
        let e = p.time("time").expect_err("bad time");
        assert_eq!(e.error_type, "bad_data");
        assert_eq!(
            e.message,
            "invalid parameter \"time\": cannot parse \"nope\" to a valid timestamp"
        );
        let e = p.time_or("time", 0).expect_err("bad time");
        assert_eq!(
            e.message,
            "invalid parameter \"time\": Invalid time value for 'time': cannot parse \"nope\" to a valid timestamp"
        );
        let e = p.duration("step").expect_err("bad step");
        assert_eq!(
            e.message,
            "invalid parameter \"step\": cannot parse \"x\" to a valid duration"
        );
        assert_eq!(
            p.limit("limit").expect_err("negative").message,
            "invalid parameter \"limit\": limit must be non-negative"
        );
        let p = Params::from_pairs([("limit", "x"), ("n", "7")]);
        assert_eq!(
            p.limit("limit").expect_err("not a number").message,
            "invalid parameter \"limit\": strconv.Atoi: parsing \"x\": invalid syntax"
        );
        assert_eq!(p.limit("n").expect("valid"), 7);
        assert_eq!(p.limit("absent").expect("valid"), 0);
        assert_eq!(p.time_or("absent", 42).expect("default"), 42);
    }

    #[test]
    fn selectors_become_matchers() {
        let sets = parse_selector(r#"up{job="a",instance=~"x.*"}"#).expect("valid");
        assert_eq!(sets.len(), 1);
        let s: Vec<String> = sets[0].iter().map(ToString::to_string).collect();
        assert_eq!(
            s,
            vec![r#"__name__="up""#, r#"job="a""#, r#"instance=~"x.*""#]
        );
        assert!(
            sets[0][2].matches("x\ny"),
            "regexes use Strata's (?s) anchoring"
        );

        let sets = parse_selector(r#"{__name__=~"a|b"}"#).expect("valid");
        assert_eq!(sets[0].len(), 1);

        assert!(parse_selector(r#"{job=~".*"}"#).is_err());
        assert!(parse_selector("rate(up[5m])").is_err());
        assert!(parse_selector("up{").is_err());
    }
}
