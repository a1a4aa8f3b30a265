//! Content coding: choosing one from `Accept-Encoding` (RFC 9110 §12.5.3)
//! and applying it to a response after its handler ran.

use std::io::Write;

use bytes::Bytes;
use flate2::Compression;
use flate2::write::GzEncoder;

use crate::proto::token::{list_items, trim_ows};
use crate::request::Request;
use crate::response::{Payload, Response};
use crate::router::{Handler, Reply};

/// A content coding this server can apply.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Coding {
    /// No coding.
    Identity,
    /// gzip (RFC 1952).
    Gzip,
    /// Brotli (RFC 7932).
    Brotli,
    /// Zstandard (RFC 8878); only with the `zstd` cargo feature.
    Zstd,
}

impl Coding {
    /// The token used in `Accept-Encoding` and `Content-Encoding`.
    pub fn token(self) -> &'static str {
        match self {
            Coding::Identity => "identity",
            Coding::Gzip => "gzip",
            Coding::Brotli => "br",
            Coding::Zstd => "zstd",
        }
    }

    /// The extension of a precompressed sibling file (`x.js.gz`).
    pub fn extension(self) -> &'static str {
        match self {
            Coding::Identity => "",
            Coding::Gzip => ".gz",
            Coding::Brotli => ".br",
            Coding::Zstd => ".zst",
        }
    }

    /// The codings this build can produce, best first: the order used to
    /// break ties between equal q-values.
    pub fn available() -> &'static [Coding] {
        if cfg!(feature = "zstd") {
            &[Coding::Brotli, Coding::Zstd, Coding::Gzip]
        } else {
            &[Coding::Brotli, Coding::Gzip]
        }
    }
}

/// What `Accept-Encoding` allows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Choice {
    /// Send with this coding (possibly identity).
    Use(Coding),
    /// The client refused identity and every coding offered (406).
    NotAcceptable,
}

/// Picks a coding among `offered` from every `Accept-Encoding` value of a
/// request (RFC 9110 §12.5.3): the highest q-value wins, ties go to the
/// earlier entry of `offered`, then to identity. A coding named with q=0 is
/// refused; `*` covers codings not named; `identity` is acceptable unless
/// refused by `identity;q=0` or `*;q=0`. No field at all means identity.
/// Unknown codings and malformed q-values are ignored.
pub fn choose<'a>(values: impl Iterator<Item = &'a [u8]>, offered: &[Coding]) -> Choice {
    let mut named: Vec<(Coding, u16)> = Vec::new();
    let mut star = None;
    let mut identity = None;
    let mut present = false;
    for value in values {
        present = true;
        for item in list_items(value) {
            let mut parts = item.split(|&b| b == b';');
            let name = trim_ows(parts.next().unwrap_or_default());
            let Some(q) = quality(parts) else { continue };
            let coding = match name {
                n if n.eq_ignore_ascii_case(b"gzip") || n.eq_ignore_ascii_case(b"x-gzip") => {
                    Coding::Gzip
                }
                n if n.eq_ignore_ascii_case(b"br") => Coding::Brotli,
                n if n.eq_ignore_ascii_case(b"zstd") => Coding::Zstd,
                n if n.eq_ignore_ascii_case(b"identity") => {
                    identity = Some(q);
                    continue;
                }
                b"*" => {
                    star = Some(q);
                    continue;
                }
                _ => continue,
            };
            match named.iter_mut().find(|(c, _)| *c == coding) {
                Some((_, best)) => *best = (*best).max(q),
                None => named.push((coding, q)),
            }
        }
    }
    if !present {
        return Choice::Use(Coding::Identity);
    }
    let q_of = |c: Coding| {
        named
            .iter()
            .find(|(n, _)| *n == c)
            .map(|(_, q)| *q)
            .or(star)
            .unwrap_or(0)
    };
    let best = offered
        .iter()
        .map(|&c| (c, q_of(c)))
        .filter(|&(_, q)| q > 0)
        .fold(None, |best: Option<(Coding, u16)>, (c, q)| match best {
            Some((_, bq)) if bq >= q => best,
            _ => Some((c, q)),
        });
    let identity_q = identity.or(star.filter(|&q| q == 0)).unwrap_or(1);
    match best {
        Some((c, q)) if q >= identity_q => Choice::Use(c),
        _ if identity_q > 0 => Choice::Use(Coding::Identity),
        Some((c, _)) => Choice::Use(c),
        None => Choice::NotAcceptable,
    }
}

/// gzip or identity for a request, as `/echo` offers.
pub fn negotiate<'a>(values: impl Iterator<Item = &'a [u8]>) -> Coding {
    match choose(values, &[Coding::Gzip]) {
        Choice::Use(c) => c,
        Choice::NotAcceptable => Coding::Identity,
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

/// gzip-compresses `data` at level 6.
pub fn gzip(data: &[u8]) -> Bytes {
    let mut encoder = GzEncoder::new(Vec::with_capacity(data.len() / 2 + 32), Compression::new(6));
    // Writing into a Vec cannot fail.
    let _ = encoder.write_all(data);
    encoder.finish().unwrap_or_default().into()
}

/// Compresses `data` with `coding`. Levels are chosen for representations
/// that are compressed once and then served from the cache many times:
/// gzip 6, Brotli quality 5, zstd 3.
pub fn compress(coding: Coding, data: &[u8]) -> Bytes {
    match coding {
        Coding::Identity => Bytes::copy_from_slice(data),
        Coding::Gzip => gzip(data),
        Coding::Brotli => {
            let mut out = Vec::with_capacity(data.len() / 3 + 32);
            let params = brotli::enc::BrotliEncoderParams {
                quality: 5,
                lgwin: 22,
                ..Default::default()
            };
            let _ = brotli::BrotliCompress(&mut &data[..], &mut out, &params);
            out.into()
        }
        #[cfg(feature = "zstd")]
        Coding::Zstd => zstd::bulk::compress(data, 3).unwrap_or_default().into(),
        #[cfg(not(feature = "zstd"))]
        Coding::Zstd => Bytes::copy_from_slice(data),
    }
}

/// Applies `coding` to an in-memory response body and adds `Vary`.
pub fn encode_response(coding: Coding, mut response: Response) -> Response {
    response = response.field("Vary", Bytes::from_static(b"Accept-Encoding"));
    if coding != Coding::Gzip || response.header_value("content-encoding").is_some() {
        return response;
    }
    match response.take_payload() {
        Payload::Bytes(body) => response
            .field("Content-Encoding", Bytes::from_static(b"gzip"))
            .with_payload(Payload::Bytes(gzip(&body))),
        other => response.with_payload(other),
    }
}

/// The router's stages after a handler: default fields, then the content
/// coding chosen before the handler ran (for compressible in-memory bodies
/// of 1 KiB or more that carry no coding yet).
pub(crate) fn apply_stages(
    context: &crate::router::Context,
    coding: Option<Choice>,
    mut response: Response,
) -> Response {
    for (name, value) in &context.headers {
        if response.header_value(name).is_none() {
            response = response.header(name.clone(), value.clone());
        }
    }
    let Some(choice) = coding else {
        return response;
    };
    let compressible = response
        .header_value("content-type")
        .and_then(|v| std::str::from_utf8(v).ok())
        .is_some_and(crate::files::mime::compressible);
    if !compressible || response.header_value("content-encoding").is_some() {
        return response;
    }
    response = response.field("Vary", Bytes::from_static(b"Accept-Encoding"));
    match (choice, response.take_payload()) {
        (Choice::Use(c), Payload::Bytes(body)) if c != Coding::Identity && body.len() >= 1024 => {
            response
                .field("Content-Encoding", Bytes::from_static(c.token().as_bytes()))
                .with_payload(Payload::Bytes(compress(c, &body)))
        }
        (_, payload) => response.with_payload(payload),
    }
}

/// Wraps a handler so its responses are compressed when the client
/// accepts it: a post-processing stage in front of any handler.
pub fn compressed(handler: impl Handler) -> impl Handler {
    Compressed(handler)
}

struct Compressed<H>(H);

impl<H: Handler> Handler for Compressed<H> {
    fn call(&self, req: Request) -> Reply {
        let coding = negotiate(req.header_values("accept-encoding"));
        match self.0.call(req) {
            Reply::Ready(response) => Reply::Ready(encode_response(coding, response)),
            Reply::Pending(fut) => {
                Reply::Pending(Box::pin(async move { encode_response(coding, fut.await) }))
            }
        }
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

    fn choose_among(values: &[&str]) -> Choice {
        choose(
            values.iter().map(|v| v.as_bytes()),
            &[Coding::Brotli, Coding::Gzip],
        )
    }

    #[test]
    fn choice_among_several_codings() {
        use Choice::*;
        assert_eq!(choose_among(&[]), Use(Coding::Identity));
        assert_eq!(
            choose_among(&["gzip, br"]),
            Use(Coding::Brotli),
            "ties go to the server's order"
        );
        assert_eq!(choose_among(&["gzip;q=1, br;q=0.5"]), Use(Coding::Gzip));
        assert_eq!(choose_among(&["br;q=0, *"]), Use(Coding::Gzip));
        assert_eq!(choose_among(&["identity"]), Use(Coding::Identity));
        assert_eq!(
            choose_among(&["gzip;q=0.5, identity"]),
            Use(Coding::Identity)
        );
        assert_eq!(choose_among(&["identity;q=0"]), NotAcceptable);
        assert_eq!(choose_among(&["*;q=0"]), NotAcceptable);
        assert_eq!(
            choose_among(&["identity;q=0, gzip;q=0.1"]),
            Use(Coding::Gzip)
        );
        assert_eq!(choose_among(&["deflate"]), Use(Coding::Identity));
    }

    #[test]
    fn codings_round_trip() {
        use std::io::Read;
        let text = b"the quick brown fox jumps over the lazy dog ".repeat(50);
        let br = compress(Coding::Brotli, &text);
        assert!(br.len() < text.len() / 4);
        let mut out = Vec::new();
        brotli::Decompressor::new(&br[..], 4096)
            .read_to_end(&mut out)
            .unwrap();
        assert_eq!(out, text);
    }

    #[cfg(feature = "zstd")]
    #[test]
    fn zstd_is_offered_and_round_trips() {
        let text = b"zstd zstd zstd zstd ".repeat(100);
        let packed = compress(Coding::Zstd, &text);
        assert_eq!(zstd::bulk::decompress(&packed, text.len()).unwrap(), text);
        let pick = choose([&b"zstd, gzip;q=0.5"[..]].into_iter(), Coding::available());
        assert_eq!(pick, Choice::Use(Coding::Zstd));
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
