//! The `Date` header value (IMF-fixdate, RFC 9110 §5.6.7), formatted at most
//! once a second per thread; no lock is shared between workers. A server
//! worker keeps its thread's value current from a timer ([`tick`]), so a
//! response does not even read the clock; elsewhere each use reads it.

use std::cell::RefCell;
use std::time::{SystemTime, UNIX_EPOCH};

/// Length of an IMF-fixdate: `Sun, 06 Nov 1994 08:49:37 GMT`.
pub const DATE_LEN: usize = 29;

struct Cached {
    second: u64,
    imf: [u8; DATE_LEN],
    /// Kept current by [`tick`]: no need to read the clock.
    ticked: bool,
}

impl Cached {
    fn refresh(&mut self, now: SystemTime) {
        let second = now
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0);
        if self.second != second {
            let text = httpdate::fmt_http_date(now);
            self.imf.copy_from_slice(&text.as_bytes()[..DATE_LEN]);
            self.second = second;
        }
    }
}

thread_local! {
    static CACHE: RefCell<Cached> = const {
        RefCell::new(Cached { second: u64::MAX, imf: [0; DATE_LEN], ticked: false })
    };
}

/// Calls `f` with the current date as an IMF-fixdate.
pub fn with_date<R>(f: impl FnOnce(&[u8; DATE_LEN]) -> R) -> R {
    CACHE.with(|cache| {
        let mut cache = cache.borrow_mut();
        if !cache.ticked {
            cache.refresh(SystemTime::now());
        }
        f(&cache.imf)
    })
}

/// The second the `Date` field names now, in seconds since the epoch.
pub fn current_second() -> u64 {
    CACHE.with(|cache| {
        let mut cache = cache.borrow_mut();
        if !cache.ticked {
            cache.refresh(SystemTime::now());
        }
        cache.second
    })
}

/// Brings this thread's date up to date and from now on trusts the caller
/// to call again each second; returns how long until the next second.
pub fn tick() -> std::time::Duration {
    let now = SystemTime::now();
    CACHE.with(|cache| {
        let mut cache = cache.borrow_mut();
        cache.refresh(now);
        cache.ticked = true;
    });
    let into_second = now
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        .subsec_nanos();
    std::time::Duration::from_nanos(u64::from(1_000_000_000 - into_second))
}

/// Goes back to reading the clock on each use (the ticking timer stopped).
pub fn stop_ticking() {
    CACHE.with(|cache| cache.borrow_mut().ticked = false);
}

/// Appends the current time in Common Log Format to `out`:
/// `10/Oct/2000:13:55:36 +0000`.
pub fn push_clf_now(out: &mut Vec<u8>) {
    with_date(|d| {
        // "Sun, 06 Nov 1994 08:49:37 GMT" → "06/Nov/1994:08:49:37 +0000"
        out.extend_from_slice(&d[5..7]);
        out.push(b'/');
        out.extend_from_slice(&d[8..11]);
        out.push(b'/');
        out.extend_from_slice(&d[12..16]);
        out.push(b':');
        out.extend_from_slice(&d[17..25]);
        out.extend_from_slice(b" +0000");
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_imf_fixdate_and_clf() {
        let date = with_date(|d| String::from_utf8(d.to_vec()).unwrap());
        assert!(httpdate::parse_http_date(&date).is_ok(), "{date}");
        assert!(date.ends_with(" GMT"));
        let mut clf = Vec::new();
        push_clf_now(&mut clf);
        let clf = String::from_utf8(clf).unwrap();
        assert_eq!(clf.len(), 26, "{clf}");
        assert!(clf.ends_with(" +0000") && clf.as_bytes()[2] == b'/');
    }
}
