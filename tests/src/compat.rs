//! Comparing two tenants' raw samples, for tests that run one scrape config through two
//! scrapers (Prometheus 2.42 and Strata's agent) into two tenants.
//!
//! The two scrapers scrape at different moments, so timestamps never match; what must match
//! is the set of series and, per series, the sequence of values with consecutive repeats
//! collapsed (a [`Point`] per change). Staleness markers are told apart from other NaNs by
//! their bit pattern and compared as markers. Series whose values legitimately differ
//! (`scrape_duration_seconds`) are compared as "a value" vs "a marker" only; series with
//! explicit timestamps in the exposition can be compared sample for sample ([`Mode`]).

use std::collections::BTreeMap;
use std::fmt;

use crate::api::LabelSet;
use crate::TimestampMs;

/// Prometheus's staleness marker: a NaN with this exact bit pattern (`value.StaleNaN`).
pub const STALE_NAN_BITS: u64 = 0x7ff0_0000_0000_0002;

/// One series' samples, as remote read returns them.
pub type Samples = Vec<(TimestampMs, f64)>;

/// One element of a collapsed value sequence.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Point {
    /// A number (compared bit for bit, so `-0` and `0` differ).
    Value(u64),
    /// A NaN that is not a staleness marker.
    NaN,
    /// A staleness marker.
    Stale,
    /// A number whose value is not compared.
    Some,
}

impl Point {
    /// Classifies `v`; with `compare_value` false, numbers become [`Point::Some`].
    pub fn of(v: f64, compare_value: bool) -> Self {
        if v.to_bits() == STALE_NAN_BITS {
            Point::Stale
        } else if v.is_nan() {
            Point::NaN
        } else if compare_value {
            Point::Value(v.to_bits())
        } else {
            Point::Some
        }
    }
}

impl fmt::Display for Point {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Point::Value(b) => write!(f, "{:?}", f64::from_bits(*b)),
            Point::NaN => f.write_str("NaN"),
            Point::Stale => f.write_str("STALE"),
            Point::Some => f.write_str("<v>"),
        }
    }
}

/// How one series is compared.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    /// Collapsed value sequences (timestamps ignored).
    Values,
    /// Collapsed sequences of "a value" and markers (values and timestamps ignored).
    Presence,
    /// Every sample, timestamp and value bits (explicit timestamps: the same in both).
    Exact,
}

/// The value sequence of `samples` (time order) with consecutive equal points collapsed.
pub fn sequence(samples: &[(TimestampMs, f64)], compare_values: bool) -> Vec<Point> {
    let mut out: Vec<Point> = Vec::new();
    for (_, v) in samples {
        let p = Point::of(*v, compare_values);
        if out.last() != Some(&p) {
            out.push(p);
        }
    }
    out
}

/// `name{a="b", …}`, as Prometheus prints a series.
pub fn series_name(ls: &LabelSet) -> String {
    let name = ls.get("__name__").map_or("", String::as_str);
    let rest: Vec<String> = ls
        .iter()
        .filter(|(k, _)| k.as_str() != "__name__")
        .map(|(k, v)| format!("{k}={v:?}"))
        .collect();
    format!("{name}{{{}}}", rest.join(", "))
}

/// How two tenants' data differ.
#[derive(Debug, Default)]
pub struct Diff {
    /// Series only the first tenant has.
    pub only_a: Vec<LabelSet>,
    /// Series only the second tenant has.
    pub only_b: Vec<LabelSet>,
    /// Series in both whose sequences differ: (labels, first's, second's).
    pub values: Vec<(LabelSet, Vec<Point>, Vec<Point>)>,
    /// Series compared by [`Mode::Exact`] whose samples differ: (labels, first's, second's).
    pub samples: Vec<(LabelSet, Samples, Samples)>,
}

impl Diff {
    /// Tells whether nothing differs.
    pub fn is_empty(&self) -> bool {
        self.only_a.is_empty()
            && self.only_b.is_empty()
            && self.values.is_empty()
            && self.samples.is_empty()
    }

    /// A readable report naming the two sides `a` and `b`.
    pub fn render(&self, a: &str, b: &str) -> String {
        let seq = |s: &[Point]| {
            s.iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join(" ")
        };
        let mut out = String::new();
        for ls in &self.only_a {
            out.push_str(&format!("only in {a}: {}\n", series_name(ls)));
        }
        for ls in &self.only_b {
            out.push_str(&format!("only in {b}: {}\n", series_name(ls)));
        }
        for (ls, x, y) in &self.values {
            out.push_str(&format!(
                "values differ: {}\n  {a:>10}: {}\n  {b:>10}: {}\n",
                series_name(ls),
                seq(x),
                seq(y)
            ));
        }
        for (ls, x, y) in &self.samples {
            out.push_str(&format!(
                "samples differ: {}\n  {a:>10}: {x:?}\n  {b:>10}: {y:?}\n",
                series_name(ls)
            ));
        }
        out
    }
}

/// Compares two tenants' series: the sets, and each common series as `mode(labels)` says.
pub fn compare(
    a: &BTreeMap<LabelSet, Samples>,
    b: &BTreeMap<LabelSet, Samples>,
    mode: impl Fn(&LabelSet) -> Mode,
) -> Diff {
    let mut d = Diff::default();
    for (ls, sa) in a {
        let Some(sb) = b.get(ls) else {
            d.only_a.push(ls.clone());
            continue;
        };
        let m = mode(ls);
        if m == Mode::Exact {
            let bits = |s: &Samples| s.iter().map(|(t, v)| (*t, v.to_bits())).collect::<Vec<_>>();
            if bits(sa) != bits(sb) {
                d.samples.push((ls.clone(), sa.clone(), sb.clone()));
            }
            continue;
        }
        let cv = m == Mode::Values;
        let (x, y) = (sequence(sa, cv), sequence(sb, cv));
        if x != y {
            d.values.push((ls.clone(), x, y));
        }
    }
    d.only_b = b
        .keys()
        .filter(|ls| !a.contains_key(*ls))
        .cloned()
        .collect();
    d
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ls(name: &str) -> LabelSet {
        LabelSet::from([("__name__".to_string(), name.to_string())])
    }

    #[test]
    fn collapses_repeats_and_tells_markers_from_nans() {
        let stale = f64::from_bits(STALE_NAN_BITS);
        let s = [
            (1, 1.0),
            (2, 1.0),
            (3, f64::NAN),
            (4, f64::NAN),
            (5, stale),
            (6, 2.0),
        ];
        assert_eq!(
            sequence(&s, true),
            [
                Point::Value(1f64.to_bits()),
                Point::NaN,
                Point::Stale,
                Point::Value(2f64.to_bits())
            ]
        );
        assert_eq!(
            sequence(&s, false),
            [Point::Some, Point::NaN, Point::Stale, Point::Some]
        );
    }

    #[test]
    fn finds_missing_series_and_differing_values() {
        let stale = f64::from_bits(STALE_NAN_BITS);
        let a = BTreeMap::from([
            (ls("same"), vec![(1, 1.0), (5, 2.0)]),
            (ls("only_a"), vec![(1, 1.0)]),
            (ls("differs"), vec![(1, 1.0), (2, stale)]),
            (ls("timing"), vec![(1, 0.1), (2, stale)]),
        ]);
        let b = BTreeMap::from([
            (ls("same"), vec![(2, 1.0), (3, 1.0), (7, 2.0)]),
            (ls("only_b"), vec![(1, 1.0)]),
            (ls("differs"), vec![(1, 1.0), (2, f64::NAN)]),
            (ls("timing"), vec![(1, 0.2), (2, 0.3), (3, stale)]),
            (ls("exact"), vec![(1, 1.0), (3, 1.0)]),
        ]);
        let mut a = a;
        a.insert(ls("exact"), vec![(1, 1.0), (2, 1.0)]);
        let d = compare(&a, &b, |l| match l["__name__"].as_str() {
            "timing" => Mode::Presence,
            "exact" => Mode::Exact,
            _ => Mode::Values,
        });
        assert_eq!(d.samples.len(), 1);
        assert_eq!(d.samples[0].0, ls("exact"));
        assert_eq!(d.only_a, [ls("only_a")]);
        assert_eq!(d.only_b, [ls("only_b")]);
        assert_eq!(d.values.len(), 1, "{}", d.render("a", "b"));
        assert_eq!(d.values[0].0, ls("differs"));
        let r = d.render("prometheus", "agent");
        assert!(r.contains("values differ: differs{}"), "{r}");
        assert!(r.contains("prometheus: 1.0 STALE"), "{r}");
        assert!(r.contains("agent: 1.0 NaN"), "{r}");
    }
}
