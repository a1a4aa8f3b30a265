//! Validators and conditional requests (RFC 9110 §8.8, §13): strong ETags,
//! `Last-Modified`, and the precondition evaluation order of §13.2.2.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use crate::proto::token::list_items;

/// The validators of one file as it is now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Validators {
    /// Opaque tag without quotes: inode, size and change time (`ctime`)
    /// in nanoseconds. Every write to a file sets its change time, and
    /// nothing but the clock can set it back, so any change that may alter
    /// the content changes the tag; the modification time can be set back
    /// (`touch -d`, `cp -p`, `rsync -a`), and a rewrite of the same length
    /// would keep a tag made from it.
    pub tag: String,
    /// Modification time.
    pub modified: SystemTime,
}

impl Validators {
    /// Validators from a file's metadata: times as seconds and
    /// nanoseconds.
    pub fn new(inode: u64, size: u64, mtime: (i64, u32), ctime: (i64, u32)) -> Validators {
        let modified = if mtime.0 >= 0 {
            UNIX_EPOCH + Duration::new(mtime.0 as u64, mtime.1)
        } else {
            UNIX_EPOCH
        };
        let changed = (ctime.0 as i128) * 1_000_000_000 + i128::from(ctime.1);
        Validators {
            tag: format!("{inode:x}-{size:x}-{changed:x}"),
            modified,
        }
    }

    /// The `ETag` value of a representation: the identity one, or one
    /// content-coded (`suffix` such as `gzip`), which is a different
    /// representation and so has a different strong tag.
    pub fn etag(&self, suffix: Option<&str>) -> String {
        match suffix {
            Some(s) => format!("\"{}-{s}\"", self.tag),
            None => format!("\"{}\"", self.tag),
        }
    }

    /// The `Last-Modified` value: never later than the `Date` sent with
    /// it (RFC 9110 §8.8.2.1), for a file whose time is in the future.
    pub fn last_modified(&self) -> String {
        let now = crate::proto::date::current_second();
        if self.modified_secs() > now {
            httpdate::fmt_http_date(UNIX_EPOCH + Duration::from_secs(now))
        } else {
            httpdate::fmt_http_date(self.modified)
        }
    }

    fn modified_secs(&self) -> u64 {
        self.modified
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_secs())
    }
}

/// What the preconditions decided.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Go on and serve (or apply) the request.
    Proceed,
    /// 304 Not Modified (GET/HEAD only).
    NotModified,
    /// 412 Precondition Failed.
    Failed,
}

/// The request fields preconditions look at.
#[derive(Debug, Default, Clone, Copy)]
pub struct Conditions<'a> {
    /// `If-Match`
    pub if_match: Option<&'a [u8]>,
    /// `If-None-Match`
    pub if_none_match: Option<&'a [u8]>,
    /// `If-Modified-Since`
    pub if_modified_since: Option<&'a [u8]>,
    /// `If-Unmodified-Since`
    pub if_unmodified_since: Option<&'a [u8]>,
}

/// Evaluates preconditions in the order of RFC 9110 §13.2.2 against the
/// selected representation (`etag` is its full quoted tag; `current` is
/// `None` when the target does not exist).
pub fn evaluate(
    c: &Conditions<'_>,
    current: Option<(&Validators, &str)>,
    safe_method: bool,
) -> Outcome {
    // 1. If-Match: strong comparison; `*` needs a current representation.
    if let Some(v) = c.if_match {
        if !matches_any(v, current.map(|(_, e)| e), true) {
            return Outcome::Failed;
        }
    } else if let (Some(v), Some((val, _))) = (c.if_unmodified_since, current) {
        // 2. If-Unmodified-Since, only without If-Match; ignored if not a date.
        if let Some(since) = parse_date(v) {
            if val.modified_secs() > since {
                return Outcome::Failed;
            }
        }
    }
    // 3. If-None-Match: weak comparison.
    if let Some(v) = c.if_none_match {
        if matches_any(v, current.map(|(_, e)| e), false) {
            return if safe_method {
                Outcome::NotModified
            } else {
                Outcome::Failed
            };
        }
    } else if let (true, Some(v), Some((val, _))) = (safe_method, c.if_modified_since, current) {
        // 4. If-Modified-Since, only for GET/HEAD and without If-None-Match.
        if let Some(since) = parse_date(v) {
            if val.modified_secs() <= since {
                return Outcome::NotModified;
            }
        }
    }
    Outcome::Proceed
}

/// True when `If-Range` allows the range to be served: a strong match of
/// the entity-tag, or a date equal to `Last-Modified` that is a strong
/// validator (RFC 9110 §13.1.5). A date is one only if the file was not
/// modified in the second the response is sent in (§8.8.2.2): within
/// that second it could change again under the same date, and the range
/// would then splice new bytes onto a copy of the old.
pub fn if_range_holds(value: &[u8], validators: &Validators, etag: &str) -> bool {
    let value = crate::proto::token::trim_ows(value);
    if value.starts_with(b"\"") || value.starts_with(b"W/") {
        return !value.starts_with(b"W/") && value == etag.as_bytes();
    }
    let modified = validators.modified_secs();
    parse_date(value) == Some(modified) && modified < crate::proto::date::current_second()
}

/// Whether a list of entity-tags (or `*`) matches the current tag.
fn matches_any(list: &[u8], current: Option<&str>, strong: bool) -> bool {
    let Some(current) = current else {
        return false;
    };
    if crate::proto::token::trim_ows(list) == b"*" {
        return true;
    }
    let opaque = |tag: &[u8]| -> Option<(bool, Vec<u8>)> {
        let (weak, rest) = match tag.strip_prefix(b"W/") {
            Some(rest) => (true, rest),
            None => (false, tag),
        };
        (rest.len() >= 2 && rest.starts_with(b"\"") && rest.ends_with(b"\""))
            .then(|| (weak, rest.to_vec()))
    };
    let Some((_, current)) = opaque(current.as_bytes()) else {
        return false;
    };
    list_items(list)
        .filter_map(opaque)
        .any(|(weak, tag)| tag == current && !(strong && weak))
}

fn parse_date(v: &[u8]) -> Option<u64> {
    let text = std::str::from_utf8(v).ok()?;
    let t = httpdate::parse_http_date(text.trim()).ok()?;
    t.duration_since(UNIX_EPOCH).ok().map(|d| d.as_secs())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v() -> Validators {
        Validators::new(0x10, 5, (1_700_000_000, 123), (1_700_000_000, 456))
    }

    fn eval(c: Conditions<'_>, safe: bool) -> Outcome {
        let val = v();
        let etag = val.etag(None);
        evaluate(&c, Some((&val, &etag)), safe)
    }

    #[test]
    fn tags_change_with_any_part() {
        let tag = |ino, size, ctime| Validators::new(ino, size, (10, 0), ctime).tag;
        assert_ne!(tag(1, 5, (10, 0)), tag(2, 5, (10, 0)));
        assert_ne!(tag(1, 5, (10, 0)), tag(1, 6, (10, 0)));
        assert_ne!(tag(1, 5, (10, 0)), tag(1, 5, (10, 1)));
        // A modification time set back leaves the change time moved on.
        assert_eq!(
            Validators::new(1, 5, (10, 0), (20, 0)).tag,
            Validators::new(1, 5, (11, 0), (20, 0)).tag,
            "the change time alone decides"
        );
        assert_eq!(v().etag(Some("gzip")), format!("\"{}-gzip\"", v().tag));
    }

    #[test]
    fn last_modified_is_never_later_than_the_date() {
        let future = Validators::new(1, 5, (4_000_000_000, 0), (10, 0));
        let now = crate::proto::date::with_date(|d| String::from_utf8(d.to_vec()).unwrap());
        let sent = future.last_modified();
        assert!(
            sent == now || parse_date(sent.as_bytes()) < parse_date(now.as_bytes()),
            "{sent} against Date {now}"
        );
        assert_eq!(v().last_modified(), "Tue, 14 Nov 2023 22:13:20 GMT");
    }

    #[test]
    fn precondition_order() {
        let etag = v().etag(None);
        let weak = format!("W/{etag}");
        let lm = v().last_modified();
        let c = |im: Option<&'static str>, inm: Option<&'static str>| Conditions {
            if_match: im.map(str::as_bytes),
            if_none_match: inm.map(str::as_bytes),
            ..Default::default()
        };
        let leak = |s: String| -> &'static str { Box::leak(s.into_boxed_str()) };
        assert_eq!(
            eval(c(None, Some(leak(etag.clone()))), true),
            Outcome::NotModified
        );
        assert_eq!(
            eval(c(None, Some(leak(format!("\"x\", {weak}")))), true),
            Outcome::NotModified
        );
        assert_eq!(eval(c(None, Some("*")), true), Outcome::NotModified);
        assert_eq!(eval(c(None, Some("*")), false), Outcome::Failed);
        assert_eq!(eval(c(None, Some("\"other\"")), true), Outcome::Proceed);
        assert_eq!(
            eval(c(Some(leak(etag.clone())), None), false),
            Outcome::Proceed
        );
        assert_eq!(
            eval(c(Some(leak(weak.clone())), None), false),
            Outcome::Failed,
            "If-Match is strong"
        );
        assert_eq!(eval(c(Some("\"nope\""), None), true), Outcome::Failed);
        let ims = Conditions {
            if_modified_since: Some(leak(lm.clone()).as_bytes()),
            ..Default::default()
        };
        assert_eq!(eval(ims, true), Outcome::NotModified);
        let ims_with_inm = Conditions {
            if_modified_since: Some(leak(lm.clone()).as_bytes()),
            if_none_match: Some(b"\"other\""),
            ..Default::default()
        };
        assert_eq!(
            eval(ims_with_inm, true),
            Outcome::Proceed,
            "IMS ignored when INM present"
        );
        let old = Conditions {
            if_unmodified_since: Some(b"Sun, 06 Nov 1994 08:49:37 GMT"),
            ..Default::default()
        };
        assert_eq!(eval(old, false), Outcome::Failed);
        let garbage = Conditions {
            if_unmodified_since: Some(b"yesterday"),
            if_modified_since: Some(b"nope"),
            ..Default::default()
        };
        assert_eq!(eval(garbage, true), Outcome::Proceed);
        assert_eq!(
            evaluate(&c(None, Some("*")), None, false),
            Outcome::Proceed,
            "* needs a current file"
        );
        assert_eq!(evaluate(&c(Some("*"), None), None, false), Outcome::Failed);
    }

    #[test]
    fn if_range() {
        let val = v();
        let etag = val.etag(None);
        assert!(if_range_holds(etag.as_bytes(), &val, &etag));
        assert!(!if_range_holds(format!("W/{etag}").as_bytes(), &val, &etag));
        assert!(if_range_holds(val.last_modified().as_bytes(), &val, &etag));
        assert!(!if_range_holds(
            b"Sun, 06 Nov 1994 08:49:37 GMT",
            &val,
            &etag
        ));
        // Modified in the current second: its date is weak.
        let now = crate::proto::date::current_second() as i64;
        let fresh = Validators::new(1, 5, (now, 0), (now, 0));
        let date = fresh.last_modified();
        let etag = fresh.etag(None);
        assert!(!if_range_holds(date.as_bytes(), &fresh, &etag));
        assert!(if_range_holds(etag.as_bytes(), &fresh, &etag));
    }
}
