//! The chunked transfer coding decoder (RFC 9112 §7.1), an explicit state
//! machine fed any split of the bytes. It hands out where chunk data lies in
//! its input, so the caller can take the data without copying.
//!
//! ```text
//! chunked-body   = *chunk last-chunk trailer-section CRLF
//! chunk          = chunk-size [ chunk-ext ] CRLF chunk-data CRLF
//! chunk-size     = 1*HEXDIG
//! last-chunk     = 1*("0") [ chunk-ext ] CRLF
//! chunk-ext      = *( BWS ";" BWS chunk-ext-name [ BWS "=" BWS chunk-ext-val ] )
//! chunk-ext-val  = token / quoted-string
//! trailer-section = *( field-line CRLF )
//! ```

use super::token::{FIELD_VALUE, QDTEXT, TCHAR};
use crate::error::ProtoError;

/// Limits on the parts of a chunked body that are not data.
#[derive(Debug, Clone, Copy)]
pub struct ChunkedLimits {
    /// Bytes of chunk extensions allowed on one chunk-size line.
    pub max_extension_bytes: usize,
    /// Bytes allowed in the whole trailer section.
    pub max_trailer_bytes: usize,
}

impl Default for ChunkedLimits {
    fn default() -> Self {
        ChunkedLimits {
            max_extension_bytes: 1024,
            max_trailer_bytes: 8 * 1024,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// Reading hex digits; `digits` counts them.
    Size,
    /// Whitespace after the size: only `;` may follow.
    SizeBws,
    /// Whitespace before an extension name.
    ExtNameBws,
    ExtName,
    /// Whitespace after a name: `=`, `;` or the line end may follow.
    ExtNameEnd,
    /// Whitespace before a value.
    ExtValueBws,
    ExtToken,
    ExtQuoted,
    ExtQuotedPair,
    /// Whitespace after a value.
    ExtValueEnd,
    /// The LF of the chunk-size line.
    SizeLf,
    Data,
    DataCr,
    DataLf,
    /// Start of a trailer line, or the final CRLF.
    TrailerStart,
    TrailerName,
    TrailerValue,
    TrailerLf,
    EndLf,
    Done,
}

/// What one call to [`ChunkedDecoder::decode`] found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Chunk {
    /// Chunk data at `input[start..end]`; everything up to `end` is consumed.
    Data {
        /// Offset of the first data byte in the input.
        start: usize,
        /// Offset one past the last data byte, and the bytes consumed.
        end: usize,
    },
    /// All input was consumed and more is needed.
    NeedMore,
    /// The body ended after this many bytes of the input.
    Done(usize),
}

/// Incremental decoder for one chunked body.
#[derive(Debug, Clone)]
pub struct ChunkedDecoder {
    state: State,
    size: u64,
    digits: u32,
    ext_bytes: usize,
    trailer_bytes: usize,
    limits: ChunkedLimits,
}

impl ChunkedDecoder {
    /// A decoder at the start of a body.
    pub fn new(limits: ChunkedLimits) -> Self {
        ChunkedDecoder {
            state: State::Size,
            size: 0,
            digits: 0,
            ext_bytes: 0,
            trailer_bytes: 0,
            limits,
        }
    }

    /// True once the last chunk and trailer section have been read.
    pub fn is_done(&self) -> bool {
        self.state == State::Done
    }

    /// Data bytes of the current chunk announced by its size line and not
    /// yet decoded.
    pub fn announced(&self) -> u64 {
        if self.state == State::Data {
            self.size
        } else {
            0
        }
    }

    /// Feeds `input`. Returns the first chunk data found, `NeedMore` when
    /// every byte was consumed without finding data, or `Done` at the end.
    pub fn decode(&mut self, input: &[u8]) -> Result<Chunk, ProtoError> {
        let mut pos = 0;
        while pos < input.len() {
            if self.state == State::Data {
                let take = self.size.min((input.len() - pos) as u64) as usize;
                self.size -= take as u64;
                if self.size == 0 {
                    self.state = State::DataCr;
                }
                return Ok(Chunk::Data {
                    start: pos,
                    end: pos + take,
                });
            }
            if self.state == State::Done {
                return Ok(Chunk::Done(pos));
            }
            self.state = self.step(input[pos])?;
            pos += 1;
        }
        Ok(if self.state == State::Done {
            Chunk::Done(pos)
        } else {
            Chunk::NeedMore
        })
    }

    /// One byte of everything that is not chunk data.
    fn step(&mut self, b: u8) -> Result<State, ProtoError> {
        use State::*;
        match self.state {
            Size => self.size_digit(b),
            SizeBws => match b {
                b' ' | b'\t' => Ok(SizeBws),
                b';' => self.ext(ExtNameBws),
                _ => Err(ProtoError::BadChunkSize),
            },
            ExtNameBws => match b {
                b' ' | b'\t' => self.ext(ExtNameBws),
                b if TCHAR[b as usize] => self.ext(ExtName),
                _ => Err(ProtoError::BadChunkExtension),
            },
            ExtName => match b {
                b if TCHAR[b as usize] => self.ext(ExtName),
                _ => self.after_ext_part(b, true),
            },
            ExtNameEnd => self.after_ext_part(b, true),
            ExtValueBws => match b {
                b' ' | b'\t' => self.ext(ExtValueBws),
                b'"' => self.ext(ExtQuoted),
                b if TCHAR[b as usize] => self.ext(ExtToken),
                _ => Err(ProtoError::BadChunkExtension),
            },
            ExtToken => match b {
                b if TCHAR[b as usize] => self.ext(ExtToken),
                _ => self.after_ext_part(b, false),
            },
            ExtQuoted => match b {
                b'"' => self.ext(ExtValueEnd),
                b'\\' => self.ext(ExtQuotedPair),
                b if QDTEXT[b as usize] => self.ext(ExtQuoted),
                _ => Err(ProtoError::BadChunkExtension),
            },
            ExtQuotedPair => match b {
                b'\t' | b' ' | 0x21..=0x7e | 0x80..=0xff => self.ext(ExtQuoted),
                _ => Err(ProtoError::BadChunkExtension),
            },
            ExtValueEnd => self.after_ext_part(b, false),
            SizeLf => self.size_line_end(b),
            DataCr => expect(b, b'\r', DataLf, ProtoError::BadChunkEnd),
            DataLf => expect(b, b'\n', Size, ProtoError::BadChunkEnd).inspect(|_| {
                self.digits = 0;
                self.ext_bytes = 0;
            }),
            // The blank line counts only when it ends trailer fields.
            TrailerStart => match b {
                b'\r' if self.trailer_bytes > 0 => self.trailer(EndLf),
                b'\r' => Ok(EndLf),
                b if TCHAR[b as usize] => self.trailer(TrailerName),
                _ => Err(ProtoError::BadTrailer),
            },
            TrailerName => match b {
                b':' => self.trailer(TrailerValue),
                b if TCHAR[b as usize] => self.trailer(TrailerName),
                _ => Err(ProtoError::BadTrailer),
            },
            TrailerValue => match b {
                b'\r' => self.trailer(TrailerLf),
                b if FIELD_VALUE[b as usize] => self.trailer(TrailerValue),
                _ => Err(ProtoError::BadTrailer),
            },
            // Every byte of the trailer section counts, line ends too.
            TrailerLf => expect(b, b'\n', TrailerStart, ProtoError::BadTrailer)
                .and_then(|next| self.trailer(next)),
            EndLf => expect(b, b'\n', Done, ProtoError::BadTrailer).and_then(|next| {
                if self.trailer_bytes > 0 {
                    self.trailer(next)
                } else {
                    Ok(next)
                }
            }),
            Data | Done => unreachable!("handled by decode"),
        }
    }

    fn size_digit(&mut self, b: u8) -> Result<State, ProtoError> {
        if let Some(v) = super::token::hex_value(b) {
            if self.size > (u64::MAX >> 4) {
                return Err(ProtoError::BadChunkSize);
            }
            self.size = self.size << 4 | u64::from(v);
            self.digits += 1;
            return Ok(State::Size);
        }
        if self.digits == 0 {
            return Err(ProtoError::BadChunkSize);
        }
        match b {
            b'\r' => Ok(State::SizeLf),
            b';' => self.ext(State::ExtNameBws),
            b' ' | b'\t' => Ok(State::SizeBws),
            _ => Err(ProtoError::BadChunkSize),
        }
    }

    /// After an extension name or value: whitespace, `=` (after a name
    /// only), `;` for the next extension, or CR ending the line.
    fn after_ext_part(&mut self, b: u8, after_name: bool) -> Result<State, ProtoError> {
        let idle = if after_name {
            State::ExtNameEnd
        } else {
            State::ExtValueEnd
        };
        match b {
            b' ' | b'\t' => self.ext(idle),
            b'=' if after_name => self.ext(State::ExtValueBws),
            b';' => self.ext(State::ExtNameBws),
            b'\r' => Ok(State::SizeLf),
            _ => Err(ProtoError::BadChunkExtension),
        }
    }

    fn size_line_end(&mut self, b: u8) -> Result<State, ProtoError> {
        if b != b'\n' {
            return Err(ProtoError::BadChunkSize);
        }
        Ok(if self.size == 0 {
            State::TrailerStart
        } else {
            State::Data
        })
    }

    /// Counts a byte of chunk extension against its limit.
    fn ext(&mut self, next: State) -> Result<State, ProtoError> {
        self.ext_bytes += 1;
        if self.ext_bytes > self.limits.max_extension_bytes {
            return Err(ProtoError::ChunkExtensionTooLong);
        }
        Ok(next)
    }

    /// Counts a byte of the trailer section against its limit.
    fn trailer(&mut self, next: State) -> Result<State, ProtoError> {
        self.trailer_bytes += 1;
        if self.trailer_bytes > self.limits.max_trailer_bytes {
            return Err(ProtoError::TrailersTooLarge);
        }
        Ok(next)
    }
}

fn expect(b: u8, want: u8, next: State, err: ProtoError) -> Result<State, ProtoError> {
    if b == want { Ok(next) } else { Err(err) }
}

/// Decodes a whole body in one go: the data, and the bytes consumed
/// (`None` when the body did not end within `input`).
pub fn decode_all(
    input: &[u8],
    limits: ChunkedLimits,
) -> Result<(Vec<u8>, Option<usize>), ProtoError> {
    decode_in_pieces(input, &[], limits)
}

/// Decodes `input` fed as successive reads ending at each of `cuts` (in
/// order) and then at its end, as a connection sees them. The reference
/// way for tests and fuzz targets to drive a decoder; it panics if the
/// decoder breaks its own contract (data or a consumed count outside the
/// piece it was given).
pub fn decode_in_pieces(
    input: &[u8],
    cuts: &[usize],
    limits: ChunkedLimits,
) -> Result<(Vec<u8>, Option<usize>), ProtoError> {
    let mut decoder = ChunkedDecoder::new(limits);
    let mut data = Vec::new();
    let mut pos = 0;
    for &end in cuts.iter().chain(std::iter::once(&input.len())) {
        let end = end.clamp(pos, input.len());
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
                    assert!(
                        pos + n <= end && decoder.is_done(),
                        "consumed past its piece"
                    );
                    return Ok((data, Some(pos + n)));
                }
            }
        }
    }
    Ok((data, None))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_whole_and_at_every_split() {
        let body = b"5;name=val;q=\"a\\\"b\"\r\nhello\r\n1\r\n \r\nA\r\n0123456789\r\n000\r\nTrailer: x\r\n\r\nNEXT";
        let whole = decode_all(body, ChunkedLimits::default()).unwrap();
        assert_eq!(whole, (b"hello 0123456789".to_vec(), Some(body.len() - 4)));
        for cut in 0..=body.len() {
            assert_eq!(
                decode_in_pieces(body, &[cut], ChunkedLimits::default()).unwrap(),
                whole,
                "cut at {cut}"
            );
        }
    }

    #[test]
    fn rejects_what_the_grammar_does_not_allow() {
        use ProtoError::*;
        let cases: &[(&[u8], ProtoError)] = &[
            (b"0x5\r\nhello\r\n0\r\n\r\n", BadChunkSize),
            (b"5_0\r\n", BadChunkSize),
            (b"-5\r\n", BadChunkSize),
            (b"\r\n", BadChunkSize),
            (b" 5\r\n", BadChunkSize),
            (b"5 \r\nhello\r\n", BadChunkSize),
            (b"5\nhello\r\n", BadChunkSize),
            (b"10000000000000000\r\n", BadChunkSize),
            (b"5\r\nhelloX\r\n", BadChunkEnd),
            (b"5\r\nhello\n0\r\n\r\n", BadChunkEnd),
            (b"5;\r\nhello\r\n", BadChunkExtension),
            (b"5;a=\r\n", BadChunkExtension),
            (b"5;a=\"x\r\n", BadChunkExtension),
            (b"5;a b\r\n", BadChunkExtension),
            (b"0\r\nbad trailer\r\n\r\n", BadTrailer),
            (b"0\r\n x: y\r\n\r\n", BadTrailer),
            (b"0\r\nx: \x00\r\n\r\n", BadTrailer),
            (b"0\r\n\n", BadTrailer),
        ];
        for (input, want) in cases {
            let got = decode_all(input, ChunkedLimits::default());
            assert_eq!(
                got.map(|_| ()),
                Err(*want),
                "{:?}",
                String::from_utf8_lossy(input)
            );
        }
    }

    #[test]
    fn limits_are_enforced() {
        let limits = ChunkedLimits {
            max_extension_bytes: 8,
            max_trailer_bytes: 8,
        };
        let ext = b"1;aaaaaaaaaa\r\nx\r\n0\r\n\r\n";
        assert_eq!(
            decode_all(ext, limits),
            Err(ProtoError::ChunkExtensionTooLong)
        );
        let trailer = b"0\r\nX-Long: aaaaaaaa\r\n\r\n";
        assert_eq!(
            decode_all(trailer, limits),
            Err(ProtoError::TrailersTooLarge)
        );
        // The section counts whole, its last CRLF included: 8 bytes fit.
        let fits = b"0\r\nX: a\r\n\r\n";
        assert_eq!(
            decode_all(fits, limits).unwrap(),
            (vec![], Some(fits.len()))
        );
        let over = b"0\r\nX: ab\r\n\r\n";
        assert_eq!(decode_all(over, limits), Err(ProtoError::TrailersTooLarge));
        let max = b"ffffffffffffffff\r\n";
        assert_eq!(decode_all(max, limits).unwrap(), (vec![], None));
    }
}
