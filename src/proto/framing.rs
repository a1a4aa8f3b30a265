//! Message framing: how long a request body is and how a response body is
//! delimited. This is the only module that decides either; everything that
//! writes or reads a body uses its answer.

use super::head::{RequestHead, Version};
use super::token::{is_token, list_items};
use crate::error::ProtoError;

/// How a request body is delimited.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RequestBody {
    /// No body at all.
    None,
    /// Exactly this many bytes follow the head.
    Length(u64),
    /// The chunked transfer coding.
    Chunked,
}

/// The request body's framing, per RFC 9112 §6.3:
///
/// > 3. If a message is received with both a Transfer-Encoding and a
/// >    Content-Length header field, the Transfer-Encoding overrides the
/// >    Content-Length. Such a message might indicate an attempt to perform
/// >    request smuggling … and ought to be handled as an error.
///
/// We take the safe reading and reject it (400, close).
///
/// > 4. If a Transfer-Encoding header field is present in a request and the
/// >    chunked transfer coding is not the final encoding, the message body
/// >    length cannot be determined reliably; the server MUST respond with
/// >    the 400 (Bad Request) status code and then close the connection.
///
/// Codings other than `chunked` are not implemented: 501 (RFC 9112 §6.1).
/// `Transfer-Encoding` in HTTP/1.0 is rejected, since a 1.0 peer cannot have
/// meant it (RFC 9112 §6.1 lets a server treat it as faulty framing).
///
/// > 5. If a message is received without Transfer-Encoding and with an
/// >    invalid Content-Length header field, then the message framing is
/// >    invalid … unless the field value can be successfully parsed as a
/// >    comma-separated list, all values in the list are valid, and all values
/// >    in the list are the same.
///
/// > 6. If this is a request message and none of the above are true, then the
/// >    message body length is zero.
pub fn request_body(head: &RequestHead) -> Result<RequestBody, ProtoError> {
    let has_te = head.values("transfer-encoding").next().is_some();
    let has_cl = head.values("content-length").next().is_some();
    if has_te {
        if head.version == Version::Http10 {
            return Err(ProtoError::TransferEncodingInHttp10);
        }
        if has_cl {
            return Err(ProtoError::LengthAndChunked);
        }
        return transfer_coding(head.values("transfer-encoding"));
    }
    if has_cl {
        return content_length(head.values("content-length")).map(RequestBody::Length);
    }
    Ok(RequestBody::None)
}

fn transfer_coding<'a>(values: impl Iterator<Item = &'a [u8]>) -> Result<RequestBody, ProtoError> {
    let mut codings = 0;
    let mut last_is_chunked = false;
    let mut other = false;
    for value in values {
        for coding in list_items(value) {
            if last_is_chunked {
                // chunked applied before another coding, or twice
                return Err(ProtoError::ChunkedNotLast);
            }
            let name = coding.split(|&b| b == b';').next().unwrap_or_default();
            let name = super::token::trim_ows(name);
            if !is_token(name) {
                return Err(ProtoError::ChunkedNotLast);
            }
            if name.eq_ignore_ascii_case(b"chunked") {
                if name.len() != coding.len() {
                    // chunked takes no parameters
                    return Err(ProtoError::ChunkedNotLast);
                }
                last_is_chunked = true;
            } else {
                other = true;
            }
            codings += 1;
        }
    }
    if codings == 0 || !last_is_chunked {
        return Err(ProtoError::ChunkedNotLast);
    }
    if other {
        return Err(ProtoError::UnsupportedTransferCoding);
    }
    Ok(RequestBody::Chunked)
}

fn content_length<'a>(values: impl Iterator<Item = &'a [u8]>) -> Result<u64, ProtoError> {
    let mut length = None;
    for value in values {
        // An empty element ("5,,5" or "") is not a valid length.
        for item in value.split(|&b| b == b',') {
            let n = parse_digits(super::token::trim_ows(item))?;
            match length {
                Some(prev) if prev != n => return Err(ProtoError::BadContentLength),
                _ => length = Some(n),
            }
        }
    }
    length.ok_or(ProtoError::BadContentLength)
}

/// `1*DIGIT` into a u64; a number too big for 64 bits is certainly too big
/// for any body limit, so it is reported as such.
fn parse_digits(s: &[u8]) -> Result<u64, ProtoError> {
    if s.is_empty() || !s.iter().all(u8::is_ascii_digit) {
        return Err(ProtoError::BadContentLength);
    }
    s.iter().try_fold(0u64, |n, &d| {
        n.checked_mul(10)
            .and_then(|n| n.checked_add(u64::from(d - b'0')))
            .ok_or(ProtoError::BodyTooLarge)
    })
}

/// How a response body is delimited on the wire, and which framing header
/// goes with it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ResponseBody {
    /// 1xx, 204 and 304: no body and no length header.
    Bodiless,
    /// `Content-Length: len`; the body follows unless `send` is false (HEAD).
    Length {
        /// The length of the representation.
        len: u64,
        /// False for HEAD: the header is sent, the bytes are not.
        send: bool,
    },
    /// `Transfer-Encoding: chunked`.
    Chunked,
    /// No length header; the body ends when the connection closes
    /// (HTTP/1.0 peers and a HEAD of unknown length).
    CloseDelimited {
        /// False for HEAD.
        send: bool,
    },
}

impl ResponseBody {
    /// True when the connection must close after this body.
    pub fn closes(self) -> bool {
        matches!(self, ResponseBody::CloseDelimited { send: true })
    }
}

/// The response's framing (RFC 9112 §6.3 steps 1–2, §6.1 and RFC 9110
/// §6.4.1): responses to HEAD and 1xx/204/304 responses carry no body (HEAD
/// still states the length it would have had); a known length is sent as
/// `Content-Length`; an unknown one is chunked for HTTP/1.1 and delimited by
/// closing the connection for HTTP/1.0, which cannot decode chunked.
pub fn response_body(
    head_request: bool,
    status: u16,
    version: Version,
    len: Option<u64>,
) -> ResponseBody {
    if (100..200).contains(&status) || status == 204 || status == 304 {
        return ResponseBody::Bodiless;
    }
    match (len, version) {
        (Some(len), _) => ResponseBody::Length {
            len,
            send: !head_request,
        },
        (None, _) if head_request => ResponseBody::CloseDelimited { send: false },
        (None, Version::Http11) => ResponseBody::Chunked,
        (None, Version::Http10) => ResponseBody::CloseDelimited { send: true },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::proto::head::FieldIndex;
    use crate::proto::parse::{HeadLimits, Status, parse_head};
    use bytes::Bytes;

    fn head(raw: &str) -> RequestHead {
        let limits = HeadLimits {
            max_target_bytes: 1024,
            max_fields: 64,
        };
        match parse_head(raw.as_bytes(), &limits) {
            Ok(Status::Complete(_, h)) => RequestHead {
                index: FieldIndex::of(raw.as_bytes(), &h.fields),
                bytes: Bytes::copy_from_slice(raw.as_bytes()),
                method: h.method,
                target: h.target,
                version: h.version,
                fields: h.fields,
            },
            other => panic!("{other:?}"),
        }
    }

    fn body(fields: &str) -> Result<RequestBody, ProtoError> {
        request_body(&head(&format!("POST / HTTP/1.1\r\n{fields}\r\n")))
    }

    #[test]
    fn request_framing_follows_rfc_9112_6_3() {
        use ProtoError::*;
        use RequestBody::*;
        let cases: &[(&str, Result<RequestBody, ProtoError>)] = &[
            ("", Ok(None)),
            ("Content-Length: 5\r\n", Ok(Length(5))),
            ("Content-Length: 5\r\nContent-Length: 5\r\n", Ok(Length(5))),
            ("Content-Length: 5, 5\r\n", Ok(Length(5))),
            (
                "Content-Length: 5\r\nContent-Length: 6\r\n",
                Err(BadContentLength),
            ),
            ("Content-Length: +5\r\n", Err(BadContentLength)),
            ("Content-Length: 0x5\r\n", Err(BadContentLength)),
            ("Content-Length: \r\n", Err(BadContentLength)),
            ("Content-Length: 5,\r\n", Err(BadContentLength)),
            (
                "Content-Length: 99999999999999999999999\r\n",
                Err(BodyTooLarge),
            ),
            ("Transfer-Encoding: chunked\r\n", Ok(Chunked)),
            ("Transfer-Encoding: CHUNKED\r\n", Ok(Chunked)),
            (
                "Transfer-Encoding: chunked\r\nContent-Length: 3\r\n",
                Err(LengthAndChunked),
            ),
            (
                "Transfer-Encoding: gzip, chunked\r\n",
                Err(UnsupportedTransferCoding),
            ),
            ("Transfer-Encoding: chunked, gzip\r\n", Err(ChunkedNotLast)),
            (
                "Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n",
                Err(ChunkedNotLast),
            ),
            ("Transfer-Encoding: gzip\r\n", Err(ChunkedNotLast)),
            ("Transfer-Encoding: \r\n", Err(ChunkedNotLast)),
            ("Transfer-Encoding: chunked;a=b\r\n", Err(ChunkedNotLast)),
            ("Transfer-Encoding: xchunked\r\n", Err(ChunkedNotLast)),
        ];
        for (fields, want) in cases {
            assert_eq!(body(fields), *want, "{fields:?}");
        }
        let h10 = head("POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n");
        assert_eq!(request_body(&h10), Err(TransferEncodingInHttp10));
    }

    #[test]
    fn response_framing() {
        use ResponseBody::*;
        assert_eq!(
            response_body(false, 200, Version::Http11, Some(3)),
            Length { len: 3, send: true }
        );
        assert_eq!(
            response_body(true, 200, Version::Http11, Some(3)),
            Length {
                len: 3,
                send: false
            }
        );
        assert_eq!(
            response_body(false, 204, Version::Http11, Some(0)),
            Bodiless
        );
        assert_eq!(
            response_body(false, 304, Version::Http11, Some(9)),
            Bodiless
        );
        assert_eq!(response_body(false, 200, Version::Http11, None), Chunked);
        assert_eq!(
            response_body(false, 200, Version::Http10, None),
            CloseDelimited { send: true }
        );
        assert!(!response_body(true, 200, Version::Http10, None).closes());
    }
}
