//! Over-long URIs get the contract's JSON `414`, not hyper's.
//!
//! hyper answers `414` itself, with an empty body, for a request target over 65,534 bytes,
//! before Rocket sees the request (hyper's `proto/h1/role.rs`; Rocket 0.5 offers no setting for
//! it). Below that, this fairing bounds URIs to [`MAX_URI_BYTES`]: an over-long request is sent
//! where no route answers (so no handler runs and nothing changes), and its answer is replaced
//! with the JSON `414`.

use std::io::Cursor;

use rocket::fairing::{Fairing, Info, Kind};
use rocket::http::uri::Origin;
use rocket::http::{ContentType, Method, Status};
use rocket::{Data, Request, Response};

use crate::protocol::ErrorBody;

/// No route of the appliance needs a longer URI (ids are bounded far below).
pub const MAX_URI_BYTES: usize = 8 * 1024;

/// Where an over-long request is sent: no route has this method and path.
const NOWHERE: &str = "/.uri-too-long";

struct TooLong(bool);

pub struct UriLimit;

#[rocket::async_trait]
impl Fairing for UriLimit {
    fn info(&self) -> Info {
        Info {
            name: "URI length limit",
            kind: Kind::Request | Kind::Response,
        }
    }

    async fn on_request(&self, req: &mut Request<'_>, _: &mut Data<'_>) {
        let uri = req.uri();
        let len = uri.path().as_str().len() + uri.query().map_or(0, |q| q.as_str().len() + 1);
        if len > MAX_URI_BYTES {
            req.local_cache(|| TooLong(true));
            req.set_method(Method::Options);
            req.set_uri(Origin::const_new(NOWHERE, None));
        }
    }

    async fn on_response<'r>(&self, req: &'r Request<'_>, res: &mut Response<'r>) {
        if !req.local_cache(|| TooLong(false)).0 {
            return;
        }
        let body = serde_json::to_string(&ErrorBody {
            error: "uri_too_long".into(),
            message: format!(
                "The request's URI is longer than the {MAX_URI_BYTES} bytes this appliance accepts."
            ),
            details: Vec::new(),
        })
        .unwrap_or_default();
        *res = Response::build()
            .status(Status::UriTooLong)
            .header(ContentType::JSON)
            .sized_body(body.len(), Cursor::new(body))
            .finalize();
    }
}
