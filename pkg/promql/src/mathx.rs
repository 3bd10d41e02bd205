//! Numeric helpers that must match Prometheus bit for bit: Kahan-Neumaier summation,
//! quantiles, classic-bucket quantiles, Go's float formatting, and civil dates.

/// One step of Kahan-Neumaier summation, as Prometheus's `kahansum.Inc`. (Rust never fuses
/// float operations into FMA, so no rounding barrier is needed as in Go.)
pub(crate) fn kahan_inc(inc: f64, sum: f64, c: f64) -> (f64, f64) {
    let t = sum + inc;
    let c = if t.is_infinite() {
        0.0
    } else if sum.abs() >= inc.abs() {
        c + ((sum - t) + inc)
    } else {
        c + ((inc - t) + sum)
    };
    (t, c)
}

/// The `q` quantile of `values` by linear interpolation between ranks (Prometheus's `quantile`).
pub(crate) fn quantile(q: f64, values: &mut [f64]) -> f64 {
    if values.is_empty() || q.is_nan() {
        return f64::NAN;
    }
    if q < 0.0 {
        return f64::NEG_INFINITY;
    }
    if q > 1.0 {
        return f64::INFINITY;
    }
    let n = values.len() as f64;
    let rank = q * (n - 1.0);
    let lower = rank.floor().max(0.0);
    let upper = (lower + 1.0).min(n - 1.0);
    let weight = rank - rank.floor();
    let (lo, up) = (lower as usize, upper as usize);
    // The values at two positions of the sorted order (NaN first, as Prometheus's value heap
    // orders it), found by selection instead of a full sort. Values comparing equal are
    // indistinguishable except zeros (-0 and +0) and NaN payloads (never shown): a zero at a
    // position takes the sign of the zero a stable sort would put there, the zeros keeping
    // their input order after every value ordered before them.
    let before_zero = values.iter().filter(|v| v.is_nan() || **v < 0.0).count();
    let (mut lo_zero, mut up_zero) = (None, None);
    for (zeros, v) in values.iter().filter(|v| **v == 0.0).enumerate() {
        let pos = before_zero + zeros;
        if pos == lo {
            lo_zero = Some(*v);
        }
        if pos == up {
            up_zero = Some(*v);
        }
    }
    values.select_nth_unstable_by(lo, quantile_order);
    let v_lo = values[lo];
    let v_up = if up == lo {
        v_lo
    } else {
        values[lo + 1..]
            .iter()
            .copied()
            .min_by(quantile_order)
            .unwrap_or(v_lo)
    };
    let v_lo = if v_lo == 0.0 {
        lo_zero.unwrap_or(v_lo)
    } else {
        v_lo
    };
    let v_up = if v_up == 0.0 {
        up_zero.unwrap_or(v_up)
    } else {
        v_up
    };
    v_lo * (1.0 - weight) + v_up * weight
}

/// The order [`quantile`] ranks values in: NaN first, then ascending; equal values (and -0,
/// +0) compare equal.
fn quantile_order(a: &f64, b: &f64) -> std::cmp::Ordering {
    match (a.is_nan(), b.is_nan()) {
        (true, true) => std::cmp::Ordering::Equal,
        (true, false) => std::cmp::Ordering::Less,
        (false, true) => std::cmp::Ordering::Greater,
        _ => a.partial_cmp(b).unwrap_or(std::cmp::Ordering::Equal),
    }
}

const MIN_NORMAL: f64 = f64::MIN_POSITIVE;

/// Prometheus's `almost.Equal`.
pub(crate) fn almost_equal(a: f64, b: f64, epsilon: f64) -> bool {
    if strata_model::is_stale_nan(a) || strata_model::is_stale_nan(b) {
        return strata_model::is_stale_nan(a) && strata_model::is_stale_nan(b);
    }
    if a.is_nan() && b.is_nan() {
        return true;
    }
    if a == b {
        return true;
    }
    let abs_sum = a.abs() + b.abs();
    let diff = (a - b).abs();
    if a == 0.0 || b == 0.0 || abs_sum < MIN_NORMAL {
        return diff < epsilon * MIN_NORMAL;
    }
    diff / abs_sum.min(f64::MAX) < epsilon
}

/// A classic histogram bucket: upper bound and cumulative count.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Bucket {
    pub upper: f64,
    pub count: f64,
}

/// What `bucket_quantile` had to fix in its input.
#[derive(Debug, Default)]
pub(crate) struct BucketFix {
    pub forced_monotonic: bool,
    pub min_bucket: f64,
    pub max_bucket: f64,
    pub max_diff: f64,
}

/// Prometheus's `BucketQuantile` over classic `le` buckets.
pub(crate) fn bucket_quantile(q: f64, buckets: &mut Vec<Bucket>) -> (f64, BucketFix) {
    let mut fix = BucketFix::default();
    if q.is_nan() {
        return (f64::NAN, fix);
    }
    if q < 0.0 {
        return (f64::NEG_INFINITY, fix);
    }
    if q > 1.0 {
        return (f64::INFINITY, fix);
    }
    buckets.sort_by(|a, b| {
        a.upper
            .partial_cmp(&b.upper)
            .unwrap_or(std::cmp::Ordering::Equal)
    });
    match buckets.last() {
        Some(b) if b.upper == f64::INFINITY => {}
        _ => return (f64::NAN, fix),
    }
    // Coalesce buckets with the same upper bound.
    let mut out: Vec<Bucket> = Vec::with_capacity(buckets.len());
    for b in buckets.iter() {
        match out.last_mut() {
            Some(l) if l.upper == b.upper => l.count += b.count,
            _ => out.push(*b),
        }
    }
    *buckets = out;
    // Ensure monotonicity, ignoring tiny float deltas.
    fix.min_bucket = f64::INFINITY;
    fix.max_bucket = f64::NEG_INFINITY;
    let mut prev = buckets[0].count;
    for b in buckets.iter_mut().skip(1) {
        let curr = b.count;
        if curr == prev {
            continue;
        }
        if almost_equal(prev, curr, 1e-12) {
            b.count = prev;
            continue;
        }
        if curr < prev {
            b.count = prev;
            fix.forced_monotonic = true;
            fix.min_bucket = fix.min_bucket.min(b.upper);
            fix.max_bucket = fix.max_bucket.max(b.upper);
            if prev - curr > fix.max_diff {
                fix.max_diff = prev - curr;
            }
            continue;
        }
        prev = curr;
    }
    if buckets.len() < 2 {
        return (f64::NAN, fix);
    }
    let observations = buckets[buckets.len() - 1].count;
    if observations == 0.0 {
        return (f64::NAN, fix);
    }
    let mut rank = q * observations;
    let last = buckets.len() - 1;
    let b = buckets[..last].partition_point(|x| x.count < rank);
    let v = if b == last {
        buckets[last - 1].upper
    } else if b == 0 && buckets[0].upper <= 0.0 {
        buckets[0].upper
    } else {
        let mut start = 0.0;
        let end = buckets[b].upper;
        let mut count = buckets[b].count;
        if b > 0 {
            start = buckets[b - 1].upper;
            count -= buckets[b - 1].count;
            rank -= buckets[b - 1].count;
        }
        start + (end - start) * (rank / count)
    };
    (v, fix)
}

/// Prometheus's `BucketFraction`: the estimated fraction of observations in `[lower, upper]`.
pub(crate) fn bucket_fraction(lower: f64, upper: f64, buckets: &mut Vec<Bucket>) -> f64 {
    buckets.sort_by(|a, b| {
        a.upper
            .partial_cmp(&b.upper)
            .unwrap_or(std::cmp::Ordering::Equal)
    });
    match buckets.last() {
        Some(b) if b.upper == f64::INFINITY => {}
        _ => return f64::NAN,
    }
    let mut out: Vec<Bucket> = Vec::with_capacity(buckets.len());
    for b in buckets.iter() {
        match out.last_mut() {
            Some(l) if l.upper == b.upper => l.count += b.count,
            _ => out.push(*b),
        }
    }
    *buckets = out;
    let count = buckets[buckets.len() - 1].count;
    if count == 0.0 || lower.is_nan() || upper.is_nan() {
        return f64::NAN;
    }
    if lower >= upper {
        return 0.0;
    }
    let (mut rank, mut lower_rank, mut upper_rank) = (0.0, 0.0, 0.0);
    let (mut lower_set, mut upper_set) = (false, false);
    let mut lower_bound = if buckets[0].upper <= 0.0 {
        f64::NEG_INFINITY
    } else {
        0.0
    };
    for i in 0..buckets.len() {
        if i > 0 {
            lower_bound = buckets[i - 1].upper;
        }
        let b = buckets[i];
        let upper_bound = b.upper;
        let interp = |v: f64| {
            if lower_bound == f64::NEG_INFINITY {
                b.count
            } else {
                rank + (b.count - rank) * (v - lower_bound) / (upper_bound - lower_bound)
            }
        };
        if !lower_set && lower_bound >= lower {
            lower_rank = rank;
            lower_set = true;
        }
        if !upper_set && lower_bound >= upper {
            upper_rank = rank;
            upper_set = true;
        }
        if lower_set && upper_set {
            break;
        }
        if !lower_set && lower_bound < lower && upper_bound > lower {
            lower_rank = interp(lower);
            lower_set = true;
        }
        if !upper_set && lower_bound < upper && upper_bound > upper {
            upper_rank = interp(upper);
            upper_set = true;
        }
        if lower_set && upper_set {
            break;
        }
        rank = b.count;
    }
    if !lower_set || lower_rank > count {
        lower_rank = count;
    }
    if !upper_set || upper_rank > count {
        upper_rank = count;
    }
    (upper_rank - lower_rank) / count
}

/// Go's `strconv.FormatFloat(f, 'f', -1, 64)`, as label values of `count_values`.
pub(crate) fn format_float_label(f: f64) -> String {
    if f.is_nan() {
        "NaN".into()
    } else if f == f64::INFINITY {
        "+Inf".into()
    } else if f == f64::NEG_INFINITY {
        "-Inf".into()
    } else {
        format!("{f}")
    }
}

/// Prometheus's `FormatOpenMetricsFloat`: `%g`, with `.0` appended to integers.
pub(crate) fn format_openmetrics_float(f: f64) -> String {
    let s = fmt_g(f);
    if !f.is_finite() || s.contains(['e', '.']) {
        s
    } else {
        s + ".0"
    }
}

/// Go's `%g` for a float64 (shortest representation).
pub(crate) fn fmt_g(f: f64) -> String {
    if f.is_nan() {
        return "NaN".into();
    }
    if f.is_infinite() {
        return if f > 0.0 {
            "+Inf".into()
        } else {
            "-Inf".into()
        };
    }
    if f == 0.0 {
        return if f.is_sign_negative() {
            "-0".into()
        } else {
            "0".into()
        };
    }
    let e = format!("{f:e}");
    let (mant, exp) = e.split_once('e').unwrap_or((&e, "0"));
    let exp: i32 = exp.parse().unwrap_or(0);
    if !(-4..6).contains(&exp) {
        let sign = if exp < 0 { '-' } else { '+' };
        format!("{mant}e{sign}{:02}", exp.abs())
    } else {
        format!("{f}")
    }
}

/// Days since 1970-01-01 to (year, month 1-12, day 1-31), proleptic Gregorian.
pub(crate) fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

pub(crate) fn is_leap(y: i64) -> bool {
    (y % 4 == 0 && y % 100 != 0) || y % 400 == 0
}

pub(crate) fn days_in_month(y: i64, m: u32) -> u32 {
    match m {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        _ => {
            if is_leap(y) {
                29
            } else {
                28
            }
        }
    }
}

/// Go's `%.<prec>g`.
pub(crate) fn fmt_g_prec(f: f64, prec: usize) -> String {
    if !f.is_finite() || f == 0.0 {
        return fmt_g(f);
    }
    let prec = prec.max(1);
    let e = format!("{:.*e}", prec - 1, f);
    let (mant, exp) = e.split_once('e').unwrap_or((&e, "0"));
    let exp: i32 = exp.parse().unwrap_or(0);
    let trim = |s: &str| -> String {
        if s.contains('.') {
            s.trim_end_matches('0').trim_end_matches('.').to_string()
        } else {
            s.to_string()
        }
    };
    if exp < -4 || exp >= prec as i32 {
        let sign = if exp < 0 { '-' } else { '+' };
        format!("{}e{sign}{:02}", trim(mant), exp.abs())
    } else {
        let decimals = (prec as i32 - 1 - exp).max(0) as usize;
        trim(&format!("{:.*}", decimals, f))
    }
}

/// `time.Unix(secs, 0).UTC().Format(time.RFC3339)`.
pub(crate) fn rfc3339(secs: i64) -> String {
    let (y, m, d) = civil_from_days(secs.div_euclid(86_400));
    let r = secs.rem_euclid(86_400);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
        r / 3600,
        (r % 3600) / 60,
        r % 60
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The definition: a stable sort (NaN first), then interpolation between two ranks.
    fn quantile_by_sorting(q: f64, values: &[f64]) -> f64 {
        let mut v = values.to_vec();
        v.sort_by(quantile_order);
        let n = v.len() as f64;
        let rank = q * (n - 1.0);
        let lower = rank.floor().max(0.0);
        let upper = (lower + 1.0).min(n - 1.0);
        let weight = rank - rank.floor();
        v[lower as usize] * (1.0 - weight) + v[upper as usize] * weight
    }

    #[test]
    fn quantile_keeps_the_sign_of_the_zero_a_stable_sort_puts_there() {
        // Interleaved: 40 zeros, the first 20 negative, among larger values on both sides.
        let mut values: Vec<f64> = Vec::new();
        for i in 0..40 {
            values.push(if i < 20 { -0.0 } else { 0.0 });
            values.push(if i % 2 == 0 { 5.0 } else { -5.0 });
        }
        // Ranks 20..=39 of 80 are the first zeros in input order: all -0.
        for q in [21.0 / 79.0, 30.0 / 79.0, 38.0 / 79.0] {
            let got = quantile(q, &mut values.clone());
            let want = quantile_by_sorting(q, &values);
            assert_eq!(
                got.to_bits(),
                want.to_bits(),
                "q={q}: got {got}, want {want}"
            );
        }
        // Zeros of both signs in a random order, long enough for selection to reorder them.
        let mut seed: u64 = 7;
        for _ in 0..20 {
            let values: Vec<f64> = (0..400)
                .map(|_| {
                    seed = seed
                        .wrapping_mul(6_364_136_223_846_793_005)
                        .wrapping_add(1_442_695_040_888_963_407);
                    [-0.0, 0.0, -1.0, 1.0][(seed >> 33) as usize % 4]
                })
                .collect();
            for k in 0..400 {
                let q = k as f64 / 399.0;
                let got = quantile(q, &mut values.clone());
                let want = quantile_by_sorting(q, &values);
                assert_eq!(
                    got.to_bits(),
                    want.to_bits(),
                    "q={q}: got {got}, want {want}"
                );
            }
        }
    }

    #[test]
    fn quantile_by_selection_equals_sorting_bit_for_bit() {
        // Few distinct values, so ties, signed zeros and NaNs meet often; lengths past the
        // small-slice cut-off, where selection stops being an insertion sort.
        let pool = [
            -0.0,
            0.0,
            f64::NAN,
            1.0,
            -1.0,
            2.5,
            f64::INFINITY,
            f64::NEG_INFINITY,
            1e-300,
        ];
        let mut seed: u64 = 0x9e37_79b9_7f4a_7c15;
        let mut next = move || {
            seed = seed
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1_442_695_040_888_963_407);
            (seed >> 33) as usize
        };
        for _ in 0..3000 {
            let len = 1 + next() % 120;
            let values: Vec<f64> = (0..len).map(|_| pool[next() % pool.len()]).collect();
            for q in [0.0, 0.1, 0.25, 0.5, 0.9, 0.99, 1.0] {
                let want = quantile_by_sorting(q, &values);
                let got = quantile(q, &mut values.clone());
                assert!(
                    got.to_bits() == want.to_bits() || (got.is_nan() && want.is_nan()),
                    "q={q} values={values:?}: got {got}, want {want}"
                );
            }
        }
    }

    #[test]
    fn go_g_formatting() {
        assert_eq!(fmt_g(1.5), "1.5");
        assert_eq!(fmt_g(-0.5), "-0.5");
        assert_eq!(fmt_g(1e6), "1e+06");
        assert_eq!(fmt_g(123456.0), "123456");
        assert_eq!(fmt_g(0.00001), "1e-05");
        assert_eq!(fmt_g(f64::NAN), "NaN");
    }

    #[test]
    fn civil_dates() {
        assert_eq!(civil_from_days(0), (1970, 1, 1));
        assert_eq!(civil_from_days(-1), (1969, 12, 31));
        assert_eq!(civil_from_days(19_782), (2024, 2, 29));
    }

    #[test]
    fn kahan_recovers_lost_low_bits() {
        let (mut s, mut c) = (0.0, 0.0);
        for x in [1e100, 1.0, -1e100] {
            (s, c) = kahan_inc(x, s, c);
        }
        assert_eq!(s + c, 1.0);
    }

    #[test]
    fn classic_quantile_interpolates() {
        let mut b = vec![
            Bucket {
                upper: 1.0,
                count: 10.0,
            },
            Bucket {
                upper: 2.0,
                count: 20.0,
            },
            Bucket {
                upper: f64::INFINITY,
                count: 20.0,
            },
        ];
        let (v, fix) = bucket_quantile(0.75, &mut b);
        assert_eq!(v, 1.5);
        assert!(!fix.forced_monotonic);
    }
}
