use strata_chunkenc::{Chunk, ChunkError, XorIterator};
use strata_model::{Labels, Sample};

/// An encoded chunk with the time range it covers (inclusive, milliseconds).
#[derive(Clone, Debug, PartialEq)]
pub struct ChunkMeta {
    /// First sample's timestamp.
    pub min_time: i64,
    /// Last sample's timestamp.
    pub max_time: i64,
    /// The encoded samples.
    pub chunk: Chunk,
}

/// One series as read from storage: its labels and its chunks, sorted by `min_time`.
#[derive(Clone, Debug, PartialEq)]
pub struct Series {
    /// The series' identity.
    pub labels: Labels,
    /// Chunks sorted by `min_time`; they may overlap when they come from replicas.
    pub chunks: Vec<ChunkMeta>,
}

impl Series {
    /// Iterates the float samples in increasing time order; where chunks overlap, the first
    /// chunk's sample at a timestamp wins and the others are skipped.
    pub fn iter(&self) -> SeriesIter<'_> {
        SeriesIter {
            chunks: &self.chunks,
            next_chunk: 0,
            cur: Vec::new(),
            last_t: i64::MIN,
            err: None,
        }
    }

    /// Decodes all samples into a vector; errors name the series.
    pub fn samples(&self) -> Result<Vec<Sample>, ChunkError> {
        let mut it = self.iter();
        let out: Vec<Sample> = it.by_ref().collect();
        match it.err {
            Some(e) => Err(e),
            None => Ok(out),
        }
    }
}

/// Iterates a series' samples across chunks. See [`Series::iter`].
pub struct SeriesIter<'a> {
    chunks: &'a [ChunkMeta],
    next_chunk: usize,
    /// Decoders of the open chunks, each with its next sample.
    cur: Vec<(XorIterator<'a>, Sample)>,
    last_t: i64,
    err: Option<ChunkError>,
}

impl SeriesIter<'_> {
    /// The error that ended iteration early, if any: the caller must check it.
    pub fn err(&self) -> Option<&ChunkError> {
        self.err.as_ref()
    }

    fn open_next(&mut self) -> bool {
        let Some(c) = self.chunks.get(self.next_chunk) else {
            return false;
        };
        self.next_chunk += 1;
        match c.chunk.xor_iter() {
            Ok(mut it) => {
                match it.next() {
                    Some(s) => self.cur.push((it, s)),
                    None => self.err = it.err().cloned(),
                }
                self.err.is_none()
            }
            Err(e) => {
                self.err = Some(e);
                false
            }
        }
    }
}

impl Iterator for SeriesIter<'_> {
    type Item = Sample;

    fn next(&mut self) -> Option<Sample> {
        loop {
            if self.err.is_some() {
                return None;
            }
            let earliest = self.cur.iter().map(|(_, s)| s.t).min();
            // Open the next chunk while it may hold a sample at or before the earliest pending one.
            let need_more = match (earliest, self.chunks.get(self.next_chunk)) {
                (None, Some(_)) => true,
                (Some(t), Some(c)) => c.min_time <= t,
                _ => false,
            };
            if need_more {
                if !self.open_next() && self.err.is_some() {
                    return None;
                }
                continue;
            }
            let earliest = earliest?;
            let mut out = None;
            let mut i = 0;
            while i < self.cur.len() {
                if self.cur[i].1.t != earliest {
                    i += 1;
                    continue;
                }
                let s = self.cur[i].1;
                out.get_or_insert(s);
                match self.cur[i].0.next() {
                    Some(n) => {
                        self.cur[i].1 = n;
                        i += 1;
                    }
                    None => {
                        if let Some(e) = self.cur[i].0.err() {
                            self.err = Some(e.clone());
                            return None;
                        }
                        self.cur.swap_remove(i);
                    }
                }
            }
            if let Some(s) = out {
                if s.t > self.last_t {
                    self.last_t = s.t;
                    return Some(s);
                }
            }
        }
    }
}

/// Merges series from several sources (replicas, head and blocks): sorts by labels and joins
/// the chunks of equal label sets, sorted by `min_time`.
pub fn merge_series(mut all: Vec<Series>) -> Vec<Series> {
    all.sort_by(|a, b| a.labels.cmp(&b.labels));
    let mut out: Vec<Series> = Vec::with_capacity(all.len());
    for s in all {
        match out.last_mut() {
            Some(prev) if prev.labels == s.labels => {
                prev.chunks.extend(s.chunks);
                prev.chunks.sort_by_key(|c| c.min_time);
            }
            _ => out.push(s),
        }
    }
    out
}

/// Takes the head of list `i` and moves past it.
fn take_head(lists: &mut [Vec<Option<Series>>], pos: &mut [usize], i: usize) -> Option<Series> {
    let s = lists[i].get_mut(pos[i]).and_then(Option::take);
    pos[i] += 1;
    s
}

/// As [`merge_series`] over the concatenation of `lists`, for lists each already sorted by
/// labels (as every [`crate::Querier::select`] answer is): a k-way merge, so equal label
/// sets across lists are found with a few comparisons each instead of a sort of everything.
/// Equal label sets are joined in list order and their chunks sorted by `min_time`, exactly
/// as [`merge_series`] does.
pub fn merge_sorted_series(lists: Vec<Vec<Series>>) -> Vec<Series> {
    let mut lists: Vec<Vec<Series>> = lists.into_iter().filter(|l| !l.is_empty()).collect();
    match lists.len() {
        0 => return Vec::new(),
        1 => return merge_series(lists.pop().unwrap_or_default()),
        _ => {}
    }
    debug_assert!(lists
        .iter()
        .all(|l| l.windows(2).all(|w| w[0].labels <= w[1].labels)));
    let total: usize = lists.iter().map(Vec::len).sum();
    let mut lists: Vec<Vec<Option<Series>>> = lists
        .into_iter()
        .map(|l| l.into_iter().map(Some).collect())
        .collect();
    let mut pos = vec![0usize; lists.len()];
    let mut out: Vec<Series> = Vec::with_capacity(total);
    let mut equal: Vec<usize> = Vec::with_capacity(lists.len());
    loop {
        // The lists whose head holds the smallest label set, in list order.
        equal.clear();
        for i in 0..lists.len() {
            let Some(cand) = lists[i].get(pos[i]).and_then(Option::as_ref) else {
                continue;
            };
            match equal
                .first()
                .and_then(|&m| lists[m].get(pos[m]).and_then(Option::as_ref))
            {
                None => equal.push(i),
                Some(min) => match cand.labels.cmp(&min.labels) {
                    std::cmp::Ordering::Less => {
                        equal.clear();
                        equal.push(i);
                    }
                    std::cmp::Ordering::Equal => equal.push(i),
                    std::cmp::Ordering::Greater => {}
                },
            }
        }
        let Some(&first) = equal.first() else { break };
        let Some(mut merged) = take_head(&mut lists, &mut pos, first) else {
            break;
        };
        let mut joined = false;
        for (k, &i) in equal.iter().enumerate() {
            if k > 0 {
                if let Some(s) = take_head(&mut lists, &mut pos, i) {
                    merged.chunks.extend(s.chunks);
                    joined = true;
                }
            }
            // A list repeating a label set: take its copies too, still in list order.
            while lists[i]
                .get(pos[i])
                .and_then(Option::as_ref)
                .is_some_and(|n| n.labels == merged.labels)
            {
                if let Some(s) = take_head(&mut lists, &mut pos, i) {
                    merged.chunks.extend(s.chunks);
                    joined = true;
                }
            }
        }
        if joined {
            merged.chunks.sort_by_key(|c| c.min_time);
        }
        out.push(merged);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use strata_chunkenc::encode_xor;

    fn meta(samples: &[(i64, f64)]) -> ChunkMeta {
        let s: Vec<Sample> = samples.iter().map(|&(t, v)| Sample::new(t, v)).collect();
        ChunkMeta {
            min_time: s[0].t,
            max_time: s[s.len() - 1].t,
            chunk: encode_xor(&s),
        }
    }

    #[test]
    fn iterates_sequential_chunks() {
        let s = Series {
            labels: Labels::from_pairs([("a", "1")]),
            chunks: vec![meta(&[(1, 1.0), (2, 2.0)]), meta(&[(3, 3.0)])],
        };
        let ts: Vec<i64> = s.iter().map(|s| s.t).collect();
        assert_eq!(ts, vec![1, 2, 3]);
    }

    #[test]
    fn merging_sorted_lists_equals_merging_their_concatenation() {
        let series = |name: &str, t: i64| Series {
            labels: Labels::from_pairs([("a", name)]),
            chunks: vec![meta(&[(t, t as f64)])],
        };
        let lists = vec![
            vec![series("a", 5), series("c", 1), series("d", 2)],
            Vec::new(),
            vec![
                series("a", 1),
                series("b", 3),
                series("d", 2),
                series("d", 9),
            ],
            vec![series("c", 0), series("e", 4)],
        ];
        let want = merge_series(lists.iter().flatten().cloned().collect());
        let got = merge_sorted_series(lists);
        assert_eq!(got, want);
        let names: Vec<String> = got.iter().map(|s| s.labels.to_string()).collect();
        assert_eq!(
            names,
            [
                r#"{a="a"}"#,
                r#"{a="b"}"#,
                r#"{a="c"}"#,
                r#"{a="d"}"#,
                r#"{a="e"}"#
            ]
        );
        let d: Vec<i64> = got[3].chunks.iter().map(|c| c.min_time).collect();
        assert_eq!(d, [2, 2, 9]);
        assert!(merge_sorted_series(vec![Vec::new(), Vec::new()]).is_empty());
    }

    #[test]
    fn deduplicates_overlapping_replicas() {
        let s = merge_series(vec![
            Series {
                labels: Labels::from_pairs([("a", "1")]),
                chunks: vec![meta(&[(1, 1.0), (3, 3.0), (5, 5.0)])],
            },
            Series {
                labels: Labels::from_pairs([("a", "1")]),
                chunks: vec![meta(&[(2, 2.0), (3, 3.0), (4, 4.0)])],
            },
        ]);
        assert_eq!(s.len(), 1);
        let ts: Vec<i64> = s[0].iter().map(|s| s.t).collect();
        assert_eq!(ts, vec![1, 2, 3, 4, 5]);
    }
}
