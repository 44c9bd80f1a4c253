//! The admin status page, compiled into the binary from `static/` so the appliance is one file.

use std::borrow::Cow;
use std::path::PathBuf;

use rocket::http::ContentType;
use rocket::{get, routes, Route};

#[derive(rust_embed::RustEmbed)]
#[folder = "static/"]
struct Assets;

fn asset(path: &str) -> Option<(ContentType, Cow<'static, [u8]>)> {
    let file = Assets::get(path)?;
    let ext = path.rsplit('.').next().unwrap_or("");
    let ct = ContentType::from_extension(ext).unwrap_or(ContentType::Binary);
    Some((ct, file.data))
}

#[get("/")]
fn index() -> Option<(ContentType, Cow<'static, [u8]>)> {
    asset("index.html")
}

#[get("/<path..>", rank = 20)]
fn file(path: PathBuf) -> Option<(ContentType, Cow<'static, [u8]>)> {
    asset(path.to_str()?)
}

pub fn routes() -> Vec<Route> {
    routes![index, file]
}
