//! Conversions between the wire types (`strata_proto`) and Strata's model and head types.

use strata_model::{Label, Labels, MatchOp, Matcher};
use strata_proto::prometheus as pb;
use strata_storage::{ChunkMeta, Series};
use strata_tsdb::{MetricMetadata, MetricType};

use crate::error::{IngesterError, LabelsError};

/// Builds a series' labels from the wire. Checks first without touching `labels`, so on an
/// error the caller can still name the series; on success the strings are moved out, not
/// copied. Empty values are dropped (an empty value means "absent" in Prometheus); unsorted
/// input is sorted; duplicate names and empty sets are refused.
pub fn labels_from_proto(labels: &mut [pb::Label]) -> Result<Labels, LabelsError> {
    let mut sorted = true;
    let mut count = 0usize;
    let mut prev: Option<&str> = None;
    for l in labels.iter().filter(|l| !l.value.is_empty()) {
        if let Some(p) = prev {
            if p == l.name {
                return Err(LabelsError::DuplicateName(l.name.clone()));
            }
            if p > l.name.as_str() {
                sorted = false;
            }
        }
        prev = Some(&l.name);
        count += 1;
    }
    if count == 0 {
        return Err(LabelsError::Empty);
    }
    if !sorted {
        let mut names: Vec<&str> = labels
            .iter()
            .filter(|l| !l.value.is_empty())
            .map(|l| l.name.as_str())
            .collect();
        names.sort_unstable();
        if let Some(w) = names.windows(2).find(|w| w[0] == w[1]) {
            return Err(LabelsError::DuplicateName(w[0].to_string()));
        }
    }
    let mut out: Vec<Label> = Vec::with_capacity(count);
    for l in labels.iter_mut().filter(|l| !l.value.is_empty()) {
        out.push(Label {
            name: std::mem::take(&mut l.name),
            value: std::mem::take(&mut l.value),
        });
    }
    if !sorted {
        out.sort_unstable_by(|a, b| a.name.cmp(&b.name));
    }
    Ok(Labels::from_sorted(out))
}

/// [`labels_from_proto`] for `(name, value)` pairs borrowed from the request buffer:
/// the same checks and errors, without copying a string. Labels already clean (no empty
/// values, sorted, unique; what the distributor forwards) are returned as they are;
/// otherwise the kept labels are sorted into `scratch`.
pub fn labels_from_pairs<'p, 'a>(
    labels: &'p [(&'a str, &'a str)],
    scratch: &'p mut Vec<(&'a str, &'a str)>,
) -> Result<&'p [(&'a str, &'a str)], LabelsError> {
    let mut sorted = true;
    let mut count = 0usize;
    let mut prev: Option<&str> = None;
    for &(name, _) in labels.iter().filter(|(_, v)| !v.is_empty()) {
        if let Some(p) = prev {
            if p == name {
                return Err(LabelsError::DuplicateName(name.to_string()));
            }
            if p > name {
                sorted = false;
            }
        }
        prev = Some(name);
        count += 1;
    }
    if count == 0 {
        return Err(LabelsError::Empty);
    }
    if sorted && count == labels.len() {
        return Ok(labels);
    }
    scratch.clear();
    scratch.extend(labels.iter().filter(|(_, v)| !v.is_empty()));
    if !sorted {
        scratch.sort_unstable_by(|a, b| a.0.cmp(b.0));
        if let Some(w) = scratch.windows(2).find(|w| w[0].0 == w[1].0) {
            return Err(LabelsError::DuplicateName(w[0].0.to_string()));
        }
    }
    Ok(scratch)
}

/// [`proto_labels_to_string`] for borrowed `(name, value)` pairs.
pub fn pairs_to_string(labels: &[(&str, &str)]) -> String {
    let mut s = String::new();
    if let Some((_, v)) = labels.iter().find(|(n, _)| *n == strata_model::METRIC_NAME) {
        s.push_str(v);
    }
    s.push('{');
    let mut first = true;
    for (n, v) in labels
        .iter()
        .filter(|(n, _)| *n != strata_model::METRIC_NAME)
    {
        if !first {
            s.push_str(", ");
        }
        first = false;
        s.push_str(&format!("{n}={v:?}"));
    }
    s.push('}');
    s
}

/// Prints wire labels as Prometheus prints a series, for errors about labels that did not
/// make a valid [`Labels`].
pub fn proto_labels_to_string(labels: &[pb::Label]) -> String {
    let mut s = String::new();
    let name = labels.iter().find(|l| l.name == strata_model::METRIC_NAME);
    if let Some(n) = name {
        s.push_str(&n.value);
    }
    s.push('{');
    let mut first = true;
    for l in labels
        .iter()
        .filter(|l| l.name != strata_model::METRIC_NAME)
    {
        if !first {
            s.push_str(", ");
        }
        first = false;
        s.push_str(&format!("{}={:?}", l.name, l.value));
    }
    s.push('}');
    s
}

/// The wire form of a label set.
pub fn labels_to_proto(labels: &Labels) -> Vec<pb::Label> {
    labels
        .iter()
        .map(|l| pb::Label {
            name: l.name.clone(),
            value: l.value.clone(),
        })
        .collect()
}

/// The model form of wire matchers; bad types and regexes are errors.
pub fn matchers_from_proto(ms: &[pb::LabelMatcher]) -> Result<Vec<Matcher>, IngesterError> {
    ms.iter()
        .map(|m| {
            let op = match pb::label_matcher::Type::try_from(m.r#type) {
                Ok(pb::label_matcher::Type::Eq) => MatchOp::Equal,
                Ok(pb::label_matcher::Type::Neq) => MatchOp::NotEqual,
                Ok(pb::label_matcher::Type::Re) => MatchOp::RegexMatch,
                Ok(pb::label_matcher::Type::Nre) => MatchOp::RegexNoMatch,
                Err(_) => return Err(IngesterError::UnknownMatcherType(m.r#type, m.name.clone())),
            };
            Ok(Matcher::new(op, m.name.as_str(), m.value.as_str())?)
        })
        .collect()
}

/// The wire form of a model matcher.
pub fn matcher_to_proto(m: &Matcher) -> pb::LabelMatcher {
    let t = match m.op {
        MatchOp::Equal => pb::label_matcher::Type::Eq,
        MatchOp::NotEqual => pb::label_matcher::Type::Neq,
        MatchOp::RegexMatch => pb::label_matcher::Type::Re,
        MatchOp::RegexNoMatch => pb::label_matcher::Type::Nre,
    };
    pb::LabelMatcher {
        r#type: t as i32,
        name: m.name.clone(),
        value: m.value.clone(),
    }
}

/// The wire form of a chunk. Copies the bytes: the generated `Chunk` holds a `Vec<u8>`.
pub fn chunk_to_proto(c: &ChunkMeta) -> pb::Chunk {
    let t = match c.chunk.encoding() {
        strata_chunkenc::Encoding::Xor => pb::chunk::Encoding::Xor,
        strata_chunkenc::Encoding::Histogram => pb::chunk::Encoding::Histogram,
        strata_chunkenc::Encoding::FloatHistogram => pb::chunk::Encoding::FloatHistogram,
    };
    pb::Chunk {
        min_time_ms: c.min_time,
        max_time_ms: c.max_time,
        r#type: t as i32,
        data: c.chunk.bytes().clone(),
    }
}

/// The wire form of a series with its chunks.
pub fn series_to_proto(s: Series) -> pb::ChunkedSeries {
    pb::ChunkedSeries {
        chunks: s.chunks.iter().map(chunk_to_proto).collect(),
        labels: s
            .labels
            .into_vec()
            .into_iter()
            .map(|l| pb::Label {
                name: l.name,
                value: l.value,
            })
            .collect(),
    }
}

/// The head form of wire metadata. Unknown types become [`MetricType::Unknown`].
pub fn metadata_from_proto(md: pb::MetricMetadata) -> MetricMetadata {
    use pb::metric_metadata::MetricType as P;
    let metric_type = match P::try_from(md.r#type) {
        Ok(P::Counter) => MetricType::Counter,
        Ok(P::Gauge) => MetricType::Gauge,
        Ok(P::Histogram) => MetricType::Histogram,
        Ok(P::Gaugehistogram) => MetricType::GaugeHistogram,
        Ok(P::Summary) => MetricType::Summary,
        Ok(P::Info) => MetricType::Info,
        Ok(P::Stateset) => MetricType::StateSet,
        Ok(P::Unknown) | Err(_) => MetricType::Unknown,
    };
    MetricMetadata {
        metric_family_name: md.metric_family_name,
        metric_type,
        help: md.help,
        unit: md.unit,
    }
}

/// The wire form of head metadata.
pub fn metadata_to_proto(md: MetricMetadata) -> pb::MetricMetadata {
    use pb::metric_metadata::MetricType as P;
    let t = match md.metric_type {
        MetricType::Unknown => P::Unknown,
        MetricType::Counter => P::Counter,
        MetricType::Gauge => P::Gauge,
        MetricType::Histogram => P::Histogram,
        MetricType::GaugeHistogram => P::Gaugehistogram,
        MetricType::Summary => P::Summary,
        MetricType::Info => P::Info,
        MetricType::StateSet => P::Stateset,
    };
    pb::MetricMetadata {
        r#type: t as i32,
        metric_family_name: md.metric_family_name,
        help: md.help,
        unit: md.unit,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pl(n: &str, v: &str) -> pb::Label {
        pb::Label {
            name: n.into(),
            value: v.into(),
        }
    }

    #[test]
    fn labels_are_sorted_and_validated() {
        let l = labels_from_proto(&mut [pl("b", "2"), pl("a", "1"), pl("c", "")]).expect("valid");
        assert_eq!(l, Labels::from_pairs([("a", "1"), ("b", "2")]));
        let l = labels_from_proto(&mut [pl("a", "1"), pl("b", "")]).expect("valid");
        assert_eq!(l, Labels::from_pairs([("a", "1")]));
        assert_eq!(
            labels_from_proto(&mut [pl("a", "")]),
            Err(LabelsError::Empty)
        );
        assert_eq!(labels_from_proto(&mut []), Err(LabelsError::Empty));
        let mut dup = [pl("a", "1"), pl("a", "2")];
        assert_eq!(
            labels_from_proto(&mut dup),
            Err(LabelsError::DuplicateName("a".into()))
        );
        // Refused input is left intact for the error message.
        assert_eq!(dup[1], pl("a", "2"));
        assert_eq!(
            labels_from_proto(&mut [pl("b", "1"), pl("a", "1"), pl("b", "2")]),
            Err(LabelsError::DuplicateName("b".into()))
        );
        assert_eq!(
            proto_labels_to_string(&[pl("__name__", "up"), pl("a", "x")]),
            r#"up{a="x"}"#
        );
    }

    #[test]
    fn borrowed_labels_check_like_owned_ones() {
        let cases: Vec<Vec<(&str, &str)>> = vec![
            vec![("__name__", "up"), ("a", "1")],
            vec![("b", "2"), ("a", "1"), ("c", "")],
            vec![("a", "1"), ("b", "")],
            vec![("a", "")],
            vec![],
            vec![("a", "1"), ("a", "2")],
            vec![("b", "1"), ("a", "1"), ("b", "2")],
            vec![("a", "1"), ("a", ""), ("b", "1")],
        ];
        for pairs in cases {
            let mut owned: Vec<pb::Label> = pairs.iter().map(|(n, v)| pl(n, v)).collect();
            let want = labels_from_proto(&mut owned);
            let mut scratch = Vec::new();
            let got = labels_from_pairs(&pairs, &mut scratch)
                .map(|l| Labels::from_pairs(l.iter().copied()));
            assert_eq!(got, want, "{pairs:?}");
            if let Ok(l) = labels_from_pairs(&pairs, &mut scratch) {
                assert!(l.windows(2).all(|w| w[0].0 < w[1].0), "{pairs:?}");
            }
            let owned: Vec<pb::Label> = pairs.iter().map(|(n, v)| pl(n, v)).collect();
            assert_eq!(pairs_to_string(&pairs), proto_labels_to_string(&owned));
        }
    }

    #[test]
    fn matchers_round_trip_and_reject_bad_input() {
        let ms = vec![
            pb::LabelMatcher {
                r#type: pb::label_matcher::Type::Nre as i32,
                name: "a".into(),
                value: "x|y".into(),
            },
            pb::LabelMatcher {
                r#type: pb::label_matcher::Type::Eq as i32,
                name: "b".into(),
                value: "1".into(),
            },
        ];
        let got = matchers_from_proto(&ms).expect("valid matchers");
        assert_eq!(got[0].op, MatchOp::RegexNoMatch);
        assert!(got[0].matches("z") && !got[0].matches("x"));
        let back: Vec<pb::LabelMatcher> = got.iter().map(matcher_to_proto).collect();
        assert_eq!(back, ms);
        let bad_re = [pb::LabelMatcher {
            r#type: pb::label_matcher::Type::Re as i32,
            name: "a".into(),
            value: "(".into(),
        }];
        assert!(matches!(
            matchers_from_proto(&bad_re),
            Err(IngesterError::BadMatcher(_))
        ));
        let bad_type = [pb::LabelMatcher {
            r#type: 9,
            name: "a".into(),
            value: "x".into(),
        }];
        assert!(matches!(
            matchers_from_proto(&bad_type),
            Err(IngesterError::UnknownMatcherType(9, _))
        ));
    }

    #[test]
    fn metadata_round_trips() {
        let md = pb::MetricMetadata {
            r#type: pb::metric_metadata::MetricType::Counter as i32,
            metric_family_name: "x".into(),
            help: "h".into(),
            unit: "seconds".into(),
        };
        let m = metadata_from_proto(md.clone());
        assert_eq!(m.metric_type, MetricType::Counter);
        assert_eq!(metadata_to_proto(m), md);
    }
}
