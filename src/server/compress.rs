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
use rocket::response::Responder;
use rocket::{Request, Response};

use super::error::ApiError;
use super::vary::vary_on;

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

/// Up to this size a body is deflated on the async worker (under a millisecond); a larger one
/// on the blocking pool. A 5.8 MB trial balance takes ~260 ms at the default level, in which
/// time the worker would answer nobody else.
pub const INLINE_MAX: usize = 16 * 1024;
/// From this size the fastest level: a large trial balance still shrinks five times over (the
/// default level: 7.5) in a fifth of the time, and the appliance has two cores for everyone.
pub const FAST_FROM: usize = 1024 * 1024;

/// How hard to squeeze a body of `len` bytes.
fn level_for(len: usize) -> Compression {
    if len >= FAST_FROM {
        Compression::fast()
    } else {
        Compression::default()
    }
}

pub fn gzip(bytes: &[u8], level: Compression) -> std::io::Result<Vec<u8>> {
    let mut out = GzEncoder::new(Vec::with_capacity(bytes.len() / 4), level);
    out.write_all(bytes)?;
    out.finish()
}

/// The body gzipped, and the plain body back for answering plainly if that failed. A large body
/// is deflated on the blocking pool: hundreds of milliseconds on an async worker would stall
/// every other request waiting on it.
async fn gzip_off_worker(plain: Vec<u8>) -> Result<(Vec<u8>, std::io::Result<Vec<u8>>), String> {
    deflate_off_worker(plain, gzip).await
}

type Deflate = fn(&[u8], Compression) -> std::io::Result<Vec<u8>>;

/// [`gzip_off_worker`] with the deflating function given, so a test can make it fail.
async fn deflate_off_worker(
    plain: Vec<u8>,
    deflate: Deflate,
) -> Result<(Vec<u8>, std::io::Result<Vec<u8>>), String> {
    let level = level_for(plain.len());
    if plain.len() <= INLINE_MAX {
        let packed = deflate(&plain, level);
        return Ok((plain, packed));
    }
    rocket::tokio::task::spawn_blocking(move || {
        let packed = deflate(&plain, level);
        (plain, packed)
    })
    .await
    .map_err(|e| e.to_string())
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
        vary_on(res, "Accept-Encoding");
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
        match gzip_off_worker(plain).await {
            Ok((_, Ok(packed))) => {
                res.set_header(Header::new("Content-Encoding", "gzip"));
                res.set_sized_body(packed.len(), Cursor::new(packed));
            }
            Ok((plain, Err(e))) => {
                log::warn!("gzip failed, answering plainly: {e}");
                res.set_sized_body(plain.len(), Cursor::new(plain));
            }
            Err(e) => answer_lost_body(req, res, &e),
        }
    }
}

/// The deflating thread panicked and took the body with it: the answer becomes the contract's
/// JSON error (logged with the cause), as every other failure is.
fn answer_lost_body<'r>(req: &'r Request<'_>, res: &mut Response<'r>, cause: &str) {
    let error = ApiError::internal("gzip: the deflating thread failed", cause);
    match error.respond_to(req) {
        Ok(answer) => res.merge(answer),
        Err(status) => {
            res.set_status(status);
            res.set_sized_body(0, Cursor::new(Vec::new()));
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
        let packed = gzip(text.as_bytes(), Compression::default()).unwrap();
        assert!(packed.len() < text.len() / 10);
        let mut back = String::new();
        flate2::read::GzDecoder::new(&packed[..])
            .read_to_string(&mut back)
            .unwrap();
        assert_eq!(back, text);
    }

    #[test]
    fn a_large_body_is_squeezed_fast_and_a_small_one_hard() {
        assert_eq!(level_for(FAST_FROM - 1), Compression::default());
        assert_eq!(level_for(FAST_FROM), Compression::fast());
    }

    #[tokio::test]
    async fn a_body_deflated_off_the_worker_comes_back_whole() {
        for len in [INLINE_MAX, INLINE_MAX + 1, FAST_FROM + 1] {
            let text: Vec<u8> = "{\"ledger\":\"Sundry Debtors\"},"
                .bytes()
                .cycle()
                .take(len)
                .collect();
            let (plain, packed) = gzip_off_worker(text.clone()).await.unwrap();
            assert_eq!(plain, text);
            let mut back = Vec::new();
            flate2::read::GzDecoder::new(&packed.unwrap()[..])
                .read_to_end(&mut back)
                .unwrap();
            assert_eq!(back, text, "{len} bytes");
        }
    }

    fn panics(_: &[u8], _: Compression) -> std::io::Result<Vec<u8>> {
        panic!("deflate blew up")
    }

    /// Review LOW-6: a failed deflating thread used to leave a 500 with an empty body.
    #[tokio::test]
    async fn a_failed_deflating_thread_answers_the_json_error() {
        let lost = deflate_off_worker(vec![b'x'; INLINE_MAX + 1], panics).await;
        let cause = lost.expect_err("the thread panicked");
        let client = rocket::local::asynchronous::Client::untracked(rocket::build())
            .await
            .unwrap();
        let req = client.get("/api/companies/sharma/trial-balance");
        let mut res = Response::build()
            .status(Status::Ok)
            .header(ContentType::JSON)
            .finalize();
        answer_lost_body(&req, &mut res, &cause);
        assert_eq!(res.status(), Status::InternalServerError);
        assert_eq!(res.content_type(), Some(ContentType::JSON));
        let body: serde_json::Value =
            serde_json::from_str(&res.body_mut().to_string().await.unwrap()).unwrap();
        assert_eq!(body["error"], "internal_error", "{body}");
        assert!(
            body["message"].as_str().unwrap().contains("server log"),
            "{body}"
        );
    }
}
