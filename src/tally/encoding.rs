//! Tally answers UTF-8 or UTF-16LE (with or without a byte-order mark). Everything is turned
//! into a UTF-8 stream before parsing, a buffer at a time, never the whole answer at once.

use std::io::{BufRead, BufReader, Read};

use encoding_rs::{Encoding, UTF_16LE, UTF_8};
use encoding_rs_io::DecodeReaderBytesBuilder;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TextEncoding {
    Utf8,
    Utf16Le,
}

impl TextEncoding {
    /// From the first bytes of a body (BOM, or the zero high byte of UTF-16LE `<`), falling
    /// back on the `charset` of a Content-Type header, then UTF-8.
    pub fn sniff(prefix: &[u8], content_type: Option<&str>) -> TextEncoding {
        match prefix {
            [0xFF, 0xFE, ..] => return TextEncoding::Utf16Le,
            [0xEF, 0xBB, 0xBF, ..] => return TextEncoding::Utf8,
            [b, 0, ..] if *b != 0 => return TextEncoding::Utf16Le,
            _ => {}
        }
        let charset = content_type.and_then(|ct| {
            ct.to_ascii_lowercase()
                .split("charset=")
                .nth(1)
                .map(|c| c.trim_matches(['"', ' ', ';']).to_string())
        });
        match charset.as_deref() {
            Some(c) if c.starts_with("utf-16") || c == "unicode" => TextEncoding::Utf16Le,
            _ => TextEncoding::Utf8,
        }
    }

    fn encoding(self) -> &'static Encoding {
        match self {
            TextEncoding::Utf8 => UTF_8,
            TextEncoding::Utf16Le => UTF_16LE,
        }
    }

    /// The bytes of `text` in this encoding, with a BOM for UTF-16LE as Tally writes it.
    pub fn encode(self, text: &str) -> Vec<u8> {
        match self {
            TextEncoding::Utf8 => text.as_bytes().to_vec(),
            TextEncoding::Utf16Le => {
                let mut out = Vec::with_capacity(2 + text.len() * 2);
                out.extend_from_slice(&[0xFF, 0xFE]);
                for unit in text.encode_utf16() {
                    out.extend_from_slice(&unit.to_le_bytes());
                }
                out
            }
        }
    }

    pub fn content_type(self) -> &'static str {
        match self {
            TextEncoding::Utf8 => "text/xml; charset=utf-8",
            TextEncoding::Utf16Le => "text/xml; charset=utf-16",
        }
    }
}

/// A body as UTF-8 text: UTF-8 as it is (less a BOM), UTF-16LE transcoded a buffer at a time.
pub enum Utf8Reader<R: Read> {
    Utf8(BufReader<R>),
    Transcoded(BufReader<encoding_rs_io::DecodeReaderBytes<BufReader<R>, Vec<u8>>>),
}

impl<R: Read> Read for Utf8Reader<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        match self {
            Utf8Reader::Utf8(r) => r.read(buf),
            Utf8Reader::Transcoded(r) => r.read(buf),
        }
    }
}

impl<R: Read> BufRead for Utf8Reader<R> {
    fn fill_buf(&mut self) -> std::io::Result<&[u8]> {
        match self {
            Utf8Reader::Utf8(r) => r.fill_buf(),
            Utf8Reader::Transcoded(r) => r.fill_buf(),
        }
    }

    fn consume(&mut self, n: usize) {
        match self {
            Utf8Reader::Utf8(r) => r.consume(n),
            Utf8Reader::Transcoded(r) => r.consume(n),
        }
    }
}

/// Wraps a raw body as UTF-8 text. The encoding is sniffed from the first bytes unless given.
/// UTF-8 passes through untouched (the XML reader checks it); UTF-16 is transcoded, with
/// malformed sequences becoming U+FFFD rather than failing the read.
pub fn utf8_reader<R: Read>(raw: R, content_type: Option<&str>) -> std::io::Result<Utf8Reader<R>> {
    let mut raw = BufReader::with_capacity(64 * 1024, raw);
    let prefix = raw.fill_buf()?;
    let encoding = TextEncoding::sniff(&prefix[..prefix.len().min(4)], content_type);
    if encoding == TextEncoding::Utf8 {
        if prefix.starts_with(&[0xEF, 0xBB, 0xBF]) {
            raw.consume(3);
        }
        return Ok(Utf8Reader::Utf8(raw));
    }
    let decoder = DecodeReaderBytesBuilder::new()
        .encoding(Some(encoding.encoding()))
        .bom_override(true)
        .build(raw);
    Ok(Utf8Reader::Transcoded(BufReader::with_capacity(
        64 * 1024,
        decoder,
    )))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Read;

    fn decode(bytes: &[u8]) -> String {
        let mut s = String::new();
        utf8_reader(bytes, None)
            .unwrap()
            .read_to_string(&mut s)
            .unwrap();
        s
    }

    #[test]
    fn reads_every_encoding_tally_writes() {
        let text = "<A>₹ नमस्ते</A>";
        assert_eq!(decode(text.as_bytes()), text);
        assert_eq!(
            decode(&[&[0xEF, 0xBB, 0xBF][..], text.as_bytes()].concat()),
            text
        );
        let utf16 = TextEncoding::Utf16Le.encode(text);
        assert_eq!(decode(&utf16), text);
        assert_eq!(decode(&utf16[2..]), text, "UTF-16LE without BOM");
    }
}
