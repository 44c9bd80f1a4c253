//! `GET /download/connector[?companyId=X&target=windows|linux]`: the connector ZIP. With a
//! company it is assembled on the fly for that company: the program (the bytes of the signed
//! release archive), `run-connector.bat` (Windows), `README.txt`, and a config.json naming this
//! appliance, the company and a fresh one-time enrolment code. Without one it is the generic ZIP,
//! which holds no secret.
//!
//! A page cannot put an `Authorization` header on a link, so `POST /api/download-links` gives a
//! signed link instead: for five minutes it downloads that one company's ZIP for that one target
//! on behalf of the user who asked, while the user still may.

use std::io::{Cursor, Read, Write};
use std::path::Path;

use rocket::http::{ContentType, Header, Status};
use rocket::outcome::Outcome;
use rocket::request::{self, FromRequest, Request};
use rocket::response::{self, Responder, Response};
use rocket::serde::json::Json;
use rocket::{get, post, routes, Route, State};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::accounts::{self, User};
use super::body::{BodyLimit, JsonBody};
use super::clock::rfc3339;
use super::enrollment;
use super::error::{park, ApiError, ApiResult};
use super::guards::CompanyAccess;
use super::releases::{FileBytes, ReleaseStore, Target};
use super::state::AppState;
use super::tls::TlsStatus;
use crate::protocol::text::{length_fault, ID_MAX_CHARS};

mod link_quota;
mod used_links;

pub use link_quota::{LinkQuota, LINKS_PER_HOUR};
pub use used_links::{Claim, UsedLinks};

pub const CONFIG_ENTRY: &str = "config.json";

const CONFIG_TEMPLATE: &str = include_str!("../../packaging/windows/config.json");
const RUN_BAT: &str = include_str!("../../packaging/windows/run-connector.bat");
const README_WINDOWS: &str = include_str!("../../packaging/windows/README.txt");
const README_LINUX: &str = include_str!("../../packaging/linux/README.txt");

const DAY_MS: i64 = 24 * 60 * 60 * 1000;

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

/// An appliance that serves HTTPS speaks nothing else: its `http://` API base becomes `https://`.
pub fn api_url_over(api_url: String, tls: &TlsStatus) -> String {
    match api_url.strip_prefix("http://") {
        Some(rest) if tls.enabled => format!("https://{rest}"),
        _ => api_url,
    }
}

fn deflated() -> zip::write::SimpleFileOptions {
    zip::write::SimpleFileOptions::default().compression_method(zip::CompressionMethod::Deflated)
}

fn add_file(
    out: &mut zip::ZipWriter<Cursor<Vec<u8>>>,
    name: &str,
    bytes: &[u8],
) -> Result<(), String> {
    out.start_file(name, deflated())
        .map_err(|e| format!("{name}: {e}"))?;
    out.write_all(bytes).map_err(|e| format!("{name}: {e}"))
}

fn config_text(config: &Value) -> Result<String, String> {
    serde_json::to_string_pretty(config).map_err(|e| e.to_string())
}

/// The package with its config.json replaced by `edit` applied to it; every other entry is
/// copied as it is.
pub fn repackage(package: &[u8], edit: &dyn Fn(&mut Value)) -> Result<Vec<u8>, String> {
    let mut archive = zip::ZipArchive::new(Cursor::new(package))
        .map_err(|e| format!("the package is not a ZIP: {e}"))?;
    let mut out = zip::ZipWriter::new(Cursor::new(Vec::with_capacity(package.len() + 1024)));
    let mut saw_config = false;
    for i in 0..archive.len() {
        let mut entry = archive.by_index(i).map_err(|e| format!("entry {i}: {e}"))?;
        if entry.name().map_err(|e| format!("entry {i}: {e}"))? != CONFIG_ENTRY {
            out.raw_copy_file(entry).map_err(|e| e.to_string())?;
            continue;
        }
        saw_config = true;
        let mut text = String::new();
        entry
            .read_to_string(&mut text)
            .map_err(|e| format!("{CONFIG_ENTRY}: {e}"))?;
        let mut config: Value = serde_json::from_str(&text)
            .map_err(|e| format!("{CONFIG_ENTRY} in the package: {e}"))?;
        edit(&mut config);
        add_file(&mut out, CONFIG_ENTRY, config_text(&config)?.as_bytes())?;
    }
    if !saw_config {
        return Err(format!("the package has no {CONFIG_ENTRY}"));
    }
    Ok(out.finish().map_err(|e| e.to_string())?.into_inner())
}

/// The ZIP for one PC from a release archive: its program entry copied byte for byte, then the
/// files a bookkeeper needs and config.json (the template with `edit` applied).
pub fn assemble(
    archive: &[u8],
    target: Target,
    edit: &dyn Fn(&mut Value),
) -> Result<Vec<u8>, String> {
    let mut release = zip::ZipArchive::new(Cursor::new(archive))
        .map_err(|e| format!("the release archive is not a ZIP: {e}"))?;
    let mut out = zip::ZipWriter::new(Cursor::new(Vec::with_capacity(archive.len() + 8192)));
    let program = release
        .by_name(target.program())
        .map_err(|e| format!("the release archive has no {}: {e}", target.program()))?;
    out.raw_copy_file(program).map_err(|e| e.to_string())?;
    let mut config: Value = serde_json::from_str(CONFIG_TEMPLATE).map_err(|e| e.to_string())?;
    edit(&mut config);
    match target {
        Target::Windows => {
            add_file(&mut out, "run-connector.bat", RUN_BAT.as_bytes())?;
            add_file(&mut out, "README.txt", README_WINDOWS.as_bytes())?;
        }
        Target::Linux => add_file(&mut out, "README.txt", README_LINUX.as_bytes())?,
    }
    add_file(&mut out, CONFIG_ENTRY, config_text(&config)?.as_bytes())?;
    Ok(out.finish().map_err(|e| e.to_string())?.into_inner())
}

pub struct RequestHost(Option<String>);

#[rocket::async_trait]
impl<'r> FromRequest<'r> for RequestHost {
    type Error = ();
    async fn from_request(req: &'r Request<'_>) -> request::Outcome<Self, ()> {
        Outcome::Success(RequestHost(
            req.headers().get_one("Host").map(str::to_string),
        ))
    }
}

/// What the download is for: a target, and a company the caller may see (checked as
/// [`CompanyAccess`] does, or by a signed `link`) when `companyId` is given.
pub struct DownloadFor {
    company: Option<CompanyAccess>,
    target: Target,
}

fn target_name(target: Target) -> &'static str {
    match target {
        Target::Windows => "windows",
        Target::Linux => "linux",
    }
}

fn parse_target(text: Option<&str>) -> ApiResult<Target> {
    match text {
        None => Ok(Target::Windows),
        Some(t) => Target::parse(t)
            .ok_or_else(|| ApiError::invalid_field("target", "use `windows` or `linux`")),
    }
}

fn query_text<'r>(req: &'r Request<'_>, name: &str) -> ApiResult<Option<&'r str>> {
    match req.query_value::<&str>(name) {
        None => Ok(None),
        Some(Ok(v)) => Ok(Some(v)),
        Some(Err(_)) => Err(ApiError::invalid_field(name, "is not readable")),
    }
}

/// The company and user a signed link names, after checking the link, that the URL asks for
/// what was signed, and that the user still may see the company.
async fn linked_access(req: &Request<'_>, link: &str, target: Target) -> ApiResult<CompanyAccess> {
    let state = req
        .rocket()
        .state::<AppState>()
        .ok_or_else(|| ApiError::internal("download link", "application state is not managed"))?;
    let claims = state.keys.verify_download(link)?;
    let company = query_text(req, "companyId")?;
    if company != Some(claims.cid.as_str()) || target_name(target) != claims.target {
        return Err(ApiError::forbidden(
            "download_link_mismatch",
            "This download link was made for another company or target; open the appliance's page and download again.",
        ));
    }
    let (id, generation, company_id) = (claims.sub, claims.generation, claims.cid);
    let cid = company_id.clone();
    let user = state
        .db
        .read(move |c| {
            let user = accounts::token_user(c, id, generation)?;
            accounts::ensure_can_see(c, &user, &cid)?;
            Ok(user)
        })
        .await?;
    claim_link(&state.used_links, &claims.jti, claims.exp)?;
    Ok(CompanyAccess { user, company_id })
}

/// Each use of a link mints an enrolment code: a link works once.
fn claim_link(used: &UsedLinks, jti: &str, exp: u64) -> ApiResult<()> {
    match used.claim(jti, exp, crate::server::clock::unix_now()) {
        Claim::First => Ok(()),
        Claim::AlreadyUsed => Err(ApiError::unauthorized(
            "download_link_used",
            "This download link was already used; open the appliance's page and download again.",
        )),
        Claim::Full => Err(ApiError::new(
            Status::ServiceUnavailable,
            "too_many_downloads",
            "Too many connector downloads in the last few minutes; try again in five minutes.",
        )),
    }
}

/// The download without a company (generic), by signed link, or by token: the last is left to
/// [`CompanyAccess`], which parks its own refusal.
enum Asked {
    Ready(DownloadFor),
    ByToken(Target),
}

async fn asked(req: &Request<'_>) -> ApiResult<Asked> {
    let target = parse_target(query_text(req, "target")?)?;
    let company = if let Some(link) = query_text(req, "link")? {
        Some(linked_access(req, link, target).await?)
    } else if query_text(req, "companyId")?.is_some() {
        return Ok(Asked::ByToken(target));
    } else {
        None
    };
    Ok(Asked::Ready(DownloadFor { company, target }))
}

#[rocket::async_trait]
impl<'r> FromRequest<'r> for DownloadFor {
    type Error = ();

    async fn from_request(req: &'r Request<'_>) -> request::Outcome<Self, ()> {
        let target = match asked(req).await {
            Ok(Asked::Ready(what)) => return Outcome::Success(what),
            Ok(Asked::ByToken(target)) => target,
            Err(e) => return Outcome::Error((park(req, e), ())),
        };
        CompanyAccess::from_request(req)
            .await
            .map(|access| DownloadFor {
                company: Some(access),
                target,
            })
    }
}

/// `POST /api/download-links`: which company's connector, for which computer.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LinkRequest {
    pub company_id: String,
    #[serde(default)]
    pub target: Option<String>,
}

impl BodyLimit for LinkRequest {}

/// A signed link to a company's connector ZIP: `url` is a path on this appliance.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct DownloadLink {
    pub url: String,
    pub expires_at: String,
}

fn encode_query(value: &str) -> String {
    rocket::http::RawStr::new(value)
        .percent_encode()
        .to_string()
}

/// Makes a download link for the caller, who may download what it names (admin, or staff of
/// the company).
#[post("/download-links", data = "<body>")]
pub async fn create_link(
    state: &State<AppState>,
    user: User,
    body: JsonBody<LinkRequest>,
) -> ApiResult<Json<DownloadLink>> {
    let LinkRequest { company_id, target } = body.value;
    let target = parse_target(target.as_deref())?;
    if company_id.trim().is_empty() {
        return Err(ApiError::invalid_field("companyId", "name the company"));
    }
    // Before it is looked up: the refusal for an unknown company repeats the id.
    if let Some(fault) = length_fault(&company_id, ID_MAX_CHARS) {
        return Err(ApiError::invalid_field("companyId", fault));
    }
    let (who, company) = (user.clone(), company_id.clone());
    state
        .db
        .read(move |c| accounts::ensure_can_see(c, &who, &company))
        .await?;
    state.link_quota.make(user.id).map_err(|wait| {
        ApiError::too_many(
            format!(
                "You have made {LINKS_PER_HOUR} download links in the last hour; \
                 try again in {wait} s."
            ),
            wait,
        )
    })?;
    let (link, expires) =
        state
            .keys
            .issue_download(user.id, user.generation, &company_id, target_name(target))?;
    let url = format!(
        "/download/connector?companyId={}&target={}&link={}",
        encode_query(&company_id),
        target_name(target),
        encode_query(&link)
    );
    let expires_ms = i64::try_from(expires).unwrap_or(i64::MAX / 1000) * 1000;
    Ok(Json(DownloadLink {
        url,
        expires_at: rfc3339(expires_ms),
    }))
}

pub struct ZipFile {
    bytes: Vec<u8>,
    name: &'static str,
}

impl<'r> Responder<'r, 'static> for ZipFile {
    fn respond_to(self, _: &'r Request<'_>) -> response::Result<'static> {
        Response::build()
            .header(ContentType::ZIP)
            .header(Header::new(
                "Content-Disposition",
                format!("attachment; filename=\"{}\"", self.name),
            ))
            .header(Header::new("Cache-Control", "no-store"))
            .sized_body(self.bytes.len(), Cursor::new(self.bytes))
            .ok()
    }
}

fn not_built() -> ApiError {
    ApiError::new(
        Status::ServiceUnavailable,
        "connectors_not_built",
        "This appliance was built without connectors; build it with packaging/build.sh",
    )
}

/// Where the program comes from: a release archive, else (Windows, development) the ZIP
/// packaging/build-windows.sh left beside the appliance.
enum Source {
    Release(FileBytes),
    Package(Vec<u8>),
}

fn find_source(releases: &ReleaseStore, package: &Path, target: Target) -> ApiResult<Source> {
    let release = releases
        .release(target)
        .map_err(|e| ApiError::internal("connector releases", e))?;
    if let Some((_, archive)) = release {
        return Ok(Source::Release(archive));
    }
    if target == Target::Windows {
        match std::fs::read(package) {
            Ok(bytes) => return Ok(Source::Package(bytes)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(ApiError::internal("reading the connector package", e)),
        }
    }
    Err(not_built())
}

fn build_zip(source: Source, target: Target, edit: &dyn Fn(&mut Value)) -> ApiResult<Vec<u8>> {
    match source {
        Source::Release(archive) => assemble(&archive, target, edit),
        Source::Package(package) => repackage(&package, edit),
    }
    .map_err(|e| ApiError::internal("connector package", e))
}

async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> ApiResult<T> + Send + 'static,
) -> ApiResult<T> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| ApiError::internal("connector package task", e))?
}

#[get("/download/connector")]
async fn connector(
    state: &State<AppState>,
    host: RequestHost,
    what: DownloadFor,
    tls: TlsStatus,
) -> ApiResult<ZipFile> {
    let api_url =
        api_url_for(state.cfg.public_url.as_deref(), host.0.as_deref()).ok_or_else(|| {
            ApiError::new(
                Status::BadRequest,
                "no_public_url",
                "Set AICFO_PUBLIC_URL: the request names no host to write into config.json.",
            )
        })?;
    let api_url = api_url_over(api_url, &tls);
    let (releases, package) = (
        ReleaseStore::new(state.cfg.connector_releases.clone()),
        state.cfg.connector_package.clone(),
    );
    let target = what.target;
    let source = blocking(move || find_source(&releases, &package, target)).await?;
    let code = match &what.company {
        None => None,
        Some(access) => {
            let (company, user) = (access.company_id.clone(), access.user.id);
            let valid_ms = i64::from(state.cfg.enrollment_code_valid_days) * DAY_MS;
            let issued = state
                .db
                .write(move |tx| enrollment::issue(tx, &company, user, valid_ms))
                .await?;
            log::info!(
                "user {} downloaded the connector for company {} (enrolment code {})",
                access.user.username,
                access.company_id,
                issued.id
            );
            Some((access.company_id.clone(), issued.code))
        }
    };
    let bytes = blocking(move || {
        build_zip(source, target, &|config| {
            let Some(config) = config.as_object_mut() else {
                return;
            };
            config.insert("api_url".into(), Value::String(api_url.clone()));
            // The connector accepts exactly this certificate (src/connector/tls.rs).
            if let Some(sha256) = &tls.cert_sha256 {
                config.insert("tls_cert_sha256".into(), Value::String(sha256.clone()));
            }
            if let Some((company, code)) = &code {
                config.insert("company_id".into(), Value::String(company.clone()));
                config.insert("enrollment_code".into(), Value::String(code.clone()));
            }
        })
    })
    .await?;
    let name = match target {
        Target::Windows => "AICFOConnector.zip",
        Target::Linux => "aicfo-connector-linux.zip",
    };
    Ok(ZipFile { bytes, name })
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
        let on = TlsStatus {
            enabled: true,
            cert_sha256: Some("ab".into()),
        };
        assert_eq!(
            api_url_over("http://box:8000/api".into(), &on),
            "https://box:8000/api"
        );
        assert_eq!(
            api_url_over("http://box:8000/api".into(), &TlsStatus::default()),
            "http://box:8000/api"
        );
    }
}
