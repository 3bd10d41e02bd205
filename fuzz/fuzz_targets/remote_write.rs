//! The distributor's push path on an arbitrary request: tenant resolution, header
//! negotiation, snappy decompression, 1.0/2.0 protobuf decoding, the 2.0 → 1.0 conversion and
//! validation. Input layout: [`strata_fuzz::PushInput`]. Beyond "no panic", it checks what
//! `validate_request` promises about the series it keeps, and that the borrowed 1.0 walker
//! (`strata_proto::flat`) and its validation agree with prost and the owned validation.
#![no_main]

use http::{header, HeaderMap, HeaderName, HeaderValue};
use libfuzzer_sys::fuzz_target;
use std::time::Duration;
use strata_distributor::decode::{self, RemoteWriteVersion};
use strata_distributor::rw2;
use strata_distributor::validate::{
    is_valid_label_name, is_valid_metric_name, validate_flat_request, validate_request,
    ValidationLimits,
};
use strata_fuzz::{content_type, flags, PushInput};
use strata_proto::flat::FlatWriteRequest;
use strata_proto::prometheus::WriteRequest;

/// A fixed "now" keeps runs reproducible (2023-11-14T22:13:20Z).
const NOW_MS: i64 = 1_700_000_000_000;
/// Small enough that a fuzzer-made size header is refused, large enough for real bodies.
const MAX_DECOMPRESSED: usize = 1 << 20;

fuzz_target!(|data: &[u8]| {
    let input = PushInput::parse(data);
    let custom = HeaderValue::from_bytes(input.header).ok();
    let mut headers = HeaderMap::new();
    let mut set = |name: HeaderName, value: Option<HeaderValue>| {
        if let Some(v) = value {
            headers.insert(name, v);
        }
    };
    match content_type(input.flags) {
        Some(ct) => set(header::CONTENT_TYPE, Some(HeaderValue::from_static(ct))),
        None if input.flags & flags::CONTENT_TYPE_MASK == 3 => {
            set(header::CONTENT_TYPE, custom.clone())
        }
        None => {}
    }
    if input.flags & flags::ENCODING_CUSTOM != 0 {
        set(header::CONTENT_ENCODING, custom.clone());
    } else if input.flags & flags::ENCODING_SNAPPY != 0 {
        set(
            header::CONTENT_ENCODING,
            Some(HeaderValue::from_static("snappy")),
        );
    }
    if input.flags & flags::ORG_ID != 0 {
        set(HeaderName::from_static("x-scope-orgid"), custom.clone());
    }
    if input.flags & flags::AUTHORIZATION != 0 {
        set(header::AUTHORIZATION, custom.clone());
    }

    let _ = strata_auth::tenant_from_headers(&headers, input.flags & flags::MULTITENANT != 0);

    // The real handler stops at a refused header; going on with a guess lets one input
    // reach the decoders whatever its headers.
    let version = decode::negotiate(&headers).unwrap_or(if input.flags & 1 == 0 {
        RemoteWriteVersion::V1
    } else {
        RemoteWriteVersion::V2
    });

    // Likewise, a body that is not a snappy block is also decoded as raw protobuf, so the
    // fuzzer need not learn snappy framing to explore the decoders.
    let raw = match decode::decompress(input.body, MAX_DECOMPRESSED) {
        Ok(raw) => {
            assert!(
                raw.len() <= MAX_DECOMPRESSED,
                "decompress exceeded its limit"
            );
            raw
        }
        Err(_) => input.body.to_vec(),
    };
    let limits = if input.flags & flags::TIGHT_LIMITS != 0 {
        ValidationLimits {
            max_label_names_per_series: 3,
            max_label_name_length: 8,
            max_label_value_length: 8,
            creation_grace_period: Duration::ZERO,
        }
    } else {
        ValidationLimits::default()
    };

    // The borrowed 1.0 walker (the distributor's fast path) must agree with prost wherever
    // it decodes: the same series, and the same validation outcome.
    if let Ok(mut flat) = strata_proto::flat::decode_write_request(&raw) {
        let mut owned =
            decode::decode_v1(&raw).expect("prost decodes what the flat walker decodes");
        assert!(owned.metadata.is_empty());
        assert_eq!(owned.timeseries.len(), flat.series.len());
        let bits = |ts: &[(i64, f64)]| {
            ts.iter()
                .map(|&(t, v)| (t, v.to_bits()))
                .collect::<Vec<_>>()
        };
        let same = |owned: &WriteRequest, flat: &FlatWriteRequest<'_>| {
            assert_eq!(owned.timeseries.len(), flat.series.len());
            for (ts, (labels, samples)) in owned.timeseries.iter().zip(flat.iter()) {
                assert!(ts.exemplars.is_empty() && ts.histograms.is_empty());
                assert!(ts
                    .labels
                    .iter()
                    .map(|l| (l.name.as_str(), l.value.as_str()))
                    .eq(labels.iter().copied()));
                let a: Vec<(i64, f64)> =
                    ts.samples.iter().map(|s| (s.timestamp, s.value)).collect();
                let b: Vec<(i64, f64)> = samples.iter().map(|s| (s.timestamp, s.value)).collect();
                assert_eq!(bits(&a), bits(&b));
            }
        };
        same(&owned, &flat);
        let want = validate_request(&mut owned, &limits, NOW_MS);
        let got = validate_flat_request(&mut flat, &limits, NOW_MS);
        assert_eq!(got, want, "borrowed and owned validation differ");
        same(&owned, &flat);
    }

    let req = match version {
        RemoteWriteVersion::V1 => decode::decode_v1(&raw),
        RemoteWriteVersion::V2 => decode::decode_v2(&raw).and_then(rw2::convert),
    };
    let Ok(mut req) = req else {
        return;
    };

    let series_before = req.timeseries.len();
    let report = validate_request(&mut req, &limits, NOW_MS);
    assert!(report.messages.len() <= report.rejected);
    assert!(req.timeseries.len() <= series_before);

    let max_t = NOW_MS + limits.creation_grace_period.as_millis() as i64;
    for ts in &req.timeseries {
        assert!(ts.labels.len() <= limits.max_label_names_per_series);
        assert!(
            ts.labels.windows(2).all(|w| w[0].name < w[1].name),
            "kept series has unsorted or duplicate label names: {:?}",
            ts.labels
        );
        let mut has_name = false;
        for l in &ts.labels {
            assert!(!l.value.is_empty(), "kept series has an empty label value");
            assert!(
                is_valid_label_name(&l.name),
                "kept series has label {:?}",
                l.name
            );
            assert!(l.name.len() <= limits.max_label_name_length);
            assert!(l.value.len() <= limits.max_label_value_length);
            if l.name == "__name__" {
                has_name = true;
                assert!(
                    is_valid_metric_name(&l.value),
                    "kept metric name {:?}",
                    l.value
                );
            }
        }
        assert!(has_name, "kept series has no metric name");
        assert!(ts.samples.iter().all(|s| s.timestamp <= max_t));
        assert!(ts.histograms.iter().all(|h| h.timestamp <= max_t));
    }
    assert!(req
        .metadata
        .iter()
        .all(|m| !m.metric_family_name.is_empty()));
});
