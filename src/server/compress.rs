//! Gzip for the page and its JSON: the overview of a large firm is mostly repeated keys and
//! names, and an office Wi-Fi or a phone on mobile data feels every kilobyte of it.
//!
//! Compressed only when the browser says it takes gzip, the answer is text (the page's files,
//! JSON, CSV) and over `MIN_BYTES`. Never the connector's ZIPs and release archives (already
//! compressed; their SHA-256 is of the bytes as sent) nor the connector's sync calls, whose
//! answers are small and whose client should not spend a Tally PC's time on them.

use std::io::{Cursor, Write};

use flate2::write::GzEncoder;
use flate2::Compression;
use rocket::fairing::{Fairing, Info, Kind};
use rocket::http::{ContentType, Header, Status};
use rocket::{Request, Response};

/// Below this, gzip's header and the time spent save nothing worth having.
pub const MIN_BYTES: usize = 1024;

pub struct Gzip;

/// Text the page and scripts read; everything else (ZIPs, release archives, binaries) is left as is.
fn compressible(ct: &ContentType) -> bool {
    let (top, sub) = (ct.top().as_str(), ct.sub().as_str());
    top.eq_ignore_ascii_case("text")
        || ct.is_json()
        || ct.is_javascript()
        || sub.eq_ignore_ascii_case("svg+xml")
}

/// `Accept-Encoding` names gzip without refusing it (`gzip;q=0`).
fn accepts_gzip(req: &Request<'_>) -> bool {
    req.headers()
        .get("Accept-Encoding")
        .flat_map(|v| v.split(','))
        .any(|item| {
            let mut parts = item.split(';').map(str::trim);
            let coding = parts.next().unwrap_or("");
            let refused = parts.any(|p| {
                p.strip_prefix("q=")
                    .and_then(|q| q.parse::<f32>().ok())
                    .is_some_and(|q| q <= 0.0)
            });
            (coding.eq_ignore_ascii_case("gzip") || coding == "*") && !refused
        })
}

/// The connector's sync calls: answered plainly whatever the client asks.
fn connector_sync(req: &Request<'_>) -> bool {
    req.uri().path().as_str().starts_with("/api/connector/sync")
}

fn gzip(bytes: &[u8]) -> std::io::Result<Vec<u8>> {
    let mut out = GzEncoder::new(Vec::with_capacity(bytes.len() / 4), Compression::default());
    out.write_all(bytes)?;
    out.finish()
}

#[rocket::async_trait]
impl Fairing for Gzip {
    fn info(&self) -> Info {
        Info {
            name: "gzip for the page and its JSON",
            kind: Kind::Response,
        }
    }

    async fn on_response<'r>(&self, req: &'r Request<'_>, res: &mut Response<'r>) {
        let text = res.content_type().is_some_and(|ct| compressible(&ct));
        if !text || connector_sync(req) || res.headers().contains("Content-Encoding") {
            return;
        }
        // The answer depends on Accept-Encoding: a cache must not hand gzip to a client without it.
        res.set_header(Header::new("Vary", "Accept-Encoding"));
        if !accepts_gzip(req) || res.status() != Status::Ok {
            return;
        }
        // Only a body of known size is read whole; a streamed one stays streamed.
        match res.body().preset_size() {
            Some(n) if n >= MIN_BYTES => {}
            _ => return,
        }
        let plain = match res.body_mut().to_bytes().await {
            Ok(bytes) => bytes,
            Err(e) => {
                log::warn!("gzip: the answer's body could not be read: {e}");
                return;
            }
        };
        match gzip(&plain) {
            Ok(packed) => {
                res.set_header(Header::new("Content-Encoding", "gzip"));
                res.set_sized_body(packed.len(), Cursor::new(packed));
            }
            Err(e) => {
                log::warn!("gzip failed, answering plainly: {e}");
                res.set_sized_body(plain.len(), Cursor::new(plain));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Read;

    #[test]
    fn text_and_json_are_compressible_and_archives_are_not() {
        assert!(compressible(&ContentType::JSON));
        assert!(compressible(&ContentType::JavaScript));
        assert!(compressible(&ContentType::CSS));
        assert!(compressible(&ContentType::HTML));
        assert!(compressible(&ContentType::new("text", "csv")));
        assert!(!compressible(&ContentType::ZIP));
        assert!(!compressible(&ContentType::Binary));
        assert!(!compressible(&ContentType::GZIP));
    }

    #[test]
    fn gzip_round_trips() {
        let text = "{\"companies\":[]}".repeat(200);
        let packed = gzip(text.as_bytes()).unwrap();
        assert!(packed.len() < text.len() / 10);
        let mut back = String::new();
        flate2::read::GzDecoder::new(&packed[..])
            .read_to_string(&mut back)
            .unwrap();
        assert_eq!(back, text);
    }
}
