//! What a WAL checkpoint keeps: tenant records, the series records of series still in a
//! head (once each), samples, histograms and exemplars at or after the truncation time (the
//! later of the caller's and, per head, the time before which its durable blocks hold
//! everything, less its out-of-order window: out-of-order samples within the window may
//! still be accepted below it and live only in the head), the latest metadata per
//! metric family, and one minimum-valid-time record per head that has one. Undecodable
//! records are dropped (they would be skipped at replay anyway).

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::Arc;

use strata_wal::Compactor;

use crate::head::metadata::MetricMetadata;
use crate::head::Head;
use crate::record::{self, decode, Record, SeriesRecords};

/// Compacts the head's records for [`strata_wal::Wal::checkpoint`].
pub(crate) struct HeadCompactor {
    heads: HashMap<u32, Arc<Head>>,
    mint: i64,
    tenants: HashSet<u32>,
    series: HashSet<(u32, u64)>,
    metadata: BTreeMap<(u32, String), MetricMetadata>,
}

impl HeadCompactor {
    /// Keeps what `heads` (by WAL tenant id) still hold, samples from `mint` on.
    pub(crate) fn new(heads: HashMap<u32, Arc<Head>>, mint: i64) -> Self {
        Self {
            heads,
            mint,
            tenants: HashSet::new(),
            series: HashSet::new(),
            metadata: BTreeMap::new(),
        }
    }
}

impl HeadCompactor {
    /// Samples of `head` before this are in blocks and need no replay.
    fn keep_from(&self, head: &Head) -> i64 {
        // Only what durable blocks hold: a cut that failed after raising the minimum valid
        // time must not lose its samples from the log.
        let mvt = head
            .blocks_cover()
            .saturating_sub(head.out_of_order_window_ms());
        self.mint.max(mvt)
    }
}

impl Compactor for HeadCompactor {
    fn record(&mut self, rec: &[u8], out: &mut Vec<Vec<u8>>) {
        let Ok(rec) = decode(rec) else {
            return;
        };
        match rec {
            Record::Tenants(list) => {
                let new: Vec<(u32, &str)> = list
                    .iter()
                    .filter(|(id, _)| self.tenants.insert(*id))
                    .map(|(id, n)| (*id, n.as_str()))
                    .collect();
                if !new.is_empty() {
                    out.push(record::tenants_record(&new));
                }
            }
            Record::Series { tenant, series } => {
                let Some(head) = self.heads.get(&tenant) else {
                    // A tenant whose head is gone (or never attached): nothing to keep.
                    return;
                };
                let mut sr = SeriesRecords::new(tenant);
                for (r, labels) in &series {
                    if head.series_by_labels(labels).is_some() && self.series.insert((tenant, *r)) {
                        sr.add(
                            *r,
                            labels.iter().map(|l| (l.name.as_str(), l.value.as_str())),
                        );
                    }
                }
                sr.finish(out);
            }
            Record::Samples { tenant, samples } => {
                let Some(head) = self.heads.get(&tenant) else {
                    return;
                };
                let mint = self.keep_from(head);
                let kept: Vec<record::RefSample> =
                    samples.into_iter().filter(|s| s.t >= mint).collect();
                if !kept.is_empty() {
                    record::samples_records(tenant, &kept, out);
                }
            }
            Record::Histograms { tenant, samples } => {
                let Some(head) = self.heads.get(&tenant) else {
                    return;
                };
                let mint = self.keep_from(head);
                let kept: Vec<record::RefHistogram> =
                    samples.into_iter().filter(|s| s.t >= mint).collect();
                if !kept.is_empty() {
                    record::histogram_records(tenant, &kept, out);
                }
            }
            Record::Exemplars { tenant, exemplars } => {
                let Some(head) = self.heads.get(&tenant) else {
                    return;
                };
                let mint = self.keep_from(head);
                let kept: Vec<record::RefExemplar> =
                    exemplars.into_iter().filter(|e| e.t >= mint).collect();
                if !kept.is_empty() {
                    record::exemplar_records(tenant, &kept, out);
                }
            }
            // Written afresh for every head in `finish`.
            Record::MinValidTime { .. } => {}
            Record::Metadata { tenant, entries } => {
                for md in entries {
                    self.metadata
                        .insert((tenant, md.metric_family_name.clone()), md);
                }
            }
        }
    }

    fn finish(&mut self, out: &mut Vec<Vec<u8>>) {
        let mut mvt: Vec<(u32, i64)> = self
            .heads
            .iter()
            .map(|(id, h)| (*id, h.blocks_cover()))
            .filter(|(_, t)| *t != i64::MIN)
            .collect();
        mvt.sort_unstable();
        for (id, t) in mvt {
            out.push(record::min_valid_time_record(id, t));
        }
        let mut by_tenant: BTreeMap<u32, Vec<MetricMetadata>> = BTreeMap::new();
        for ((t, _), md) in std::mem::take(&mut self.metadata) {
            by_tenant.entry(t).or_default().push(md);
        }
        for (t, mds) in by_tenant {
            for chunk in mds.chunks(1024) {
                out.push(record::metadata_record(t, chunk));
            }
        }
    }
}
