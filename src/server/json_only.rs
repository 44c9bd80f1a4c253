//! State-changing API requests carry JSON and nothing else. A web page elsewhere can make a
//! browser post a form or plain text to the appliance without asking, but not JSON; refusing
//! everything else closes that door. Compressed JSON (`Content-Encoding: gzip`) is still JSON.

use rocket::fairing::{Fairing, Info, Kind};
use rocket::http::uri::Origin;
use rocket::http::{Method, Status};
use rocket::request::Request;
use rocket::{routes, Data, Route};

use super::error::ApiError;

/// Where a refused request is sent instead of its handler, so it never reaches one.
fn refused_route() -> Origin<'static> {
    rocket::uri!("/__aicfo/unsupported-media-type")
}

pub struct JsonOnly;

fn changes_state(method: Method) -> bool {
    matches!(
        method,
        Method::Post | Method::Put | Method::Delete | Method::Patch
    )
}

/// No body at all (e.g. a revoke): nothing to misread.
fn has_body(req: &Request<'_>) -> bool {
    let headers = req.headers();
    if headers.contains("Transfer-Encoding") {
        return true;
    }
    headers
        .get_one("Content-Length")
        .is_some_and(|n| n.trim() != "0")
}

fn refused(req: &Request<'_>) -> bool {
    if !changes_state(req.method()) || !req.uri().path().starts_with("/api/") {
        return false;
    }
    match req.content_type() {
        Some(ct) => !ct.is_json(),
        None => has_body(req),
    }
}

#[rocket::async_trait]
impl Fairing for JsonOnly {
    fn info(&self) -> Info {
        Info {
            name: "JSON-only API writes",
            kind: Kind::Request,
        }
    }

    async fn on_request(&self, req: &mut Request<'_>, _: &mut Data<'_>) {
        if refused(req) {
            req.set_method(Method::Post);
            req.set_uri(refused_route());
        }
    }
}

#[rocket::post("/__aicfo/unsupported-media-type")]
fn unsupported() -> ApiError {
    ApiError::new(
        Status::UnsupportedMediaType,
        "unsupported_media_type",
        "Send the body as JSON, with `Content-Type: application/json`.",
    )
}

pub fn routes() -> Vec<Route> {
    routes![unsupported]
}
