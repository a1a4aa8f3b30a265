//! Arbitrary bytes into the chunked decoder, whole (`decode_all`) and fed in
//! two pieces cut where the first input byte says. Both must agree exactly,
//! error kind included, and neither may claim more bytes than it was given.
#![no_main]

use barehttp::proto::chunked::{ChunkedLimits, decode_all, decode_in_pieces};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|bytes: &[u8]| {
    let Some((&first, input)) = bytes.split_first() else {
        return;
    };
    // The high bit picks small limits, so the limit paths get exercised too.
    let limits = if first & 0x80 != 0 {
        ChunkedLimits {
            max_extension_bytes: 16,
            max_trailer_bytes: 32,
        }
    } else {
        ChunkedLimits::default()
    };
    let cut = usize::from(first & 0x7f) % (input.len() + 1);
    let whole = decode_all(input, limits);
    let split = decode_in_pieces(input, &[cut], limits);
    assert_eq!(whole, split, "cut at {cut}");
    if let Ok((data, Some(n))) = &whole {
        assert!(*n <= input.len());
        assert!(data.len() < *n);
    }
});
