//! The querier's remote read request path up to storage: snappy + `ReadRequest` decoding,
//! response-type negotiation, and turning each query's matchers into Strata matchers (which
//! compiles their regexes).
#![no_main]

use libfuzzer_sys::fuzz_target;
use strata_querier::{convert, remote_read};

fuzz_target!(|data: &[u8]| {
    let Ok(req) = remote_read::decode_request(data) else {
        return;
    };
    let _ = remote_read::negotiate(&req);
    for q in &req.queries {
        if let Ok(ms) = convert::matchers_from_proto(&q.matchers) {
            assert_eq!(ms.len(), q.matchers.len());
            for m in &ms {
                // Matching runs on every series a query touches: it must not panic either.
                let _ = m.matches("");
                let _ = m.matches(&m.value);
            }
        }
    }
});
