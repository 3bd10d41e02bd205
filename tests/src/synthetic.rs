//! A deterministic synthetic data set for PromQL comparisons, built to keep clear of the
//! places where Prometheus versions differ.
//!
//! Every series has [`SAMPLES`] samples [`SCRAPE_MS`] apart, at [`SAMPLE_PHASE_MS`] past a
//! multiple of 15 s since the epoch: subquery steps (epoch multiples of 5 s) and any time at a
//! half second minus a whole-second range never land on a sample, so left-closed (2.x) and
//! left-open (3.x) range selection agree. Contents: counters `http_requests_total{job,
//! instance, method}` starting at 1000+ (three reset once or twice), gauges
//! `temperature_celsius{site, room}`, `balance{account}` (negative too), `memory_bytes`,
//! `instance_weight`, `build_info{version}`, classic histograms
//! `request_duration_seconds_{bucket{le},sum,count}{job}` with float-formatted `le`,
//! `weird_labels{v}` with quotes, backslashes and non-ASCII, and `queue_depth{instance}`
//! with NaN values, a stale gap (q1: samples 200..=214) and an end by stale marker (q2: at
//! sample 200). Values depend only on the sample index, never on the wall clock.

use strata_proto::prometheus::WriteRequest;

use crate::fixtures::{series, write_request};
use crate::TimestampMs;

/// The sample interval.
pub const SCRAPE_MS: i64 = 15_000;
/// Samples per series (65 minutes).
pub const SAMPLES: i64 = 260;
/// Samples sit this far past a multiple of 15 s since the epoch.
pub const SAMPLE_PHASE_MS: i64 = 3_000;
/// Samples per write request: each request covers one time slice of every series, in time
/// order, so a Prometheus 2.x head (which refuses samples older than its max time - 1 h)
/// takes them all.
pub const SLICE: i64 = 40;
/// The stale marker's bit pattern (Prometheus's `value.StaleNaN`).
pub const STALE_NAN_BITS: u64 = 0x7ff0_0000_0000_0002;

/// The first sample's timestamp for a data set whose last sample is at or before `end`.
pub fn first_sample_before(end: TimestampMs) -> TimestampMs {
    let last = end - (end - SAMPLE_PHASE_MS).rem_euclid(SCRAPE_MS);
    last - (SAMPLES - 1) * SCRAPE_MS
}

/// One series of the data set.
#[derive(Clone, Debug, PartialEq)]
pub struct DataSeries {
    /// Label pairs, `__name__` included (unsorted).
    pub labels: Vec<(String, String)>,
    /// Samples in time order; NaN and stale markers included.
    pub samples: Vec<(TimestampMs, f64)>,
}

fn labels(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

/// The whole data set; `first` is the first sample's timestamp (see [`first_sample_before`]).
pub fn build_data(first: TimestampMs) -> Vec<DataSeries> {
    let ts = |i: i64| first + i * SCRAPE_MS;
    let mut out = Vec::new();

    // Counters: 12 series; k % 4 == 1 resets at sample 100, k == 6 at 180.
    let mut k = 0usize;
    for job in ["api", "web"] {
        for instance in ["a", "b", "c"] {
            for method in ["get", "post"] {
                let mut v = 1000.0 + 137.0 * k as f64;
                let mut samples = Vec::new();
                for i in 0..SAMPLES {
                    let reset = (k % 4 == 1 && i == 100) || (k == 6 && i == 180);
                    if reset {
                        v = ((i as usize + k) % 5) as f64 + 2.0;
                    } else if i > 0 {
                        v += ((i as usize * 7 + k * 13) % 11) as f64 + 0.25 * (k % 4) as f64;
                    }
                    samples.push((ts(i), v));
                }
                out.push(DataSeries {
                    labels: labels(&[
                        ("__name__", "http_requests_total"),
                        ("job", job),
                        ("instance", instance),
                        ("method", method),
                    ]),
                    samples,
                });
                k += 1;
            }
        }
    }

    // Gauges.
    let mut k = 0usize;
    for site in ["north", "south"] {
        for room in ["r1", "r2", "r3"] {
            let samples = (0..SAMPLES)
                .map(|i| {
                    let x = i as f64 * 0.1 + k as f64;
                    (ts(i), 20.0 + 5.0 * x.sin() + 0.01 * k as f64)
                })
                .collect();
            out.push(DataSeries {
                labels: labels(&[
                    ("__name__", "temperature_celsius"),
                    ("site", site),
                    ("room", room),
                ]),
                samples,
            });
            k += 1;
        }
    }
    for (k, account) in ["x", "y", "z"].iter().enumerate() {
        let samples = (0..SAMPLES)
            .map(|i| {
                let x = i as f64 * 0.07 + k as f64 * 1.3;
                (ts(i), 30.0 * x.cos() + k as f64 + 0.5)
            })
            .collect();
        out.push(DataSeries {
            labels: labels(&[("__name__", "balance"), ("account", account)]),
            samples,
        });
    }
    for (k, instance) in ["a", "b", "c"].iter().enumerate() {
        let samples = (0..SAMPLES)
            .map(|i| {
                let v = 1.0e9 + (k as f64) * 3.0e8 + ((i * 7919) % 1013) as f64 * 4096.0;
                (ts(i), v)
            })
            .collect();
        out.push(DataSeries {
            labels: labels(&[("__name__", "memory_bytes"), ("instance", instance)]),
            samples,
        });
        out.push(DataSeries {
            labels: labels(&[("__name__", "instance_weight"), ("instance", instance)]),
            samples: (0..SAMPLES).map(|i| (ts(i), k as f64 + 1.0)).collect(),
        });
        let version = ["1.0", "1.1", "2.0"][k];
        out.push(DataSeries {
            labels: labels(&[
                ("__name__", "build_info"),
                ("instance", instance),
                ("version", version),
            ]),
            samples: (0..SAMPLES).map(|i| (ts(i), 1.0)).collect(),
        });
    }

    // Label values with quotes, backslashes and non-ASCII text.
    for (k, v) in ["quote\"back\\slash", "grüße 日本", "plain"]
        .iter()
        .enumerate()
    {
        out.push(DataSeries {
            labels: labels(&[("__name__", "weird_labels"), ("v", v)]),
            samples: (0..SAMPLES)
                .map(|i| (ts(i), (k as f64 + 1.0) * 0.5))
                .collect(),
        });
    }

    // NaN values and stale markers: q1 has NaNs and a stale gap (samples 200-214), q2 ends at
    // sample 200 with a stale marker (absent in the last 15 minutes).
    let stale = f64::from_bits(STALE_NAN_BITS);
    let mut q1 = Vec::new();
    for i in 0..SAMPLES {
        if (201..215).contains(&i) {
            continue;
        }
        let v = if i == 200 {
            stale
        } else if i % 23 == 5 {
            f64::NAN
        } else {
            (i % 9) as f64
        };
        q1.push((ts(i), v));
    }
    out.push(DataSeries {
        labels: labels(&[("__name__", "queue_depth"), ("instance", "q1")]),
        samples: q1,
    });
    let mut q2: Vec<(TimestampMs, f64)> = (0..200).map(|i| (ts(i), (i % 4) as f64 + 0.5)).collect();
    q2.push((ts(200), stale));
    out.push(DataSeries {
        labels: labels(&[("__name__", "queue_depth"), ("instance", "q2")]),
        samples: q2,
    });

    // Classic histograms: cumulative buckets with float-formatted `le`.
    const LES: [(&str, f64); 7] = [
        ("0.05", 0.025),
        ("0.1", 0.075),
        ("0.25", 0.175),
        ("0.5", 0.375),
        ("1", 0.75),
        ("2.5", 1.75),
        ("+Inf", 4.0),
    ];
    for (jk, job) in ["api", "web"].iter().enumerate() {
        let mut per_bucket: Vec<f64> = (0..LES.len()).map(|j| 50.0 + 10.0 * j as f64).collect();
        let mut sum = 500.0 + 100.0 * jk as f64;
        let mut bucket_samples: Vec<Vec<(TimestampMs, f64)>> = vec![Vec::new(); LES.len()];
        let mut sums = Vec::new();
        let mut counts = Vec::new();
        for i in 0..SAMPLES {
            if i > 0 {
                for (j, (_, mid)) in LES.iter().enumerate() {
                    let n = ((i as usize * 3 + j * 5 + jk * 7) % 6) as f64;
                    per_bucket[j] += n;
                    sum += n * mid;
                }
            }
            let mut cum = 0.0;
            for (j, b) in per_bucket.iter().enumerate() {
                cum += b;
                bucket_samples[j].push((ts(i), cum));
            }
            counts.push((ts(i), cum));
            sums.push((ts(i), sum));
        }
        for ((le, _), samples) in LES.iter().zip(bucket_samples) {
            out.push(DataSeries {
                labels: labels(&[
                    ("__name__", "request_duration_seconds_bucket"),
                    ("job", job),
                    ("le", le),
                ]),
                samples,
            });
        }
        out.push(DataSeries {
            labels: labels(&[("__name__", "request_duration_seconds_sum"), ("job", job)]),
            samples: sums,
        });
        out.push(DataSeries {
            labels: labels(&[("__name__", "request_duration_seconds_count"), ("job", job)]),
            samples: counts,
        });
    }
    out
}

/// The data cut into time slices, each one write request holding every series' samples
/// in that slice.
pub fn write_requests(data: &[DataSeries]) -> Vec<WriteRequest> {
    let first = data
        .iter()
        .filter_map(|s| s.samples.first())
        .map(|s| s.0)
        .min()
        .unwrap_or(0);
    (0..SAMPLES)
        .step_by(SLICE as usize)
        .map(|start| {
            let lo = first + start * SCRAPE_MS;
            let hi = lo + SLICE * SCRAPE_MS;
            let ts = data
                .iter()
                .filter_map(|s| {
                    let samples: Vec<(TimestampMs, f64)> = s
                        .samples
                        .iter()
                        .copied()
                        .filter(|(t, _)| *t >= lo && *t < hi)
                        .collect();
                    if samples.is_empty() {
                        return None;
                    }
                    let l: Vec<(&str, &str)> = s
                        .labels
                        .iter()
                        .map(|(k, v)| (k.as_str(), v.as_str()))
                        .collect();
                    Some(series(&l, &samples))
                })
                .collect();
            write_request(ts)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn data_is_in_time_order_and_off_the_subquery_grid() {
        let first = first_sample_before(1_700_000_000_000);
        assert!(first + (SAMPLES - 1) * SCRAPE_MS <= 1_700_000_000_000);
        let data = build_data(first);
        for s in &data {
            assert!(
                s.samples.windows(2).all(|w| w[0].0 < w[1].0),
                "{:?}",
                s.labels
            );
            for (t, _) in &s.samples {
                assert_eq!(t.rem_euclid(SCRAPE_MS), SAMPLE_PHASE_MS);
                assert_ne!(t.rem_euclid(5_000), 0);
            }
        }
        let stale = data
            .iter()
            .flat_map(|s| &s.samples)
            .filter(|(_, v)| v.to_bits() == STALE_NAN_BITS)
            .count();
        assert_eq!(stale, 2);
        let reqs = write_requests(&data);
        let total: usize = reqs
            .iter()
            .flat_map(|r| &r.timeseries)
            .map(|s| s.samples.len())
            .sum();
        assert_eq!(
            total,
            data.iter().map(|s| s.samples.len()).sum::<usize>(),
            "every sample is pushed once"
        );
        // Deterministic to the bit (NaN != NaN, so compare bit patterns).
        let bits = |d: &[DataSeries]| -> Vec<Vec<(i64, u64)>> {
            d.iter()
                .map(|s| s.samples.iter().map(|(t, v)| (*t, v.to_bits())).collect())
                .collect()
        };
        let names = |d: &[DataSeries]| -> Vec<Vec<(String, String)>> {
            d.iter().map(|s| s.labels.clone()).collect()
        };
        assert_eq!(names(&build_data(first)), names(&data));
        assert_eq!(bits(&build_data(first)), bits(&data), "deterministic");
    }
}
