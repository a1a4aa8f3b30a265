//! The `Date` header value (IMF-fixdate, RFC 9110 §5.6.7), formatted at most
//! once a second per thread; no lock is shared between workers.

use std::cell::RefCell;
use std::time::{SystemTime, UNIX_EPOCH};

/// Length of an IMF-fixdate: `Sun, 06 Nov 1994 08:49:37 GMT`.
pub const DATE_LEN: usize = 29;

struct Cached {
    second: u64,
    imf: [u8; DATE_LEN],
}

thread_local! {
    static CACHE: RefCell<Cached> = const { RefCell::new(Cached { second: u64::MAX, imf: [0; DATE_LEN] }) };
}

/// Calls `f` with the current date as an IMF-fixdate.
pub fn with_date<R>(f: impl FnOnce(&[u8; DATE_LEN]) -> R) -> R {
    let now = SystemTime::now();
    let second = now
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    CACHE.with(|cache| {
        let mut cache = cache.borrow_mut();
        if cache.second != second {
            let text = httpdate::fmt_http_date(now);
            cache.imf.copy_from_slice(&text.as_bytes()[..DATE_LEN]);
            cache.second = second;
        }
        f(&cache.imf)
    })
}

/// The current time in Common Log Format: `10/Oct/2000:13:55:36 +0000`.
pub fn clf_now() -> String {
    with_date(|d| {
        // "Sun, 06 Nov 1994 08:49:37 GMT" → "06/Nov/1994:08:49:37 +0000"
        let d = std::str::from_utf8(d).unwrap_or("Thu, 01 Jan 1970 00:00:00 GMT");
        format!(
            "{}/{}/{}:{} +0000",
            &d[5..7],
            &d[8..11],
            &d[12..16],
            &d[17..25]
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_imf_fixdate_and_clf() {
        let date = with_date(|d| String::from_utf8(d.to_vec()).unwrap());
        assert!(httpdate::parse_http_date(&date).is_ok(), "{date}");
        assert!(date.ends_with(" GMT"));
        let clf = clf_now();
        assert_eq!(clf.len(), 26, "{clf}");
        assert!(clf.ends_with(" +0000") && clf.as_bytes()[2] == b'/');
    }
}
