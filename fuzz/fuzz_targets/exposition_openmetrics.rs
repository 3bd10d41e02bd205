//! The scraper's OpenMetrics 1.0 text parser (`strata_exposition`), on any bytes, with the
//! default line limit and a tiny one (checks as `exposition_text`).
#![no_main]

use libfuzzer_sys::fuzz_target;
use strata_exposition::Format;
use strata_fuzz::exposition::check_parse;

fuzz_target!(|data: &[u8]| {
    check_parse(data, Format::OpenMetrics);
});
