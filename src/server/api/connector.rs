//! The guide's connector endpoints (`/api/connector/...`) and connector administration.

use std::time::Instant;

use rocket::serde::json::Json;
use rocket::{get, post, State};
use serde::Serialize;

use crate::protocol::*;
use crate::server::auth::tokens::CONNECTOR_TOKEN_TTL_SECS;
use crate::server::auth::{ConnectorAuth, UserAuth};
use crate::server::body::JsonBody;
use crate::server::db::{now_ms, rfc3339};
use crate::server::error::{ApiError, ApiResult};
use crate::server::state::AppState;
use crate::server::{accounts, connectors, ingest, runs, snapshots};

fn required(path: &str, value: &str, problems: &mut Vec<ErrorDetail>) {
    if value.trim().is_empty() {
        problems.push(ErrorDetail {
            path: path.into(),
            message: "must not be empty".into(),
        });
    } else if value.len() > 200 {
        problems.push(ErrorDetail {
            path: path.into(),
            message: "must be at most 200 characters".into(),
        });
    }
}

/// Enrols (or re-enrols) a device for a company on the strength of a user's JWT.
#[post("/connector/auth", data = "<body>")]
pub async fn auth(
    state: &State<AppState>,
    body: JsonBody<ConnectorAuthRequest>,
) -> ApiResult<Json<ConnectorTokens>> {
    let req = body.value;
    let mut problems = Vec::new();
    required("companyId", &req.company_id, &mut problems);
    required("deviceId", &req.device_id, &mut problems);
    if !problems.is_empty() {
        return Err(ApiError::invalid(
            "The enrolment request is incomplete.",
            problems,
        ));
    }
    let claims = state
        .keys
        .verify_user(&req.user_jwt)
        .map_err(|e| ApiError {
            message: format!("userJwt: {}", e.message),
            ..e
        })?;
    let user_id = claims.sub;
    let company_id = req.company_id.clone();
    let (connector_id, refresh) = state
        .db
        .write(move |tx| {
            let user = accounts::user_by_id(tx, user_id)?.ok_or_else(|| {
                ApiError::unauthorized("user_gone", "The account in userJwt no longer exists.")
            })?;
            accounts::ensure_can_see(tx, &user, &req.company_id)?;
            let (id, refresh) = connectors::register(tx, &req, user_id)?;
            Ok((id, refresh))
        })
        .await?;
    state.revoked.remove(&connector_id);
    let token = state.keys.issue_connector(&connector_id, &company_id)?;
    Ok(Json(ConnectorTokens {
        connector_token: token,
        expires_in: CONNECTOR_TOKEN_TTL_SECS,
        refresh_token: refresh,
        connector_id,
    }))
}

#[post("/connector/token/refresh", data = "<body>")]
pub async fn refresh(
    state: &State<AppState>,
    body: JsonBody<RefreshRequest>,
) -> ApiResult<Json<ConnectorTokens>> {
    let token = body.value.refresh_token;
    let (connector_id, company_id, fresh) = state
        .db
        .write(move |tx| connectors::rotate_refresh(tx, &token))
        .await?;
    Ok(Json(ConnectorTokens {
        connector_token: state.keys.issue_connector(&connector_id, &company_id)?,
        expires_in: CONNECTOR_TOKEN_TTL_SECS,
        refresh_token: fresh,
        connector_id,
    }))
}

#[post("/connector/heartbeat", data = "<body>")]
pub async fn heartbeat(
    state: &State<AppState>,
    conn: ConnectorAuth,
    body: JsonBody<HeartbeatRequest>,
) -> ApiResult<Json<HeartbeatResponse>> {
    conn.check_company(body.value.company_id.as_deref())?;
    let interval = state.cfg.heartbeat_interval_secs;
    let hb = body.value;
    state
        .db
        .write(move |tx| connectors::heartbeat(tx, &conn.connector_id, &hb, interval))
        .await?;
    Ok(Json(HeartbeatResponse {
        server_time: rfc3339(now_ms()),
        next_heartbeat_seconds: interval,
    }))
}

#[post("/connector/sync/start", data = "<body>")]
pub async fn sync_start(
    state: &State<AppState>,
    conn: ConnectorAuth,
    body: JsonBody<SyncStartRequest>,
) -> ApiResult<Json<SyncStartResponse>> {
    conn.check_company(body.value.company_id.as_deref())?;
    let trigger = body.value.trigger;
    let id = state
        .db
        .write(move |tx| runs::start(tx, &conn.company_id, &conn.connector_id, trigger.as_deref()))
        .await?;
    Ok(Json(SyncStartResponse { sync_run_id: id }))
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Ack {
    pub ok: bool,
    pub sync_run_id: String,
}

#[post("/connector/sync/progress", data = "<body>")]
pub async fn sync_progress(
    state: &State<AppState>,
    conn: ConnectorAuth,
    body: JsonBody<SyncProgressRequest>,
) -> ApiResult<Json<Ack>> {
    let req = body.value;
    if req.percent.is_some_and(|p| p > 100) {
        return Err(ApiError::invalid_field(
            "percent",
            "must be between 0 and 100",
        ));
    }
    if req.stage.trim().is_empty() {
        return Err(ApiError::invalid_field("stage", "must not be empty"));
    }
    let id = req.sync_run_id.clone();
    state
        .db
        .write(move |tx| {
            runs::progress(
                tx,
                &conn.company_id,
                &req.sync_run_id,
                req.stage.trim(),
                req.percent,
                req.message.as_deref(),
                req.counts.as_ref(),
            )
        })
        .await?;
    Ok(Json(Ack {
        ok: true,
        sync_run_id: id,
    }))
}

#[post("/connector/sync/complete", data = "<body>")]
pub async fn sync_complete(
    state: &State<AppState>,
    conn: ConnectorAuth,
    body: JsonBody<SyncCompleteRequest>,
) -> ApiResult<Json<Ack>> {
    let req = body.value;
    let id = req.sync_run_id.clone();
    state
        .db
        .write(move |tx| {
            runs::complete(
                tx,
                &conn.company_id,
                &req.sync_run_id,
                req.status,
                req.error.as_deref(),
                req.counts.as_ref(),
            )
        })
        .await?;
    Ok(Json(Ack {
        ok: true,
        sync_run_id: id,
    }))
}

#[post("/connector/sync", data = "<body>")]
pub async fn sync(
    state: &State<AppState>,
    conn: ConnectorAuth,
    body: JsonBody<SyncPayload>,
) -> ApiResult<Json<SyncAccepted>> {
    let received = Instant::now();
    let JsonBody {
        value: payload,
        wire_bytes,
    } = body;
    conn.check_company(payload.company_id.as_deref())?;
    let company = conn.company_id.clone();
    // Checked before taking the database's one writer, which heartbeats and other syncs share.
    let checked =
        tokio::task::spawn_blocking(move || ingest::validate(&payload).map(|v| (payload, v)))
            .await
            .map_err(|e| ApiError::internal("payload check task", e))?;
    let result = match checked {
        Err(e) => Err(e),
        Ok((payload, validated)) => {
            state
                .db
                .write(move |tx| {
                    let origin = ingest::Origin {
                        company_id: &conn.company_id,
                        connector_id: &conn.connector_id,
                        wire_bytes,
                        received,
                    };
                    ingest::store(tx, &origin, &payload, &validated)
                })
                .await
        }
    };
    match &result {
        Ok(a) => log::info!(
            "company {company}: stored {} ledgers and {} balances for {} months in {} ms",
            a.ledgers,
            a.balances,
            a.months.len(),
            received.elapsed().as_millis()
        ),
        Err(e) => log::warn!("company {company}: sync payload refused: {}", e.message),
    }
    Ok(Json(result?))
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ConnectorStatus {
    pub company_id: String,
    pub server_time: String,
    pub connectors: Vec<connectors::ConnectorView>,
    pub last_sync_run: Option<runs::RunView>,
    pub last_successful_sync: Option<runs::RunView>,
    pub months: Vec<snapshots::SnapshotSummary>,
}

#[get("/connector/status?<companyId>")]
#[allow(non_snake_case)]
pub async fn status(
    state: &State<AppState>,
    user: UserAuth,
    companyId: Option<String>,
) -> ApiResult<Json<ConnectorStatus>> {
    let company = companyId.filter(|c| !c.trim().is_empty()).ok_or_else(|| {
        ApiError::invalid_field("companyId", "give the company as `?companyId=...`")
    })?;
    let (interval, grace) = (
        state.cfg.heartbeat_interval_secs,
        state.cfg.online_grace_secs,
    );
    let status = state
        .db
        .read(move |c| {
            accounts::ensure_can_see(c, &user, &company)?;
            Ok(ConnectorStatus {
                connectors: connectors::list_for_company(c, &company, interval, grace)?,
                last_sync_run: runs::latest(c, &company, None)?,
                last_successful_sync: runs::latest(c, &company, Some("succeeded"))?,
                months: snapshots::list(c, &company)?,
                server_time: rfc3339(now_ms()),
                company_id: company,
            })
        })
        .await?;
    Ok(Json(status))
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Revoked {
    pub connector_id: String,
    pub revoked: bool,
}

#[post("/connectors/<id>/revoke")]
pub async fn revoke(
    state: &State<AppState>,
    user: UserAuth,
    id: String,
) -> ApiResult<Json<Revoked>> {
    user.require_admin()?;
    let target = id.clone();
    state
        .db
        .write(move |tx| connectors::revoke(tx, &target))
        .await?;
    state.revoked.insert(&id);
    log::info!("user {} revoked connector {id}", user.username);
    Ok(Json(Revoked {
        connector_id: id,
        revoked: true,
    }))
}
