//! Arbitrary bytes into the request-head parser.
//!
//! Invariants: no panic; on `Complete(n, head)`, `n` is within the input,
//! the head ends with CRLF CRLF, every span lies inside the first `n` bytes,
//! the head alone parses to the same result and its last byte missing makes
//! it `Partial`.
#![no_main]

use barehttp::proto::parse::{HeadLimits, Status, parse_head};
use libfuzzer_sys::fuzz_target;

const LIMITS: HeadLimits = HeadLimits {
    max_target_bytes: 8 * 1024,
    max_fields: 100,
};

fuzz_target!(|data: &[u8]| {
    let Ok(Status::Complete(n, head)) = parse_head(data, &LIMITS) else {
        return;
    };
    assert!(n <= data.len(), "consumed {n} of {} bytes", data.len());
    assert!(
        data[..n].ends_with(b"\r\n\r\n"),
        "head does not end in CRLF CRLF"
    );
    let spans =
        std::iter::once(head.target).chain(head.fields.iter().flat_map(|f| [f.name, f.value]));
    for span in spans {
        assert!(
            span.start <= span.end && span.end as usize <= n,
            "span {span:?} outside the {n}-byte head"
        );
    }
    let target = head.target.of(data);
    assert!(!target.is_empty() && target.iter().all(|b| (0x21..=0x7e).contains(b)));
    for f in head.fields.iter() {
        let value = f.value.of(data);
        assert!(!value.starts_with(b" ") && !value.starts_with(b"\t"));
        assert!(!value.ends_with(b" ") && !value.ends_with(b"\t"));
        assert!(!value.contains(&b'\r') && !value.contains(&b'\n'));
    }
    let again = parse_head(&data[..n], &LIMITS);
    assert_eq!(again, Ok(Status::Complete(n, head)));
    assert_eq!(parse_head(&data[..n - 1], &LIMITS), Ok(Status::Partial));
});
