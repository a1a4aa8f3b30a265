//! Arbitrary bytes into the chunked decoder, whole (`decode_all`) and fed in
//! two pieces cut where the first input byte says. Both must agree exactly,
//! error kind included, and neither may claim more bytes than it was given.
#![no_main]

use barehttp::ProtoError;
use barehttp::proto::chunked::{Chunk, ChunkedDecoder, ChunkedLimits, decode_all};
use libfuzzer_sys::fuzz_target;

/// Feeds `input` cut at `cut`, as a connection would see two reads.
fn decode_split(
    input: &[u8],
    cut: usize,
    limits: ChunkedLimits,
) -> Result<(Vec<u8>, Option<usize>), ProtoError> {
    let mut decoder = ChunkedDecoder::new(limits);
    let mut data = Vec::new();
    let mut pos = 0;
    for end in [cut, input.len()] {
        loop {
            match decoder.decode(&input[pos..end])? {
                Chunk::Data { start, end: e } => {
                    assert!(
                        start < e && pos + e <= end,
                        "data {start}..{e} outside its piece"
                    );
                    data.extend_from_slice(&input[pos + start..pos + e]);
                    pos += e;
                }
                Chunk::NeedMore => {
                    pos = end;
                    break;
                }
                Chunk::Done(n) => {
                    assert!(pos + n <= end, "consumed past its piece");
                    assert!(decoder.is_done());
                    return Ok((data, Some(pos + n)));
                }
            }
        }
    }
    Ok((data, None))
}

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
    let split = decode_split(input, cut, limits);
    assert_eq!(whole, split, "cut at {cut}");
    if let Ok((data, Some(n))) = &whole {
        assert!(*n <= input.len());
        assert!(data.len() < *n);
    }
});
