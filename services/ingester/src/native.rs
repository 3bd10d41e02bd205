//! Wire → model conversions for native histograms and exemplars (remote write 1.0 types;
//! the distributor turns remote write 2.0 into them).

use strata_model::histogram::{CounterResetHint, Span};
use strata_model::{FloatHistogram, Histogram, Labels};
use strata_proto::prometheus as pb;
use strata_tsdb::{Exemplar, SampleValue};

use crate::convert::labels_from_proto;
use crate::error::LabelsError;

fn spans(s: &[pb::BucketSpan]) -> Vec<Span> {
    s.iter()
        .map(|s| Span {
            offset: s.offset,
            length: s.length,
        })
        .collect()
}

fn hint(h: i32) -> CounterResetHint {
    match pb::histogram::ResetHint::try_from(h) {
        Ok(pb::histogram::ResetHint::Yes) => CounterResetHint::CounterReset,
        Ok(pb::histogram::ResetHint::No) => CounterResetHint::NotCounterReset,
        Ok(pb::histogram::ResetHint::Gauge) => CounterResetHint::Gauge,
        _ => CounterResetHint::Unknown,
    }
}

/// The model form of a wire histogram: an integer histogram when its count is an integer
/// (Prometheus's `IsFloatHistogram` is false), else a float histogram. Invalid histograms
/// (spans and buckets disagreeing, negative counts, a bad schema, …) are refused with
/// Prometheus's reason.
pub fn histogram_from_proto(h: &pb::Histogram) -> Result<SampleValue, String> {
    let float = matches!(h.count, Some(pb::histogram::Count::CountFloat(_)));
    if float {
        let fh = FloatHistogram {
            counter_reset_hint: hint(h.reset_hint),
            schema: h.schema,
            zero_threshold: h.zero_threshold,
            zero_count: match h.zero_count {
                Some(pb::histogram::ZeroCount::ZeroCountFloat(f)) => f,
                Some(pb::histogram::ZeroCount::ZeroCountInt(n)) => n as f64,
                None => 0.0,
            },
            count: match h.count {
                Some(pb::histogram::Count::CountFloat(f)) => f,
                _ => 0.0,
            },
            sum: h.sum,
            positive_spans: spans(&h.positive_spans),
            negative_spans: spans(&h.negative_spans),
            positive_buckets: h.positive_counts.clone(),
            negative_buckets: h.negative_counts.clone(),
            custom_values: h.custom_values.clone(),
        };
        fh.validate().map_err(|e| e.to_string())?;
        return Ok(SampleValue::FloatHistogram(Box::new(fh)));
    }
    let ih = Histogram {
        counter_reset_hint: hint(h.reset_hint),
        schema: h.schema,
        zero_threshold: h.zero_threshold,
        zero_count: match h.zero_count {
            Some(pb::histogram::ZeroCount::ZeroCountInt(n)) => n,
            Some(pb::histogram::ZeroCount::ZeroCountFloat(_)) => {
                return Err("integer histogram with a float zero count".into())
            }
            None => 0,
        },
        count: match h.count {
            Some(pb::histogram::Count::CountInt(n)) => n,
            _ => 0,
        },
        sum: h.sum,
        positive_spans: spans(&h.positive_spans),
        negative_spans: spans(&h.negative_spans),
        positive_buckets: h.positive_deltas.clone(),
        negative_buckets: h.negative_deltas.clone(),
        custom_values: h.custom_values.clone(),
    };
    ih.validate().map_err(|e| e.to_string())?;
    Ok(SampleValue::Histogram(Box::new(ih)))
}

/// The model form of a wire exemplar; its labels may be empty.
pub fn exemplar_from_proto(e: &mut pb::Exemplar) -> Result<Exemplar, LabelsError> {
    let labels = if e.labels.iter().all(|l| l.value.is_empty()) {
        Labels::empty()
    } else {
        labels_from_proto(&mut e.labels)?
    };
    Ok(Exemplar {
        labels,
        value: e.value,
        t: e.timestamp,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn integer_and_float_histograms_and_invalid_ones() {
        let mut h = pb::Histogram {
            count: Some(pb::histogram::Count::CountInt(3)),
            zero_count: Some(pb::histogram::ZeroCount::ZeroCountInt(1)),
            sum: 4.5,
            schema: 1,
            positive_spans: vec![pb::BucketSpan {
                offset: 0,
                length: 2,
            }],
            positive_deltas: vec![1, 0],
            reset_hint: pb::histogram::ResetHint::No as i32,
            ..Default::default()
        };
        match histogram_from_proto(&h) {
            Ok(SampleValue::Histogram(x)) => {
                assert_eq!((x.count, x.zero_count, x.schema), (3, 1, 1));
                assert_eq!(x.counter_reset_hint, CounterResetHint::NotCounterReset);
            }
            other => panic!("{other:?}"),
        }
        // Two buckets declared, one given.
        h.positive_deltas = vec![1];
        assert!(histogram_from_proto(&h).is_err());
        let f = pb::Histogram {
            count: Some(pb::histogram::Count::CountFloat(2.5)),
            sum: 1.0,
            positive_spans: vec![pb::BucketSpan {
                offset: 0,
                length: 1,
            }],
            positive_counts: vec![2.5],
            ..Default::default()
        };
        assert!(matches!(
            histogram_from_proto(&f),
            Ok(SampleValue::FloatHistogram(_))
        ));
    }
}
