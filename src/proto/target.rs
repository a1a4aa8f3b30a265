//! The request-target (RFC 9112 §3.2): its four forms, `Host` validation, and
//! the one place where a path is percent-decoded and its dot-segments removed.

use std::borrow::Cow;

use memchr::memchr;

use super::token::{REG_NAME_PLAIN, TARGET, TARGET_PLAIN, hex_value, run_in};
use crate::error::ProtoError;

/// Which of the four request-target forms was used.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Form {
    /// `/path?query`
    Origin,
    /// `http://host/path?query`
    Absolute,
    /// `*`, for a server-wide OPTIONS.
    Asterisk,
}

/// A checked request-target, as ranges into the raw target.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Target {
    /// The form used.
    pub form: Form,
    /// The path, still encoded (`/` for `*` and an empty absolute path).
    pub path: (usize, usize),
    /// The query without its `?`, if any.
    pub query: Option<(usize, usize)>,
    /// The authority of an absolute-form target.
    pub authority: Option<(usize, usize)>,
    /// The path has no escape and no segment starting with a dot (the
    /// only place a dot-segment can be), so [`decode_path`] would give it
    /// back as it is.
    pub plain: bool,
}

/// Checks a request-target and splits it into its parts.
pub fn parse_target(t: &[u8]) -> Result<Target, ProtoError> {
    if t == b"*" {
        return Ok(Target {
            form: Form::Asterisk,
            path: (0, 0),
            query: None,
            authority: None,
            plain: true,
        });
    }
    let (form, authority, rest) = if t.first() == Some(&b'/') {
        (Form::Origin, None, 0)
    } else {
        let after_scheme = absolute_scheme_len(t).ok_or(ProtoError::BadTarget)?;
        let len = t[after_scheme..]
            .iter()
            .position(|&b| b == b'/' || b == b'?')
            .unwrap_or(t.len() - after_scheme);
        let authority = (after_scheme, after_scheme + len);
        check_host(&t[authority.0..authority.1]).map_err(|_| ProtoError::BadTarget)?;
        if authority.0 == authority.1 {
            return Err(ProtoError::BadTarget);
        }
        (Form::Absolute, Some(authority), authority.1)
    };
    let (query_at, plain) = check_chars(&t[rest..])?;
    let (path, query) = match query_at {
        Some(q) => ((rest, rest + q), Some((rest + q + 1, t.len()))),
        None => ((rest, t.len()), None),
    };
    Ok(Target {
        form,
        path,
        query,
        authority,
        plain,
    })
}

/// Length of `http://` or `https://` (scheme case-insensitive), if present.
fn absolute_scheme_len(t: &[u8]) -> Option<usize> {
    let colon = memchr(b':', t)?;
    let scheme = &t[..colon];
    let known = scheme.eq_ignore_ascii_case(b"http") || scheme.eq_ignore_ascii_case(b"https");
    (known && t[colon..].starts_with(b"://")).then_some(colon + 3)
}

/// Path and query bytes must be pchar, `/`, `?` or a valid `%XX`. In the
/// same pass: where the first `?` is, and whether the path before it is
/// plain (no `%`, no segment starting with `.`).
fn check_chars(s: &[u8]) -> Result<(Option<usize>, bool), ProtoError> {
    let mut query = None;
    let mut plain = true;
    let mut i = 0;
    loop {
        // Most bytes need no more than their table entry.
        i += run_in(&TARGET_PLAIN, &s[i..]);
        let Some(&b) = s.get(i) else {
            break;
        };
        if !TARGET[b as usize] {
            return Err(ProtoError::BadTarget);
        }
        match b {
            b'%' => {
                let valid = s.len() > i + 2
                    && hex_value(s[i + 1]).is_some()
                    && hex_value(s[i + 2]).is_some();
                if !valid {
                    return Err(ProtoError::BadTarget);
                }
                plain &= query.is_some();
                i += 3;
                continue;
            }
            b'.' if i == 0 || s[i - 1] == b'/' => plain &= query.is_some(),
            b'?' if query.is_none() => query = Some(i),
            _ => {}
        }
        i += 1;
    }
    Ok((query, plain))
}

/// `Host = uri-host [ ":" port ]` (RFC 9110 §7.2), `uri-host` per RFC 3986:
/// an IP-literal in brackets or a reg-name (IPv4 is a reg-name too). No
/// userinfo, no whitespace. An empty value is valid (RFC 9112 §3.2).
pub fn check_host(h: &[u8]) -> Result<(), ProtoError> {
    let port = if h.first() == Some(&b'[') {
        let close = memchr(b']', h).ok_or(ProtoError::BadHost)?;
        let literal = &h[1..close];
        let ok = !literal.is_empty()
            && literal
                .iter()
                .all(|&b| b.is_ascii_hexdigit() || matches!(b, b':' | b'.'));
        if !ok {
            return Err(ProtoError::BadHost);
        }
        &h[close + 1..]
    } else {
        // One pass up to the port: a table lookup for each ordinary
        // reg-name byte; only a `%` (two hex digits must follow), the `:`
        // before the port or a byte that is not allowed stops it.
        let mut i = 0;
        loop {
            i += run_in(&REG_NAME_PLAIN, &h[i..]);
            match h.get(i) {
                None | Some(b':') => break,
                Some(b'%') => {
                    let hex = |at: usize| h.get(at).copied().and_then(hex_value).is_some();
                    if !(hex(i + 1) && hex(i + 2)) {
                        return Err(ProtoError::BadHost);
                    }
                    i += 3;
                }
                Some(_) => return Err(ProtoError::BadHost),
            }
        }
        &h[i..]
    };
    match port {
        [] => Ok(()),
        [b':', digits @ ..] if digits.len() <= 5 && digits.iter().all(u8::is_ascii_digit) => Ok(()),
        _ => Err(ProtoError::BadHost),
    }
}

/// Percent-decodes a path and removes its dot-segments (RFC 3986 §5.2.4),
/// the one place either happens. An encoded `/` or NUL is refused, since it
/// would change which resource the path names; so is a path that is not UTF-8.
pub fn decode_path(raw: &[u8]) -> Result<Cow<'_, str>, ProtoError> {
    // Most paths have neither an escape nor a dot: one scan says so.
    if memchr::memchr2(b'%', b'.', raw).is_none() {
        return std::str::from_utf8(raw)
            .map(Cow::Borrowed)
            .map_err(|_| ProtoError::BadTarget);
    }
    let has_escape = memchr(b'%', raw).is_some();
    let decoded: Cow<'_, str> = if has_escape {
        let mut out = Vec::with_capacity(raw.len());
        let mut i = 0;
        while i < raw.len() {
            if raw[i] == b'%' {
                let digit = |at: usize| raw.get(at).copied().and_then(hex_value);
                let b = digit(i + 1).zip(digit(i + 2));
                let b = b.map(|(h, l)| h << 4 | l).ok_or(ProtoError::BadTarget)?;
                if b == b'/' || b == 0 {
                    return Err(ProtoError::EncodedSeparator);
                }
                out.push(b);
                i += 3;
            } else {
                out.push(raw[i]);
                i += 1;
            }
        }
        Cow::Owned(String::from_utf8(out).map_err(|_| ProtoError::BadTarget)?)
    } else {
        // Checked by `parse_target`: ASCII only.
        Cow::Borrowed(std::str::from_utf8(raw).map_err(|_| ProtoError::BadTarget)?)
    };
    if has_dot_segment(&decoded) {
        Ok(Cow::Owned(remove_dot_segments(&decoded)))
    } else {
        Ok(decoded)
    }
}

fn has_dot_segment(path: &str) -> bool {
    path.split('/').any(|s| s == "." || s == "..")
}

/// RFC 3986 §5.2.4 for an absolute path: `.` vanishes, `..` removes the
/// segment before it and never climbs above the root.
fn remove_dot_segments(path: &str) -> String {
    let segments: Vec<&str> = path.split('/').skip(1).collect();
    let mut out: Vec<&str> = Vec::with_capacity(segments.len());
    let last = segments.len().saturating_sub(1);
    for (i, seg) in segments.iter().enumerate() {
        match *seg {
            "." => {}
            ".." => {
                out.pop();
            }
            s => out.push(s),
        }
        if i == last && (*seg == "." || *seg == "..") {
            out.push("");
        }
    }
    let mut result = String::with_capacity(path.len());
    for seg in out {
        result.push('/');
        result.push_str(seg);
    }
    if result.is_empty() {
        result.push('/');
    }
    result
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn forms() {
        let t = parse_target(b"/echo/a?x=1").unwrap();
        assert_eq!(
            (t.form, t.path, t.query),
            (Form::Origin, (0, 7), Some((8, 11)))
        );
        let t = parse_target(b"http://example.com:80/a").unwrap();
        assert_eq!(
            (t.form, t.authority, t.path),
            (Form::Absolute, Some((7, 21)), (21, 23))
        );
        let t = parse_target(b"HTTPS://h?q").unwrap();
        assert_eq!((t.path, t.query), ((9, 9), Some((10, 11))));
        assert_eq!(parse_target(b"*").unwrap().form, Form::Asterisk);
        for bad in [
            &b"echo"[..],
            b"/a#b",
            b"/a%2",
            b"/a%zz",
            b"/<x>",
            b"http://",
            b"http://u@h/",
            b"ftp://h/",
            b"h:80",
        ] {
            assert_eq!(
                parse_target(bad),
                Err(ProtoError::BadTarget),
                "{:?}",
                String::from_utf8_lossy(bad)
            );
        }
    }

    /// A plain path is one decoding leaves as it is: no escape, no segment
    /// starting with a dot. A dot inside a segment, or a dot or escape in
    /// the query, does not count.
    #[test]
    fn plain_paths_are_those_decoding_leaves_alone() {
        for (target, plain) in [
            (&b"/"[..], true),
            (b"/echo/abc?x=1.2%20", true),
            (b"/a.txt", true),
            (b"/files/1k.bin", true),
            (b"/a/b..c/d.", true),
            (b"/a/./b", false),
            (b"/a/../b", false),
            (b"/a/..", false),
            (b"/.hidden", false),
            (b"/a/.b", false),
            (b"/a%41", false),
            (b"/a?b?c", true),
            (b"http://h.example/x", true),
            (b"http://h/x.y?z", true),
            (b"http://h/.y?z", false),
        ] {
            let t = parse_target(target).unwrap();
            assert_eq!(t.plain, plain, "{:?}", String::from_utf8_lossy(target));
            let raw = &target[t.path.0..t.path.1];
            if plain && !raw.is_empty() {
                assert_eq!(decode_path(raw).unwrap().as_bytes(), raw);
            }
        }
    }

    #[test]
    fn hosts() {
        for ok in [
            &b""[..],
            b"a",
            b"a.b:8080",
            b"127.0.0.1",
            b"[::1]:4221",
            b"x%41y",
            b"h:",
            b"%41%42:1",
        ] {
            assert_eq!(check_host(ok), Ok(()), "{:?}", String::from_utf8_lossy(ok));
        }
        for bad in [
            &b"a b"[..],
            b"u@h",
            b"h:x",
            b"[zz]",
            b"h:123456",
            b"a/b",
            b"[::1",
            b"a%4",
            b"a%4:1",
            b"a%zz",
            b"%%41",
        ] {
            assert_eq!(
                check_host(bad),
                Err(ProtoError::BadHost),
                "{:?}",
                String::from_utf8_lossy(bad)
            );
        }
    }

    /// The host check against the grammar read literally, for every byte
    /// at every place of a few hosts.
    #[test]
    fn host_check_agrees_with_the_grammar() {
        fn reference(h: &[u8]) -> bool {
            let (name, port) = match h.iter().position(|&b| b == b':') {
                Some(c) => (&h[..c], Some(&h[c + 1..])),
                None => (h, None),
            };
            let unreserved_or_sub =
                |b: u8| b.is_ascii_alphanumeric() || b"-._~!$&'()*+,;=".contains(&b);
            let mut i = 0;
            while i < name.len() {
                if name[i] == b'%' {
                    let hex = |at: usize| name.get(at).is_some_and(u8::is_ascii_hexdigit);
                    if !(hex(i + 1) && hex(i + 2)) {
                        return false;
                    }
                    i += 3;
                } else if unreserved_or_sub(name[i]) {
                    i += 1;
                } else {
                    return false;
                }
            }
            port.is_none_or(|p| p.len() <= 5 && p.iter().all(u8::is_ascii_digit))
        }
        for base in [&b"ab.c:80"[..], b"%41b:1", b"a%4f"] {
            for pos in 0..base.len() {
                for b in 0..=255u8 {
                    let mut h = base.to_vec();
                    h[pos] = b;
                    assert_eq!(check_host(&h).is_ok(), reference(&h), "{h:?}");
                }
            }
        }
    }

    #[test]
    fn decoding_and_dots() {
        assert_eq!(decode_path(b"/echo/a%20b").unwrap(), "/echo/a b");
        assert_eq!(decode_path(b"/a/b/../c").unwrap(), "/a/c");
        assert_eq!(decode_path(b"/a/%2e%2E/../x").unwrap(), "/x");
        assert_eq!(decode_path(b"/a/.").unwrap(), "/a/");
        assert_eq!(decode_path(b"/..").unwrap(), "/");
        assert_eq!(decode_path(b"/files/..%2e/..").unwrap(), "/files/");
        assert_eq!(decode_path(b"/files/%2e%2e/%2e%2e/etc").unwrap(), "/etc");
        assert_eq!(decode_path(b"/%C3%A9").unwrap(), "/\u{e9}");
        assert_eq!(decode_path(b"/a%2Fb"), Err(ProtoError::EncodedSeparator));
        assert_eq!(decode_path(b"/a%00"), Err(ProtoError::EncodedSeparator));
        assert_eq!(decode_path(b"/%ff"), Err(ProtoError::BadTarget));
        assert_eq!(
            decode_path(b"/%"),
            Err(ProtoError::BadTarget),
            "unchecked input never panics"
        );
        assert_eq!(decode_path(b"/%4"), Err(ProtoError::BadTarget));
        assert!(matches!(
            decode_path(b"/plain/path").unwrap(),
            Cow::Borrowed(_)
        ));
    }
}
