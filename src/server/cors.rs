//! CORS for the one browser origin the guide's `CORS_ORIGIN` names; every other origin gets no
//! CORS headers, so browsers keep it out.

use rocket::fairing::{Fairing, Info, Kind};
use rocket::http::Header;
use rocket::{Request, Response};

use super::vary::vary_on;

pub struct Cors {
    pub origin: String,
}

#[rocket::async_trait]
impl Fairing for Cors {
    fn info(&self) -> Info {
        Info {
            name: "CORS for CORS_ORIGIN",
            kind: Kind::Response,
        }
    }

    async fn on_response<'r>(&self, req: &'r Request<'_>, res: &mut Response<'r>) {
        if req.headers().get_one("Origin") != Some(self.origin.as_str()) {
            return;
        }
        res.set_header(Header::new(
            "Access-Control-Allow-Origin",
            self.origin.clone(),
        ));
        vary_on(res, "Origin");
        res.set_header(Header::new(
            "Access-Control-Allow-Methods",
            "GET, POST, OPTIONS",
        ));
        res.set_header(Header::new(
            "Access-Control-Allow-Headers",
            "Authorization, Content-Type, Content-Encoding, Accept",
        ));
        res.set_header(Header::new(
            "Access-Control-Expose-Headers",
            "Retry-After, Content-Disposition",
        ));
        res.set_header(Header::new("Access-Control-Max-Age", "600"));
    }
}
