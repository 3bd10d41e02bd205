//! The scraper's delimited protobuf parser (`strata_exposition::ProtobufParser`), on any
//! bytes, with and without classic histograms kept: an error lies within the input and
//! ends the iterator; every sample converts to `Labels` and is named after its family;
//! native histograms can be validated (and, when valid, converted to float) without a panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use strata_exposition::{ProtoValue, ProtobufParser};

fuzz_target!(|data: &[u8]| {
    for keep_classic in [false, true] {
        let mut parser = ProtobufParser::new(data, keep_classic);
        let mut families = 0usize;
        while let Some(item) = parser.next() {
            match item {
                Ok(family) => {
                    families += 1;
                    for s in &family.samples {
                        assert!(s.name.starts_with(&family.name));
                        let labels = s.to_labels();
                        assert!(!labels.is_empty());
                        match &s.value {
                            ProtoValue::Float(_) => {}
                            ProtoValue::Histogram(h) => {
                                if h.validate().is_ok() {
                                    let _ = h.to_float();
                                }
                            }
                            ProtoValue::FloatHistogram(h) => {
                                let _ = h.validate();
                            }
                        }
                    }
                }
                Err(e) => {
                    assert!(e.offset < data.len());
                    assert!(
                        parser.next().is_none(),
                        "the iterator must end after an error"
                    );
                    break;
                }
            }
        }
        // Every family takes at least one byte (its length prefix).
        assert!(families <= data.len());
    }
});
