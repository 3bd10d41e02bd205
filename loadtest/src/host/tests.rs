use super::*;

fn params(seed: u64, extra: usize, reset_prob: f64) -> HostParams {
    HostParams {
        seed,
        extra_labels: extra,
        reset_prob,
        interval_ms: 15_000,
    }
}

const T0: i64 = 1_700_000_000_000;

fn run(p: &HostParams, index: u32, ticks: i64) -> (Vec<u64>, Vec<Vec<u64>>, Vec<i64>) {
    let mut h = Host::new(p, index, 0, usize::MAX);
    let hashes = h.series().iter().map(|s| s.hash).collect();
    let mut vals = Vec::new();
    let mut ts = Vec::new();
    for k in 0..ticks {
        h.advance(T0 + k * p.interval_ms, p);
        vals.push(h.values().iter().map(|v| v.to_bits()).collect());
        ts.push(h.timestamp());
    }
    (hashes, vals, ts)
}

#[test]
fn generation_is_deterministic_for_a_seed() {
    let p = params(42, 10, 0.01);
    assert_eq!(run(&p, 7, 50), run(&p, 7, 50));
    let other_seed = run(&params(43, 10, 0.01), 7, 50);
    assert_ne!(run(&p, 7, 50).1, other_seed.1, "seed changes values");
    assert_ne!(run(&p, 7, 1).0, run(&p, 8, 1).0, "hosts differ");
}

#[test]
fn label_counts_stay_within_bounds() {
    for extra in [MIN_EXTRA_LABELS, 10, MAX_EXTRA_LABELS] {
        let p = params(1, extra, 0.0);
        for index in 0..20 {
            let h = Host::new(&p, index, 0, usize::MAX);
            for s in h.series() {
                let ls = s.labels();
                assert!(
                    (MIN_LABELS..=MAX_LABELS).contains(&ls.len()),
                    "{ls} has {} labels",
                    ls.len()
                );
                assert!(ls.len() >= 3 + extra && ls.len() <= 6 + extra);
                assert!(ls.iter().all(|l| !l.value.is_empty()), "{ls}");
                assert_eq!(s.hash, ls.stable_hash());
            }
        }
    }
    assert_eq!(MIN_LABELS, 10);
    assert_eq!(MAX_LABELS, 30);
}

#[test]
fn series_are_unique_across_hosts() {
    let p = params(5, 10, 0.0);
    let mut all: Vec<u64> = (0..50)
        .flat_map(|i| Host::new(&p, i, 0, usize::MAX).series().to_vec())
        .map(|s| s.hash)
        .collect();
    let n = all.len();
    all.sort_unstable();
    all.dedup();
    assert_eq!(all.len(), n);
}

#[test]
fn counters_are_monotonic_except_at_resets() {
    let p = params(3, 8, 0.02);
    let mut resets_seen = 0;
    for index in 0..5 {
        let mut h = Host::new(&p, index, 0, usize::MAX);
        h.advance(T0, &p);
        let mut prev = h.values().to_vec();
        for k in 1..400 {
            let reset = h.advance(T0 + k * p.interval_ms, &p);
            let mut dropped = false;
            for (i, s) in h.series().iter().enumerate() {
                if s.kind == MetricKind::Gauge {
                    continue;
                }
                let v = h.values()[i];
                assert!(v.is_finite() && v >= 0.0);
                if v < prev[i] {
                    assert!(
                        reset,
                        "{} went {} -> {v} without a reset",
                        s.labels(),
                        prev[i]
                    );
                    dropped = true;
                }
            }
            if reset {
                resets_seen += 1;
                assert!(dropped, "a restart resets counters");
            }
            prev.copy_from_slice(h.values());
        }
    }
    assert!(
        resets_seen > 0,
        "reset_prob 0.02 over 2000 scrapes resets something"
    );
}

#[test]
fn histograms_are_consistent() {
    let p = params(11, 8, 0.0);
    let mut h = Host::new(&p, 0, 0, usize::MAX);
    for k in 0..30 {
        h.advance(T0 + k * p.interval_ms, &p);
        let mut buckets: Vec<(f64, f64)> = Vec::new();
        let mut count = None;
        for (s, v) in h.series().iter().zip(h.values()) {
            let ls = s.labels();
            if ls.get("handler") != Some("/api/v1/query") {
                continue;
            }
            match ls.metric_name() {
                Some("http_request_duration_seconds_bucket") => {
                    let le = ls.get("le").expect("le");
                    let le = if le == "+Inf" {
                        f64::INFINITY
                    } else {
                        le.parse().expect("le number")
                    };
                    buckets.push((le, *v));
                }
                Some("http_request_duration_seconds_count") => count = Some(*v),
                _ => {}
            }
        }
        buckets.sort_by(|a, b| a.0.total_cmp(&b.0));
        assert_eq!(buckets.len(), 12);
        assert!(buckets.windows(2).all(|w| w[0].1 <= w[1].1), "{buckets:?}");
        assert_eq!(count, Some(buckets[11].1));
    }
}

#[test]
fn values_look_like_exporter_output() {
    let p = params(2, 8, 0.0);
    let mut h = Host::new(&p, 3, 0, usize::MAX);
    let mut last_t = None;
    for k in 0..100 {
        h.advance(T0 + k * p.interval_ms, &p);
        if let Some(lt) = last_t {
            let d: i64 = h.timestamp() - lt;
            assert!((p.interval_ms - 4..=p.interval_ms + 4).contains(&d), "{d}");
        }
        last_t = Some(h.timestamp());
        for (s, v) in h.series().iter().zip(h.values()) {
            let ls = s.labels();
            let name = ls.metric_name().unwrap_or("");
            if name.starts_with("node_memory_") || name.starts_with("node_filesystem_") {
                assert_eq!(v % 4096.0, 0.0, "{ls} = {v} not in pages");
            }
            if name.ends_with("_bytes_total") && name.starts_with("node_network") {
                assert_eq!(v.fract(), 0.0, "{ls} = {v}");
            }
            if name == "node_cpu_seconds_total" {
                assert!(((v * 100.0).round() - v * 100.0).abs() < 1e-6, "{v}");
            }
        }
    }
}

#[test]
fn max_series_cuts_a_host_short() {
    let p = params(1, 8, 0.0);
    let full = Host::new(&p, 0, 0, usize::MAX);
    let cut = Host::new(&p, 0, 0, 10);
    assert_eq!(cut.series().len(), 10);
    assert!(full.series().len() > 60);
    let a: Vec<u64> = full.series()[..10].iter().map(|s| s.hash).collect();
    let b: Vec<u64> = cut.series().iter().map(|s| s.hash).collect();
    assert_eq!(a, b);
}

#[test]
fn churn_replaces_identity_and_restarts_counters() {
    let p = params(8, 10, 0.0);
    let mut h = Host::new(&p, 4, 1, usize::MAX);
    h.advance(T0, &p);
    let before: Vec<u64> = h.series().iter().map(|s| s.hash).collect();
    let inst_before = h.series()[0].labels().get("instance").map(str::to_string);
    let cpu_before = h.values()[0];
    h.replace(&p);
    h.advance(T0 + p.interval_ms, &p);
    assert_eq!(h.generation(), 1);
    assert_eq!(h.tenant(), 1);
    assert_eq!(h.series().len(), before.len());
    assert!(h.series().iter().all(|s| !before.contains(&s.hash)));
    assert_ne!(
        h.series()[0].labels().get("instance").map(str::to_string),
        inst_before
    );
    assert!(
        h.values()[0] < cpu_before,
        "a new host's counters start near zero"
    );
}

#[test]
fn rw1_label_bytes_decode_to_the_labels() {
    let p = params(1, 12, 0.0);
    let h = Host::new(&p, 0, 0, usize::MAX);
    for s in h.series() {
        assert_eq!(encode_rw1_labels(&s.labels()), s.rw1_labels);
    }
}
