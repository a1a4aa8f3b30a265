//! Content coding: choosing one from `Accept-Encoding` (RFC 9110 §12.5.3)
//! and applying it to a response after its handler ran.

use std::io::Write;

use bytes::Bytes;
use flate2::Compression;
use flate2::write::GzEncoder;

use crate::proto::token::{list_items, trim_ows};
use crate::request::Request;
use crate::response::{Payload, Response};
use crate::router::{BoxFuture, Handler};

/// A content coding this server can apply.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Coding {
    /// No coding.
    Identity,
    /// gzip (RFC 1952).
    Gzip,
}

/// Picks a coding from every `Accept-Encoding` value of a request.
///
/// `gzip` (or its alias `x-gzip`) with a q-value above 0 selects gzip; `*`
/// does too when gzip is not named. `gzip;q=0` is a refusal. Unknown codings
/// and elements with a malformed q-value are ignored.
pub fn negotiate<'a>(values: impl Iterator<Item = &'a [u8]>) -> Coding {
    let mut gzip = None;
    let mut star = None;
    for value in values {
        for item in list_items(value) {
            let mut parts = item.split(|&b| b == b';');
            let name = trim_ows(parts.next().unwrap_or_default());
            let Some(q) = quality(parts) else { continue };
            if name.eq_ignore_ascii_case(b"gzip") || name.eq_ignore_ascii_case(b"x-gzip") {
                gzip = Some(gzip.map_or(q, |g: u16| g.max(q)));
            } else if name == b"*" {
                star = Some(q);
            }
        }
    }
    match gzip.or(star) {
        Some(q) if q > 0 => Coding::Gzip,
        _ => Coding::Identity,
    }
}

/// The q parameter in thousandths (1000 when absent), `None` if malformed:
/// `qvalue = ( "0" [ "." 0*3DIGIT ] ) / ( "1" [ "." 0*3("0") ] )`.
fn quality<'a>(params: impl Iterator<Item = &'a [u8]>) -> Option<u16> {
    let mut q = 1000;
    for param in params {
        let param = trim_ows(param);
        let eq = param.iter().position(|&b| b == b'=')?;
        let (key, value) = (trim_ows(&param[..eq]), trim_ows(&param[eq + 1..]));
        if !key.eq_ignore_ascii_case(b"q") {
            continue;
        }
        q = parse_qvalue(value)?;
    }
    Some(q)
}

fn parse_qvalue(v: &[u8]) -> Option<u16> {
    let (int, frac) = match v.iter().position(|&b| b == b'.') {
        Some(dot) => (&v[..dot], &v[dot + 1..]),
        None => (v, &v[v.len()..]),
    };
    if frac.len() > 3 || !frac.iter().all(u8::is_ascii_digit) {
        return None;
    }
    let mut thousandths = 0u16;
    for i in 0..3 {
        thousandths = thousandths * 10 + frac.get(i).map_or(0, |d| u16::from(d - b'0'));
    }
    match int {
        b"0" => Some(thousandths),
        b"1" if thousandths == 0 => Some(1000),
        _ => None,
    }
}

/// gzip-compresses `data`.
pub fn gzip(data: &[u8]) -> Bytes {
    let mut encoder = GzEncoder::new(Vec::with_capacity(data.len() / 2 + 32), Compression::new(6));
    // Writing into a Vec cannot fail.
    let _ = encoder.write_all(data);
    encoder.finish().unwrap_or_default().into()
}

/// Applies `coding` to an in-memory response body and adds `Vary`.
pub fn encode_response(coding: Coding, mut response: Response) -> Response {
    response = response.header("Vary", "Accept-Encoding");
    if coding != Coding::Gzip || response.header_value("content-encoding").is_some() {
        return response;
    }
    match response.take_payload() {
        Payload::Bytes(body) => response
            .header("Content-Encoding", "gzip")
            .with_payload(Payload::Bytes(gzip(&body))),
        other => response.with_payload(other),
    }
}

/// Wraps a handler so its responses are compressed when the client
/// accepts it: a post-processing stage in front of any handler.
pub fn compressed(handler: impl Handler) -> impl Handler {
    move |req: Request| -> BoxFuture {
        let coding = negotiate(req.header_values("accept-encoding"));
        let fut = handler.call(req);
        Box::pin(async move { encode_response(coding, fut.await) })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pick(values: &[&str]) -> Coding {
        negotiate(values.iter().map(|v| v.as_bytes()))
    }

    #[test]
    fn negotiation_honours_q_values() {
        assert_eq!(pick(&[]), Coding::Identity);
        assert_eq!(pick(&["gzip"]), Coding::Gzip);
        assert_eq!(pick(&["invalid-encoding-1, gzip, invalid-2"]), Coding::Gzip);
        assert_eq!(pick(&["GZIP;Q=0.5"]), Coding::Gzip);
        assert_eq!(pick(&["gzip;q=0"]), Coding::Identity);
        assert_eq!(pick(&["gzip;q=0.000"]), Coding::Identity);
        assert_eq!(pick(&["gzip;q=0.001"]), Coding::Gzip);
        assert_eq!(pick(&["br", "deflate"]), Coding::Identity);
        assert_eq!(pick(&["*"]), Coding::Gzip);
        assert_eq!(pick(&["*;q=0"]), Coding::Identity);
        assert_eq!(pick(&["gzip;q=0, *"]), Coding::Identity);
        assert_eq!(pick(&["br", "x-gzip"]), Coding::Gzip);
        assert_eq!(pick(&["gzip;q=2"]), Coding::Identity);
        assert_eq!(pick(&["gzip;q=1.5"]), Coding::Identity);
        assert_eq!(pick(&["gzip;q"]), Coding::Identity);
    }

    #[test]
    fn gzip_round_trips() {
        use std::io::Read;
        let packed = gzip(b"hello hello hello");
        let mut out = String::new();
        flate2::read::GzDecoder::new(&packed[..])
            .read_to_string(&mut out)
            .unwrap();
        assert_eq!(out, "hello hello hello");
    }
}
