//! Conversions between Strata's model and the protobuf messages: matchers, labels, and
//! chunked series (the ingester's `QueryStream` and remote read's streamed chunks).

use strata_chunkenc::{Chunk, Encoding};
use strata_model::{Label, Labels, MatchOp, Matcher};
use strata_proto::prometheus::{
    self as pb, chunk::Encoding as PbEncoding, label_matcher::Type as PbMatchType,
};
use strata_storage::{ChunkMeta, Series, StorageError};

/// Converts a matcher to its protobuf form.
pub fn matcher_to_proto(m: &Matcher) -> pb::LabelMatcher {
    let t = match m.op {
        MatchOp::Equal => PbMatchType::Eq,
        MatchOp::NotEqual => PbMatchType::Neq,
        MatchOp::RegexMatch => PbMatchType::Re,
        MatchOp::RegexNoMatch => PbMatchType::Nre,
    };
    pb::LabelMatcher {
        r#type: t as i32,
        name: m.name.clone(),
        value: m.value.clone(),
    }
}

/// Converts matchers to their protobuf form.
pub fn matchers_to_proto(ms: &[Matcher]) -> Vec<pb::LabelMatcher> {
    ms.iter().map(matcher_to_proto).collect()
}

/// Converts a protobuf matcher, compiling its regex; unknown types and bad regexes are errors.
pub fn matcher_from_proto(m: &pb::LabelMatcher) -> Result<Matcher, StorageError> {
    let op = match PbMatchType::try_from(m.r#type) {
        Ok(PbMatchType::Eq) => MatchOp::Equal,
        Ok(PbMatchType::Neq) => MatchOp::NotEqual,
        Ok(PbMatchType::Re) => MatchOp::RegexMatch,
        Ok(PbMatchType::Nre) => MatchOp::RegexNoMatch,
        Err(_) => {
            return Err(StorageError::BadRequest(format!(
                "unknown label matcher type {} for label {:?}",
                m.r#type, m.name
            )))
        }
    };
    Matcher::new(op, m.name.as_str(), m.value.as_str())
        .map_err(|e| StorageError::BadRequest(e.to_string()))
}

/// Converts protobuf matchers; see [`matcher_from_proto`].
pub fn matchers_from_proto(ms: &[pb::LabelMatcher]) -> Result<Vec<Matcher>, StorageError> {
    ms.iter().map(matcher_from_proto).collect()
}

/// Converts protobuf labels into a sorted label set.
pub fn labels_from_proto(ls: Vec<pb::Label>) -> Labels {
    Labels::new(
        ls.into_iter()
            .map(|l| Label::new(l.name, l.value))
            .collect(),
    )
}

/// Converts a label set to protobuf labels, in order.
pub fn labels_to_proto(ls: &Labels) -> Vec<pb::Label> {
    ls.iter()
        .map(|l| pb::Label {
            name: l.name.clone(),
            value: l.value.clone(),
        })
        .collect()
}

/// Converts a streamed series into a storage series. XOR, histogram and float histogram
/// chunks are understood; any other encoding, or a chunk without its header, is
/// [`StorageError::Corrupt`].
pub fn series_from_proto(s: pb::ChunkedSeries) -> Result<Series, StorageError> {
    let labels = labels_from_proto(s.labels);
    let mut chunks = Vec::with_capacity(s.chunks.len());
    for c in s.chunks {
        let encoding = match PbEncoding::try_from(c.r#type) {
            Ok(PbEncoding::Xor) => Encoding::Xor,
            Ok(PbEncoding::Histogram) => Encoding::Histogram,
            Ok(PbEncoding::FloatHistogram) => Encoding::FloatHistogram,
            _ => {
                return Err(StorageError::Corrupt(format!(
                    "chunk of series {labels} has unsupported encoding {}",
                    c.r#type
                )))
            }
        };
        let chunk = Chunk::new(encoding, c.data)
            .map_err(|e| StorageError::Corrupt(format!("chunk of series {labels}: {e}")))?;
        chunks.push(ChunkMeta {
            min_time: c.min_time_ms,
            max_time: c.max_time_ms,
            chunk,
        });
    }
    chunks.sort_by_key(|c| c.min_time);
    Ok(Series { labels, chunks })
}

/// Converts a chunk to its protobuf form.
pub fn chunk_to_proto(c: &ChunkMeta) -> pb::Chunk {
    let t = match c.chunk.encoding() {
        Encoding::Xor => PbEncoding::Xor,
        Encoding::Histogram => PbEncoding::Histogram,
        Encoding::FloatHistogram => PbEncoding::FloatHistogram,
    };
    pb::Chunk {
        min_time_ms: c.min_time,
        max_time_ms: c.max_time,
        r#type: t as i32,
        data: c.chunk.bytes().clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use strata_chunkenc::encode_xor;
    use strata_model::Sample;

    #[test]
    fn matchers_round_trip() {
        let ms = vec![
            Matcher::equal("__name__", "up"),
            Matcher::new(MatchOp::NotEqual, "a", "b").expect("valid"),
            Matcher::new(MatchOp::RegexMatch, "c", "d.*").expect("valid"),
            Matcher::new(MatchOp::RegexNoMatch, "e", "f|g").expect("valid"),
        ];
        let back = matchers_from_proto(&matchers_to_proto(&ms)).expect("round trip");
        assert_eq!(back, ms);
        assert!(back[2].matches("dxx"));
    }

    #[test]
    fn bad_proto_matchers_are_errors() {
        let bad_type = pb::LabelMatcher {
            r#type: 9,
            name: "a".into(),
            value: "b".into(),
        };
        assert!(matches!(
            matcher_from_proto(&bad_type),
            Err(StorageError::BadRequest(_))
        ));
        let bad_re = pb::LabelMatcher {
            r#type: PbMatchType::Re as i32,
            name: "a".into(),
            value: "(".into(),
        };
        assert!(matcher_from_proto(&bad_re).is_err());
    }

    #[test]
    fn chunked_series_converts_and_rejects_unknown_encodings() {
        let chunk = encode_xor(&[Sample::new(1, 1.0), Sample::new(2, 2.0)]);
        let mk = |t: PbEncoding| pb::ChunkedSeries {
            labels: vec![
                pb::Label {
                    name: "b".into(),
                    value: "2".into(),
                },
                pb::Label {
                    name: "a".into(),
                    value: "1".into(),
                },
            ],
            chunks: vec![pb::Chunk {
                min_time_ms: 1,
                max_time_ms: 2,
                r#type: t as i32,
                data: chunk.bytes().clone(),
            }],
        };
        let s = series_from_proto(mk(PbEncoding::Xor)).expect("xor converts");
        assert_eq!(s.labels, Labels::from_pairs([("a", "1"), ("b", "2")]));
        assert_eq!(
            s.samples().expect("decodes"),
            vec![Sample::new(1, 1.0), Sample::new(2, 2.0)]
        );
        assert_eq!(chunk_to_proto(&s.chunks[0]), mk(PbEncoding::Xor).chunks[0]);
        assert!(matches!(
            series_from_proto(mk(PbEncoding::Unknown)),
            Err(StorageError::Corrupt(_))
        ));
        // Histogram chunks pass through with their encoding.
        let h = series_from_proto(mk(PbEncoding::Histogram)).expect("histogram chunks pass");
        assert_eq!(h.chunks[0].chunk.encoding(), Encoding::Histogram);
    }
}
