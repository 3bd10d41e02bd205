//! The scraper's Prometheus text 0.0.4 parser (`strata_exposition`), on any bytes, with the
//! default line limit and a tiny one; plus content-type negotiation on the same bytes.
//! Checks the promises the parser makes: errors carry a position inside the input, the
//! iterator ends after an error, and every sample converts to a sorted label set.
#![no_main]

use libfuzzer_sys::fuzz_target;
use strata_exposition::{format_for_content_type, Format};
use strata_fuzz::exposition::check_parse;

fuzz_target!(|data: &[u8]| {
    check_parse(data, Format::PrometheusText);
    let _ = format_for_content_type(&String::from_utf8_lossy(data));
});
