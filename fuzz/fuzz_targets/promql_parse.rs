//! The querier's first steps on user text: PromQL parsing (and printing the parsed
//! expression back, plainly and prettified), `match[]` selector parsing, time and duration
//! parameters, and form decoding.
#![no_main]

use libfuzzer_sys::fuzz_target;
use strata_querier::params::{self, Params};

fuzz_target!(|data: &[u8]| {
    let _ = Params::parse(None, Some(data));
    let Ok(s) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(expr) = promql_parser::parser::parse(s) {
        let _ = expr.to_string();
        let _ = expr.prettify();
    }
    let _ = params::parse_selector(s);
    let _ = params::parse_time(s);
    let _ = params::parse_duration(s);

    let p = Params::parse(Some(s), None);
    let _ = p.time("time");
    let _ = p.time_or("start", 0);
    let _ = p.duration("step");
    let _ = p.limit("limit");
    let _ = p.match_sets();
});
