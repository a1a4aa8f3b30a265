//! Error kinds of the protocol layer and the one place they become status codes.

use std::fmt;

/// Why a request could not be accepted. Every kind maps to exactly one
/// status code and one short reason, in [`ProtoError::status`] and
/// [`ProtoError::reason`]; nothing else in the crate decides these.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum ProtoError {
    /// The request line is not `method SP request-target SP HTTP-version`.
    BadRequestLine,
    /// The method is not a token.
    BadMethod,
    /// The request-target has a byte or escape RFC 3986 does not allow.
    BadTarget,
    /// The path has an encoded `/` or NUL, which could change its meaning.
    EncodedSeparator,
    /// The version is not `HTTP/` DIGIT `.` DIGIT.
    BadVersion,
    /// A version this server does not speak (HTTP/0.9, HTTP/2 and later).
    UnsupportedVersion,
    /// A line ends in a bare LF instead of CRLF.
    BareLf,
    /// A CR that is not followed by LF.
    BareCr,
    /// More empty lines before the request line than we tolerate.
    TooManyEmptyLines,
    /// A field name with a byte that is not a tchar (whitespace before `:` too).
    BadFieldName,
    /// A field line without a colon.
    MissingColon,
    /// A field value with NUL or another control character.
    BadFieldValue,
    /// A field line starting with whitespace (obs-fold, or before the first field).
    ObsFold,
    /// An HTTP/1.1 request without a `Host` field.
    MissingHost,
    /// More than one `Host` field.
    DuplicateHost,
    /// A `Host` value that is not `host [ ":" port ]` per RFC 3986.
    BadHost,
    /// A `Content-Length` that is not 1*DIGIT, or several that differ.
    BadContentLength,
    /// Both `Content-Length` and `Transfer-Encoding`.
    LengthAndChunked,
    /// `Transfer-Encoding` whose final coding is not `chunked`, or `chunked` twice.
    ChunkedNotLast,
    /// A transfer coding other than `chunked`.
    UnsupportedTransferCoding,
    /// `Transfer-Encoding` in an HTTP/1.0 request.
    TransferEncodingInHttp10,
    /// A chunk-size line that is not 1*HEXDIG, or one that overflows.
    BadChunkSize,
    /// A chunk extension that breaks the grammar.
    BadChunkExtension,
    /// A chunk not followed by CRLF.
    BadChunkEnd,
    /// A trailer field line that breaks the grammar.
    BadTrailer,
    /// Chunk extensions longer than the limit.
    ChunkExtensionTooLong,
    /// The trailer section is larger than the limit.
    TrailersTooLarge,
    /// The head is larger than `max_header_bytes`.
    HeadTooLarge,
    /// More field lines than `max_headers`.
    TooManyFields,
    /// The request-target is longer than `max_target_bytes`.
    TargetTooLong,
    /// The body is larger than `max_body_bytes`.
    BodyTooLarge,
    /// The body is larger than its handler reads into memory
    /// ([`crate::Body::read_to_end`]; `max_buffered_body_bytes` for the
    /// tool's routes).
    BodyTooLargeToBuffer,
    /// The body ended before its declared length.
    IncompleteBody,
    /// The client closed its side before the head ended.
    IncompleteHead,
    /// The head did not arrive within the header timeout.
    HeaderTimeout,
    /// The body stalled for longer than the body timeout.
    BodyTimeout,
    /// An `Expect` value other than `100-continue`.
    UnsupportedExpectation,
    /// A method no route of this server implements.
    MethodNotImplemented,
    /// CONNECT and its authority-form target.
    ConnectNotSupported,
}

impl ProtoError {
    /// The status code this error is answered with.
    pub fn status(self) -> u16 {
        use ProtoError::*;
        match self {
            HeadTooLarge | TooManyFields | TrailersTooLarge => 431,
            TargetTooLong => 414,
            BodyTooLarge | BodyTooLargeToBuffer => 413,
            HeaderTimeout | BodyTimeout => 408,
            UnsupportedVersion => 505,
            UnsupportedTransferCoding | MethodNotImplemented | ConnectNotSupported => 501,
            UnsupportedExpectation => 417,
            BadRequestLine
            | BadMethod
            | BadTarget
            | EncodedSeparator
            | BadVersion
            | BareLf
            | BareCr
            | TooManyEmptyLines
            | BadFieldName
            | MissingColon
            | BadFieldValue
            | ObsFold
            | MissingHost
            | DuplicateHost
            | BadHost
            | BadContentLength
            | LengthAndChunked
            | ChunkedNotLast
            | TransferEncodingInHttp10
            | BadChunkSize
            | BadChunkExtension
            | BadChunkEnd
            | BadTrailer
            | ChunkExtensionTooLong
            | IncompleteBody
            | IncompleteHead => 400,
        }
    }

    /// One short sentence saying what was wrong, sent as the response body.
    pub fn reason(self) -> &'static str {
        use ProtoError::*;
        match self {
            BadRequestLine => "request line must be `METHOD SP target SP HTTP/1.1` + CRLF",
            BadMethod => "method must be a token",
            BadTarget => "request-target has a character or %-escape that is not allowed",
            EncodedSeparator => "path must not contain an encoded '/' or NUL",
            BadVersion => "version must be HTTP/<digit>.<digit>",
            UnsupportedVersion => "only HTTP/1.0 and HTTP/1.1 are supported",
            BareLf => "lines must end with CRLF, not a bare LF (e.g. use `nc -C`)",
            BareCr => "a CR must be followed by LF",
            TooManyEmptyLines => "too many empty lines before the request line",
            BadFieldName => "field name must be a token followed directly by ':'",
            MissingColon => "field line has no ':'",
            BadFieldValue => "field value contains a control character",
            ObsFold => "field line starts with whitespace (obs-fold is not accepted)",
            MissingHost => "HTTP/1.1 request needs a Host field",
            DuplicateHost => "more than one Host field",
            BadHost => "Host is not a valid host[:port]",
            BadContentLength => "Content-Length must be digits, and repeated values must agree",
            LengthAndChunked => "Content-Length and Transfer-Encoding together are not allowed",
            ChunkedNotLast => "Transfer-Encoding must end with chunked, applied once",
            UnsupportedTransferCoding => "only the chunked transfer coding is supported",
            TransferEncodingInHttp10 => "Transfer-Encoding is not allowed in HTTP/1.0",
            BadChunkSize => "chunk size must be hex digits that fit in 64 bits",
            BadChunkExtension => "malformed chunk extension",
            BadChunkEnd => "chunk data must be followed by CRLF",
            BadTrailer => "malformed trailer field",
            ChunkExtensionTooLong => "chunk extensions are longer than allowed",
            TrailersTooLarge => "trailer section is larger than allowed",
            HeadTooLarge => "request head is larger than allowed (--max-header-bytes)",
            TooManyFields => "request has more header fields than allowed",
            TargetTooLong => "request-target is longer than allowed",
            BodyTooLarge => "body is larger than allowed (--max-body-bytes)",
            BodyTooLargeToBuffer => {
                "body is larger than this route reads into memory (--max-buffered-body-bytes)"
            }
            IncompleteBody => "body ended before its declared length",
            IncompleteHead => "connection closed before the request head ended",
            HeaderTimeout => "request head not received in time (--header-timeout)",
            BodyTimeout => "body stalled (--body-timeout)",
            UnsupportedExpectation => "only `Expect: 100-continue` is supported",
            MethodNotImplemented => "method not implemented by this server",
            ConnectNotSupported => "CONNECT is not supported",
        }
    }
}

impl fmt::Display for ProtoError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({})", self.reason(), self.status())
    }
}

impl std::error::Error for ProtoError {}
