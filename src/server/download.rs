//! `GET /download/connector`: the connector ZIP the guide describes (AICFOConnector.exe,
//! config.json, run-connector.bat, README.txt), with config.json pointing at this appliance:
//! `AICFO_PUBLIC_URL` when set, else the address the browser used. The ZIP holds no secret.

use std::io::{Cursor, Read, Write};
use std::path::Path;

use rocket::http::{ContentType, Header, Status};
use rocket::request::{FromRequest, Outcome, Request};
use rocket::response::{self, Responder, Response};
use rocket::{get, routes, Route, State};

use super::error::{ApiError, ApiResult};
use super::state::AppState;

pub const CONFIG_ENTRY: &str = "config.json";

/// The API base written into config.json: `public_url` (with `/api` added when it has no
/// path), else `http://<host>/api`.
pub fn api_url_for(public_url: Option<&str>, host: Option<&str>) -> Option<String> {
    if let Some(url) = public_url.map(str::trim).filter(|u| !u.is_empty()) {
        let url = url.trim_end_matches('/');
        return Some(if url.ends_with("/api") {
            url.to_string()
        } else {
            format!("{url}/api")
        });
    }
    host.map(str::trim)
        .filter(|h| !h.is_empty())
        .map(|h| format!("http://{h}/api"))
}

/// The package with its config.json's `api_url` set; every other entry is copied as it is.
pub fn repackage(package: &[u8], api_url: &str) -> Result<Vec<u8>, String> {
    let mut archive = zip::ZipArchive::new(Cursor::new(package))
        .map_err(|e| format!("the package is not a ZIP: {e}"))?;
    let mut out = zip::ZipWriter::new(Cursor::new(Vec::with_capacity(package.len() + 1024)));
    let mut saw_config = false;
    for i in 0..archive.len() {
        let entry = archive.by_index(i).map_err(|e| format!("entry {i}: {e}"))?;
        let is_config = entry.name().map_err(|e| format!("entry {i}: {e}"))? == CONFIG_ENTRY;
        if !is_config {
            out.raw_copy_file(entry).map_err(|e| e.to_string())?;
            continue;
        }
        saw_config = true;
        let mut text = String::new();
        let mut entry = entry;
        entry
            .read_to_string(&mut text)
            .map_err(|e| format!("{CONFIG_ENTRY}: {e}"))?;
        let mut config: serde_json::Value = serde_json::from_str(&text)
            .map_err(|e| format!("{CONFIG_ENTRY} in the package: {e}"))?;
        config["api_url"] = serde_json::Value::String(api_url.to_string());
        let options = zip::write::SimpleFileOptions::default()
            .compression_method(zip::CompressionMethod::Deflated);
        out.start_file(CONFIG_ENTRY, options)
            .map_err(|e| e.to_string())?;
        let pretty = serde_json::to_string_pretty(&config).map_err(|e| e.to_string())?;
        out.write_all(pretty.as_bytes())
            .map_err(|e| e.to_string())?;
    }
    if !saw_config {
        return Err(format!("the package has no {CONFIG_ENTRY}"));
    }
    Ok(out.finish().map_err(|e| e.to_string())?.into_inner())
}

pub struct RequestHost(Option<String>);

#[rocket::async_trait]
impl<'r> FromRequest<'r> for RequestHost {
    type Error = ();
    async fn from_request(req: &'r Request<'_>) -> Outcome<Self, ()> {
        Outcome::Success(RequestHost(
            req.headers().get_one("Host").map(str::to_string),
        ))
    }
}

pub struct ZipFile(Vec<u8>);

impl<'r> Responder<'r, 'static> for ZipFile {
    fn respond_to(self, _: &'r Request<'_>) -> response::Result<'static> {
        Response::build()
            .header(ContentType::ZIP)
            .header(Header::new(
                "Content-Disposition",
                "attachment; filename=\"AICFOConnector.zip\"",
            ))
            .sized_body(self.0.len(), Cursor::new(self.0))
            .ok()
    }
}

fn read_package(path: &Path) -> ApiResult<Vec<u8>> {
    std::fs::read(path).map_err(|e| {
        if e.kind() == std::io::ErrorKind::NotFound {
            ApiError::not_found(
                "connector_package_missing",
                format!(
                    "The connector package is not on this appliance ({} is missing); build it with packaging/build-windows.sh or set connector_package.",
                    path.display()
                ),
            )
        } else {
            ApiError::internal("reading the connector package", e)
        }
    })
}

#[get("/download/connector")]
async fn connector(state: &State<AppState>, host: RequestHost) -> ApiResult<ZipFile> {
    let path = state.cfg.connector_package.clone();
    let api_url =
        api_url_for(state.cfg.public_url.as_deref(), host.0.as_deref()).ok_or_else(|| {
            ApiError::new(
                Status::BadRequest,
                "no_public_url",
                "Set AICFO_PUBLIC_URL: the request names no host to write into config.json.",
            )
        })?;
    let zip = tokio::task::spawn_blocking(move || {
        let package = read_package(&path)?;
        repackage(&package, &api_url).map_err(|e| ApiError::internal("connector package", e))
    })
    .await
    .map_err(|e| ApiError::internal("connector package task", e))??;
    Ok(ZipFile(zip))
}

pub fn routes() -> Vec<Route> {
    routes![connector]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_api_url_comes_from_the_public_url_or_the_host() {
        assert_eq!(
            api_url_for(Some("http://aicfo:8000"), Some("x")).as_deref(),
            Some("http://aicfo:8000/api")
        );
        assert_eq!(
            api_url_for(Some("https://cfo.firm.in/api/"), None).as_deref(),
            Some("https://cfo.firm.in/api")
        );
        assert_eq!(
            api_url_for(None, Some("192.168.1.20:8000")).as_deref(),
            Some("http://192.168.1.20:8000/api")
        );
        assert_eq!(api_url_for(Some(" "), None), None);
    }
}
