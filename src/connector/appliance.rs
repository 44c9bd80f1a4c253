//! Talking to the appliance: the connector token (a pasted one from config.json, or one obtained
//! with the refresh token), retries with exponential backoff and jitter, and errors that say
//! what the bookkeeper should do.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use base64::Engine;
use rand::Rng;
use reqwest::header::{CONTENT_ENCODING, CONTENT_TYPE, RETRY_AFTER};
use reqwest::RequestBuilder;
use serde::de::DeserializeOwned;
use serde::Serialize;

use super::state::{State, StateStore};
use crate::protocol::*;

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ApplianceError {
    #[error("The appliance at {url} cannot be reached ({detail}). Check that the aicfo appliance is switched on and that this PC is on the office network.")]
    Unreachable { url: String, detail: String },
    /// The appliance's certificate is not the pinned one (see `tls.rs`): nothing was sent.
    #[error("The appliance at {url} was not trusted, so nothing was sent to it: {detail}. If the appliance was reinstalled or its certificate replaced, download the connector's config.json again from the appliance's page (or run setup with the new fingerprint); otherwise another machine may be posing as the appliance: tell the firm's administrator.")]
    Untrusted { url: String, detail: String },
    #[error("The appliance had a problem ({status}): {message}")]
    Server { status: u16, message: String },
    #[error("This connector must be set up again: {reason} Run `AICFOConnector.exe setup`.")]
    NeedsSetup { reason: String },
    #[error("The appliance refused the request ({status} {code}): {message}")]
    Rejected {
        status: u16,
        code: String,
        message: String,
        details: Vec<ErrorDetail>,
    },
    /// Nothing was sent: this PC could not read what it was to send (an antivirus lock, a
    /// damaged disk). Not the appliance's answer, so never a reason to set a payload aside.
    #[error("This PC could not read what it was to send: {detail}")]
    Local { detail: String },
}

/// The appliance's error codes that mean "this payload, as it is, will never be accepted":
/// too large, not JSON, not gzip, or invalid. Anything else (a token, a rate limit, a run
/// that has ended, a wrong company) is about the request, not the payload.
const PAYLOAD_REFUSALS: [(u16, &str); 5] = [
    (413, "payload_too_large"),
    (422, "invalid_payload"),
    (400, "invalid_json"),
    (400, "bad_encoding"),
    (415, "unsupported_encoding"),
];

impl ApplianceError {
    pub fn kind(&self) -> &'static str {
        match self {
            ApplianceError::Unreachable { .. } => "appliance_unreachable",
            ApplianceError::Untrusted { .. } => "appliance_untrusted",
            ApplianceError::Server { .. } => "appliance_error",
            ApplianceError::NeedsSetup { .. } => "needs_setup",
            ApplianceError::Rejected { .. } => "rejected",
            ApplianceError::Local { .. } => "local",
        }
    }

    /// The appliance refused this payload for good, recognised by its error code.
    pub fn refuses_payload(&self) -> bool {
        matches!(self, ApplianceError::Rejected { status, code, .. }
            if PAYLOAD_REFUSALS.contains(&(*status, code.as_str())))
    }

    /// The sync run named in the request has ended (or is unknown) at the appliance.
    pub fn run_is_over(&self) -> bool {
        matches!(self, ApplianceError::Rejected { code, .. }
            if code == "sync_run_finished" || code == "sync_run_not_found")
    }

    /// Worth trying again later: the appliance was away or broken, not the request. An
    /// untrusted certificate counts: what waits to be sent stays queued until it is fixed.
    pub fn is_transient(&self) -> bool {
        matches!(
            self,
            ApplianceError::Unreachable { .. }
                | ApplianceError::Untrusted { .. }
                | ApplianceError::Server { .. }
        )
    }

    /// A request that did not get an answer: a refused certificate, or no appliance.
    fn unanswered(url: &str, e: &reqwest::Error) -> ApplianceError {
        match super::tls::pin_mismatch(e) {
            Some(mismatch) => ApplianceError::Untrusted {
                url: url.to_string(),
                detail: mismatch.to_string(),
            },
            None => ApplianceError::Unreachable {
                url: url.to_string(),
                detail: e.to_string(),
            },
        }
    }
}

#[derive(Debug, Clone, Copy)]
pub struct RetryPolicy {
    /// Retries after the first try.
    pub retries: u32,
    pub first_delay: Duration,
}

impl RetryPolicy {
    pub const NONE: RetryPolicy = RetryPolicy {
        retries: 0,
        first_delay: Duration::ZERO,
    };

    /// `first_delay * 2^attempt`, capped at five minutes, plus up to half again of jitter so
    /// that many connectors coming back after an outage do not arrive together.
    pub fn delay(&self, attempt: u32) -> Duration {
        let base = self
            .first_delay
            .saturating_mul(1u32 << attempt.min(16))
            .min(Duration::from_secs(300));
        let jitter = rand::thread_rng().gen_range(0.0..0.5);
        base + base.mul_f64(jitter)
    }
}

pub enum Body {
    Json(Vec<u8>),
    /// JSON already gzip-compressed (a payload changed in memory).
    GzipJson(Vec<u8>),
    /// A gzip-compressed JSON file streamed from disk (a payload in the outbox): a big
    /// company's payload never has to sit in memory to be sent.
    GzipJsonFile(std::path::PathBuf),
    Empty,
}

impl Body {
    pub fn json<T: Serialize>(value: &T) -> Body {
        Body::Json(serde_json::to_vec(value).unwrap_or_default())
    }
}

fn unix_now() -> i64 {
    time::OffsetDateTime::now_utc().unix_timestamp()
}

/// The `exp` claim of a JWT, read without verifying it (only the appliance can verify).
pub fn jwt_expiry(token: &str) -> Option<i64> {
    let payload = token.split('.').nth(1)?;
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(payload.trim_end_matches('='))
        .ok()?;
    serde_json::from_slice::<serde_json::Value>(&bytes)
        .ok()?
        .get("exp")?
        .as_i64()
}

/// A payload file from the outbox, opened for streaming, with its length. Anything but a
/// readable regular file is a local error: a directory opens on some systems and fails only
/// halfway through the upload, which would look like the appliance going away.
async fn open_payload(path: &std::path::Path) -> Result<(tokio::fs::File, u64), ApplianceError> {
    let local = |e: std::io::Error| ApplianceError::Local {
        detail: format!("cannot read {}: {e}", path.display()),
    };
    let file = tokio::fs::File::open(path).await.map_err(local)?;
    let meta = file.metadata().await.map_err(local)?;
    if !meta.is_file() {
        return Err(local(std::io::Error::other("it is not a file")));
    }
    Ok((file, meta.len()))
}

/// A download larger than announced is cut off: never fill the disk with what was not asked for.
fn local_cap(cap: u64) -> ApplianceError {
    ApplianceError::Rejected {
        status: 0,
        code: "too_large".into(),
        message: format!("the archive is larger than the {cap} bytes announced"),
        details: vec![],
    }
}

/// What the appliance answered: a success's body, or its error (the contract's JSON when it
/// is that, else the start of whatever came).
enum Answer {
    Ok {
        status: u16,
        body: Vec<u8>,
    },
    Refused {
        status: u16,
        code: String,
        message: String,
        details: Vec<ErrorDetail>,
        retry_after: Option<u64>,
    },
}

impl Answer {
    async fn read(res: reqwest::Response) -> Answer {
        let status = res.status().as_u16();
        let retry_after = res
            .headers()
            .get(RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse::<u64>().ok());
        if res.status().is_redirection() {
            return Answer::redirected(&res, retry_after);
        }
        let bytes = res.bytes().await.unwrap_or_default();
        if (200..300).contains(&status) {
            return Answer::Ok {
                status,
                body: bytes.to_vec(),
            };
        }
        let (code, message, details) = match serde_json::from_slice::<ErrorBody>(&bytes) {
            Ok(b) => (b.error, b.message, b.details),
            Err(_) => (
                String::new(),
                String::from_utf8_lossy(&bytes).chars().take(200).collect(),
                Vec::new(),
            ),
        };
        Answer::Refused {
            status,
            code,
            message,
            details,
            retry_after,
        }
    }
}

impl Answer {
    /// Redirects are not followed (see [`http_client`]); the likely one is an HTTPS appliance
    /// asked over http://.
    fn redirected(res: &reqwest::Response, retry_after: Option<u64>) -> Answer {
        let to = res
            .headers()
            .get(reqwest::header::LOCATION)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("another address");
        Answer::Refused {
            status: res.status().as_u16(),
            code: "redirected".into(),
            message: format!("it sends this request on to {to}. Set api_url to the appliance's https:// address: download config.json again from the appliance's page, or run setup."),
            details: Vec::new(),
            retry_after,
        }
    }
}

fn parse_ok<R: DeserializeOwned>(status: u16, body: &[u8]) -> Result<R, ApplianceError> {
    serde_json::from_slice(body).map_err(|e| ApplianceError::Server {
        status,
        message: format!("its answer could not be read: {e}"),
    })
}

/// The client for the appliance: pinned to one certificate when given one, else trusting the
/// public authorities (an appliance with a bought certificate), never anything at all.
fn http_client(tls_cert_sha256: Option<&str>) -> reqwest::Client {
    let builder = reqwest::Client::builder()
        .connect_timeout(Duration::from_secs(10))
        .timeout(Duration::from_secs(300))
        .user_agent(concat!("aicfo-connector/", env!("CARGO_PKG_VERSION")))
        .no_proxy()
        // A redirect would leave the pinned or trusted address; the API never sends one.
        .redirect(reqwest::redirect::Policy::none());
    let builder = match tls_cert_sha256 {
        None => builder,
        Some(pin) => builder.use_preconfigured_tls(
            super::tls::pinned_config(pin).expect("ring offers the default TLS versions"),
        ),
    };
    builder
        .build()
        .expect("the client's settings are fixed and always build")
}

pub struct Appliance {
    http: reqwest::Client,
    api: String,
    policy: RetryPolicy,
    manual_token: Option<String>,
    state: Arc<Mutex<State>>,
    store: Arc<StateStore>,
    /// Held while a token is chosen or refreshed, so two tasks never spend one refresh token.
    token_lock: tokio::sync::Mutex<()>,
}

enum Auth<'a> {
    None,
    Bearer(&'a str),
    Connector,
}

impl Appliance {
    /// `tls_cert_sha256`, when given (64 lowercase hex digits, as config.json holds it), is the
    /// only certificate accepted from the appliance.
    pub fn new(
        api_url: &str,
        tls_cert_sha256: Option<&str>,
        policy: RetryPolicy,
        manual_token: Option<String>,
        state: Arc<Mutex<State>>,
        store: Arc<StateStore>,
    ) -> Appliance {
        Appliance {
            http: http_client(tls_cert_sha256),
            api: api_url.trim_end_matches('/').to_string(),
            policy,
            manual_token: manual_token.filter(|t| !t.trim().is_empty()),
            state,
            store,
            token_lock: tokio::sync::Mutex::new(()),
        }
    }

    pub fn api_url(&self) -> &str {
        &self.api
    }

    fn lock_state(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn persist(&self) {
        let snapshot = self.lock_state().clone();
        if let Err(e) = self.store.save(&snapshot) {
            log::error!("cannot save {}: {e}", self.store.path().display());
        }
    }

    fn mark_needs_setup(&self, reason: &str) -> ApplianceError {
        {
            let mut s = self.lock_state();
            s.connector_token = None;
            s.connector_token_expires_at = None;
            s.needs_setup = Some(reason.to_string());
        }
        self.persist();
        ApplianceError::NeedsSetup {
            reason: reason.to_string(),
        }
    }

    /// A connector token with at least a minute left: the one held, the one pasted into
    /// config.json, or a new one for the refresh token.
    async fn connector_token(&self, force_refresh: bool) -> Result<String, ApplianceError> {
        let _guard = self.token_lock.lock().await;
        let now = unix_now();
        let refresh = {
            let s = self.lock_state();
            if !force_refresh {
                if let (Some(t), Some(exp)) = (&s.connector_token, s.connector_token_expires_at) {
                    if exp > now + 60 {
                        return Ok(t.clone());
                    }
                }
            }
            s.refresh_token.clone()
        };
        if let Some(refresh) = refresh {
            return self.refresh(&refresh).await;
        }
        if let Some(manual) = &self.manual_token {
            if force_refresh {
                return Err(ApplianceError::NeedsSetup {
                    reason: "the appliance no longer accepts the connector_token in config.json (expired or revoked).".into(),
                });
            }
            return match jwt_expiry(manual) {
                Some(exp) if exp <= now + 5 => Err(ApplianceError::NeedsSetup {
                    reason:
                        "the connector_token in config.json has expired (they last 15 minutes)."
                            .into(),
                }),
                _ => Ok(manual.clone()),
            };
        }
        let reason = self.lock_state().needs_setup.clone();
        Err(ApplianceError::NeedsSetup {
            reason: reason
                .unwrap_or_else(|| "it has not been enrolled with the appliance yet.".into()),
        })
    }

    async fn refresh(&self, refresh_token: &str) -> Result<String, ApplianceError> {
        let body = Body::json(&RefreshRequest {
            refresh_token: refresh_token.to_string(),
        });
        match self
            .send::<ConnectorTokens>("/connector/token/refresh", body, Auth::None, self.policy)
            .await
        {
            Ok(t) => {
                {
                    let mut s = self.lock_state();
                    s.connector_token = Some(t.connector_token.clone());
                    s.connector_token_expires_at = Some(unix_now() + t.expires_in as i64);
                    s.refresh_token = Some(t.refresh_token);
                    s.connector_id = Some(t.connector_id);
                    s.needs_setup = None;
                }
                self.persist();
                log::debug!("connector token renewed");
                Ok(t.connector_token)
            }
            Err(ApplianceError::Rejected {
                status: 401,
                message,
                ..
            }) => Err(self.mark_needs_setup(&message)),
            Err(e) => Err(e),
        }
    }

    /// The request for `body`, before its token.
    async fn request(&self, url: &str, body: &Body) -> Result<RequestBuilder, ApplianceError> {
        let post_json = || self.http.post(url).header(CONTENT_TYPE, "application/json");
        Ok(match body {
            Body::Empty => self.http.get(url),
            Body::Json(b) => post_json().body(b.clone()),
            Body::GzipJson(b) => post_json().header(CONTENT_ENCODING, "gzip").body(b.clone()),
            Body::GzipJsonFile(path) => {
                let (file, length) = open_payload(path).await?;
                post_json()
                    .header(CONTENT_ENCODING, "gzip")
                    .header(reqwest::header::CONTENT_LENGTH, length)
                    .body(reqwest::Body::wrap_stream(
                        tokio_util::io::ReaderStream::new(file),
                    ))
            }
        })
    }

    /// One request with retries for what may pass: no answer, 5xx, 429.
    async fn send<R: DeserializeOwned>(
        &self,
        path: &str,
        body: Body,
        auth: Auth<'_>,
        policy: RetryPolicy,
    ) -> Result<R, ApplianceError> {
        let url = format!("{}{path}", self.api);
        let mut refreshed = false;
        let mut attempt = 0;
        loop {
            let mut req = self.request(&url, &body).await?;
            match auth {
                Auth::None => {}
                Auth::Bearer(t) => req = req.bearer_auth(t),
                // Boxed: renewing a token sends a request itself.
                Auth::Connector => {
                    req = req.bearer_auth(Box::pin(self.connector_token(false)).await?)
                }
            }
            let (err, wait) = match req.send().await {
                Err(e) => (ApplianceError::unanswered(&self.api, &e), None),
                Ok(res) => match Answer::read(res).await {
                    Answer::Ok { status, body } => return parse_ok(status, &body),
                    Answer::Refused {
                        status: 401,
                        code,
                        message,
                        ..
                    } if matches!(auth, Auth::Connector) => {
                        if code == "connector_revoked" || refreshed {
                            return Err(self.mark_needs_setup(&message));
                        }
                        // The token may have lapsed in between: renew it once and try again.
                        refreshed = true;
                        self.lock_state().connector_token = None;
                        Box::pin(self.connector_token(true)).await?;
                        continue;
                    }
                    Answer::Refused {
                        status,
                        code,
                        message,
                        details,
                        retry_after,
                    } => match status {
                        429 => (
                            ApplianceError::Server { status, message },
                            retry_after.map(|s| Duration::from_secs(s.min(120))),
                        ),
                        500.. => (ApplianceError::Server { status, message }, None),
                        _ => {
                            return Err(ApplianceError::Rejected {
                                status,
                                code,
                                message,
                                details,
                            })
                        }
                    },
                },
            };
            // Another certificate will not become the pinned one by asking again soon.
            if attempt >= policy.retries || matches!(err, ApplianceError::Untrusted { .. }) {
                return Err(err);
            }
            let delay = wait.unwrap_or_else(|| policy.delay(attempt));
            log::warn!(
                "{path}: {err}; trying again in {:.0} s",
                delay.as_secs_f64()
            );
            tokio::time::sleep(delay).await;
            attempt += 1;
        }
    }

    pub async fn health(&self) -> Result<(), ApplianceError> {
        let url = format!("{}/health", self.api);
        match self
            .http
            .get(&url)
            .timeout(Duration::from_secs(10))
            .send()
            .await
        {
            Ok(r) if r.status().is_success() => Ok(()),
            Ok(r) => Err(ApplianceError::Server {
                status: r.status().as_u16(),
                message: "the health check failed".into(),
            }),
            Err(e) => Err(ApplianceError::unanswered(&self.api, &e)),
        }
    }

    pub async fn login(
        &self,
        username: &str,
        password: &str,
    ) -> Result<LoginResponse, ApplianceError> {
        let body = Body::json(&LoginRequest {
            username: username.into(),
            password: password.into(),
        });
        self.send("/auth/login", body, Auth::None, self.policy)
            .await
    }

    pub async fn companies(&self, user_jwt: &str) -> Result<Vec<CompanySummary>, ApplianceError> {
        self.send(
            "/companies",
            Body::Empty,
            Auth::Bearer(user_jwt),
            self.policy,
        )
        .await
    }

    /// Enrols this device and takes the tokens into the state held in memory. Saving it is
    /// the caller's: setup must know whether the refresh token reached the disk.
    pub async fn enrol(
        &self,
        req: &ConnectorAuthRequest,
    ) -> Result<ConnectorTokens, ApplianceError> {
        let tokens: ConnectorTokens = self
            .send("/connector/auth", Body::json(req), Auth::None, self.policy)
            .await?;
        self.take_tokens(&tokens);
        Ok(tokens)
    }

    /// Enrols this device with the one-time code of a downloaded ZIP; like [`Appliance::enrol`],
    /// saving the state is the caller's.
    pub async fn enrol_with_code(
        &self,
        req: &EnrollRequest,
    ) -> Result<ConnectorTokens, ApplianceError> {
        let tokens: ConnectorTokens = self
            .send(
                "/connector/enroll",
                Body::json(req),
                Auth::None,
                self.policy,
            )
            .await?;
        self.take_tokens(&tokens);
        Ok(tokens)
    }

    fn take_tokens(&self, tokens: &ConnectorTokens) {
        let mut s = self.lock_state();
        s.connector_id = Some(tokens.connector_id.clone());
        s.refresh_token = Some(tokens.refresh_token.clone());
        s.connector_token = Some(tokens.connector_token.clone());
        s.connector_token_expires_at = Some(unix_now() + tokens.expires_in as i64);
        s.needs_setup = None;
    }

    /// Revokes a connector with a user's token (an administrator's: the appliance refuses
    /// anyone else).
    pub async fn revoke(
        &self,
        user_jwt: &str,
        connector_id: &str,
    ) -> Result<serde_json::Value, ApplianceError> {
        let path = format!("/connectors/{connector_id}/revoke");
        self.send(
            &path,
            Body::json(&serde_json::json!({})),
            Auth::Bearer(user_jwt),
            RetryPolicy::NONE,
        )
        .await
    }

    /// Heartbeats are not retried: the next one is never far away.
    pub async fn heartbeat(
        &self,
        hb: &HeartbeatRequest,
    ) -> Result<HeartbeatResponse, ApplianceError> {
        self.send(
            "/connector/heartbeat",
            Body::json(hb),
            Auth::Connector,
            RetryPolicy::NONE,
        )
        .await
    }

    pub async fn sync_start(
        &self,
        req: &SyncStartRequest,
    ) -> Result<SyncStartResponse, ApplianceError> {
        self.send(
            "/connector/sync/start",
            Body::json(req),
            Auth::Connector,
            self.policy,
        )
        .await
    }

    /// Progress is best effort: one try, a failure only logged by the caller.
    pub async fn sync_progress(
        &self,
        req: &SyncProgressRequest,
    ) -> Result<serde_json::Value, ApplianceError> {
        self.send(
            "/connector/sync/progress",
            Body::json(req),
            Auth::Connector,
            RetryPolicy::NONE,
        )
        .await
    }

    pub async fn sync_complete(
        &self,
        req: &SyncCompleteRequest,
    ) -> Result<serde_json::Value, ApplianceError> {
        self.send(
            "/connector/sync/complete",
            Body::json(req),
            Auth::Connector,
            self.policy,
        )
        .await
    }

    /// Downloads a release archive (connector token) into `dest`, refusing more than `cap`
    /// bytes. `url` is the appliance's: a path such as `/api/connector/releases/{file}`, or a
    /// full URL. Not retried: the updater tries again later, with its own backoff.
    pub async fn download_to(
        &self,
        url: &str,
        dest: &std::path::Path,
        cap: u64,
    ) -> Result<u64, ApplianceError> {
        let url = reqwest::Url::parse(&self.api)
            .and_then(|base| base.join(url))
            .map_err(|e| ApplianceError::Rejected {
                status: 0,
                code: "bad_url".into(),
                message: format!("the download address `{url}` cannot be used: {e}"),
                details: vec![],
            })?;
        let token = self.connector_token(false).await?;
        let unreachable = |detail: String| ApplianceError::Unreachable {
            url: self.api.clone(),
            detail,
        };
        let mut res = self
            .http
            .get(url)
            .bearer_auth(token)
            .send()
            .await
            .map_err(|e| unreachable(e.to_string()))?;
        if !res.status().is_success() {
            return Err(match Answer::read(res).await {
                Answer::Refused {
                    status,
                    code,
                    message,
                    details,
                    ..
                } if status < 500 && status != 429 => ApplianceError::Rejected {
                    status,
                    code,
                    message,
                    details,
                },
                Answer::Refused {
                    status, message, ..
                } => ApplianceError::Server { status, message },
                Answer::Ok { status, .. } => ApplianceError::Server {
                    status,
                    message: "an unexpected answer to a download".into(),
                },
            });
        }
        if res.content_length().is_some_and(|n| n > cap) {
            return Err(local_cap(cap));
        }
        let local = |e: std::io::Error| ApplianceError::Local {
            detail: format!("cannot write {}: {e}", dest.display()),
        };
        let mut file = tokio::fs::File::create(dest).await.map_err(local)?;
        let mut total = 0u64;
        loop {
            let chunk = res.chunk().await.map_err(|e| {
                unreachable(format!("the download broke off after {total} bytes: {e}"))
            })?;
            let Some(chunk) = chunk else { break };
            total += chunk.len() as u64;
            if total > cap {
                return Err(local_cap(cap));
            }
            tokio::io::AsyncWriteExt::write_all(&mut file, &chunk)
                .await
                .map_err(local)?;
        }
        file.sync_all().await.map_err(local)?;
        Ok(total)
    }

    pub async fn sync_payload(&self, body: Body) -> Result<SyncAccepted, ApplianceError> {
        self.send("/connector/sync", body, Auth::Connector, self.policy)
            .await
    }

    /// One part of a sync delivered in parts.
    pub async fn sync_part(&self, body: Body) -> Result<SyncPartAccepted, ApplianceError> {
        self.send("/connector/sync/part", body, Auth::Connector, self.policy)
            .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_with_up_to_half_again_of_jitter_and_is_capped() {
        let p = RetryPolicy {
            retries: 5,
            first_delay: Duration::from_secs(5),
        };
        for (attempt, base) in [(0u32, 5u64), (1, 10), (2, 20), (3, 40)] {
            for _ in 0..50 {
                let d = p.delay(attempt);
                assert!(
                    d >= Duration::from_secs(base)
                        && d < Duration::from_secs_f64(base as f64 * 1.5),
                    "attempt {attempt}: {d:?}"
                );
            }
        }
        assert!(
            p.delay(30) < Duration::from_secs(450),
            "capped at five minutes plus jitter"
        );
        let spread: std::collections::HashSet<u128> =
            (0..20).map(|_| p.delay(1).as_millis()).collect();
        assert!(spread.len() > 1, "jitter spreads connectors out");
    }

    #[test]
    fn only_the_appliances_payload_codes_set_a_payload_aside() {
        let answer = |status: u16, code: &str| ApplianceError::Rejected {
            status,
            code: code.into(),
            message: String::new(),
            details: vec![],
        };
        assert!(answer(413, "payload_too_large").refuses_payload());
        assert!(answer(422, "invalid_payload").refuses_payload());
        for not_the_payload in [
            answer(413, ""),
            answer(403, "forbidden"),
            answer(409, "sync_run_finished"),
            answer(404, "not_found"),
            ApplianceError::Local {
                detail: "locked".into(),
            },
            ApplianceError::Server {
                status: 503,
                message: String::new(),
            },
        ] {
            assert!(!not_the_payload.refuses_payload(), "{not_the_payload:?}");
        }
        assert!(answer(409, "sync_run_finished").run_is_over());
        assert!(!answer(409, "conflict").run_is_over());
    }

    #[test]
    fn jwt_expiry_is_read_without_verifying() {
        // {"exp":1700000000} as a JWT payload.
        let token = format!(
            "x.{}.y",
            base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(br#"{"exp":1700000000}"#)
        );
        assert_eq!(jwt_expiry(&token), Some(1_700_000_000));
        assert_eq!(jwt_expiry("your-connector-token"), None);
    }
}
