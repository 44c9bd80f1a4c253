//! The web page, compiled into the binary from `static/` so the appliance is one file.
//!
//! Every file is served with a strict Content-Security-Policy: scripts, styles, images and API
//! calls only from the appliance itself, no inline script, no framing. So even a ledger name
//! crafted in Tally to look like markup cannot run in a bookkeeper's browser.

use std::borrow::Cow;
use std::io::Cursor;
use std::path::PathBuf;

use rocket::http::{ContentType, Header};
use rocket::request::Request;
use rocket::response::{self, Responder, Response};
use rocket::{get, routes, Route};

#[derive(rust_embed::RustEmbed)]
#[folder = "static/"]
struct Assets;

pub const CONTENT_SECURITY_POLICY: &str =
    "default-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'; object-src 'none'";

/// One embedded file with the page's security headers.
pub struct Asset {
    content_type: ContentType,
    data: Cow<'static, [u8]>,
}

impl<'r> Responder<'r, 'static> for Asset {
    fn respond_to(self, _: &'r Request<'_>) -> response::Result<'static> {
        Response::build()
            .header(self.content_type)
            .header(Header::new(
                "Content-Security-Policy",
                CONTENT_SECURITY_POLICY,
            ))
            .header(Header::new("X-Content-Type-Options", "nosniff"))
            .header(Header::new("Referrer-Policy", "no-referrer"))
            // The page changes with the appliance's version; never run yesterday's script.
            .header(Header::new("Cache-Control", "no-cache"))
            .sized_body(self.data.len(), Cursor::new(self.data))
            .ok()
    }
}

fn asset(path: &str) -> Option<Asset> {
    let file = Assets::get(path)?;
    let ext = path.rsplit('.').next().unwrap_or("");
    let content_type = ContentType::from_extension(ext).unwrap_or(ContentType::Binary);
    Some(Asset {
        content_type,
        data: file.data,
    })
}

#[get("/")]
fn index() -> Option<Asset> {
    asset("index.html")
}

#[get("/<path..>", rank = 20)]
fn file(path: PathBuf) -> Option<Asset> {
    asset(path.to_str()?)
}

pub fn routes() -> Vec<Route> {
    routes![index, file]
}
