//! Decoding an XOR chunk from arbitrary bytes (as remote read clients and the chunk store
//! would hand them over), and, when the chunk decodes cleanly, re-encoding its samples: the
//! encoder must reproduce them bit for bit.
#![no_main]

use bytes::Bytes;
use libfuzzer_sys::fuzz_target;
use strata_chunkenc::{encode_xor, Chunk, Encoding};

fuzz_target!(|data: &[u8]| {
    let Ok(chunk) = Chunk::new(Encoding::Xor, Bytes::copy_from_slice(data)) else {
        assert!(data.len() < 2);
        return;
    };
    let declared = chunk.num_samples();
    let Ok(mut it) = chunk.xor_iter() else {
        panic!("an XOR chunk refused xor_iter");
    };
    let samples: Vec<_> = it.by_ref().collect();
    assert!(samples.len() <= declared as usize);
    if it.err().is_some() {
        return;
    }
    assert_eq!(
        samples.len(),
        declared as usize,
        "clean decode of fewer samples than declared"
    );

    let again = encode_xor(&samples);
    let mut it2 = again.xor_iter().expect("encode_xor makes XOR chunks");
    let decoded: Vec<_> = it2.by_ref().collect();
    assert!(
        it2.err().is_none(),
        "re-encoded chunk fails to decode: {:?}",
        it2.err()
    );
    assert_eq!(decoded.len(), samples.len());
    for (a, b) in samples.iter().zip(&decoded) {
        assert_eq!(a.t, b.t, "timestamp changed by re-encoding");
        assert_eq!(
            a.v.to_bits(),
            b.v.to_bits(),
            "value bits changed by re-encoding"
        );
    }
});
