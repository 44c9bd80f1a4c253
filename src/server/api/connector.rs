//! The guide's connector endpoints (`/api/connector/...`) and connector administration.

use std::time::Instant;

use rocket::data::{ByteUnit, Limits};
use rocket::serde::json::Json;
use rocket::{get, post, State};

use crate::protocol::text::ID_MAX_CHARS;
use crate::protocol::{
    ConnectorAuthRequest, ConnectorRevoked, ConnectorStatus, ConnectorTokens, HeartbeatRequest,
    HeartbeatResponse, PartLimits, RefreshRequest, SyncAccepted, SyncCompleteRequest, SyncPart,
    SyncPartAccepted, SyncPayload, SyncProgressRequest, SyncRunAck, SyncStartRequest,
    SyncStartResponse,
};
use crate::server::auth::tokens::CONNECTOR_TOKEN_TTL_SECS;
use crate::server::body::JsonBody;
use crate::server::clock::{now_ms, rfc3339};
use crate::server::connectors::heartbeats::{self, Beat};
use crate::server::connectors::refresh::{self as chain, Rotation};
use crate::server::connectors::standing::Standing;
use crate::server::error::{ApiError, ApiResult};
use crate::server::guards::{AdminUser, CompanyAccess, ConnectorAuth};
use crate::server::runs::{self, Progress};
use crate::server::state::AppState;
use crate::server::status::connector_status;
use crate::server::updates;
use crate::server::{accounts, connectors, ingest, schedules};

fn tokens(
    state: &AppState,
    connector_id: String,
    company_id: &str,
    generation: i64,
    refresh_token: String,
) -> ApiResult<Json<ConnectorTokens>> {
    Ok(Json(ConnectorTokens {
        connector_token: state
            .keys
            .issue_connector(&connector_id, company_id, generation)?,
        expires_in: CONNECTOR_TOKEN_TTL_SECS,
        refresh_token,
        connector_id,
    }))
}

/// Enrols (or re-enrols) a device for a company on the strength of a user's JWT in the body.
#[post("/connector/auth", data = "<body>")]
pub async fn auth(
    state: &State<AppState>,
    body: JsonBody<ConnectorAuthRequest>,
) -> ApiResult<Json<ConnectorTokens>> {
    let req = body.value;
    connectors::check_enrolment(&req)?;
    let claims = state
        .keys
        .verify_user(&req.user_jwt)
        .map_err(|e| ApiError {
            message: format!("userJwt: {}", e.message),
            ..e
        })?;
    let company_id = req.company_id.clone();
    let enrolled = state
        .db
        .write(move |tx| {
            // A token of a disabled user, or from before a password reset, enrols nothing.
            accounts::token_user(tx, claims.sub, claims.generation)?;
            connectors::enrol(tx, &req, claims.sub)
        })
        .await?;
    enrolled_answer(state, enrolled, &company_id)
}

/// The answer to an enrolment, by user token or by enrolment code: from now on only the new
/// token generation works, and the connector gets its first tokens.
pub(super) fn enrolled_answer(
    state: &AppState,
    enrolled: connectors::Enrolled,
    company_id: &str,
) -> ApiResult<Json<ConnectorTokens>> {
    state.standings.set(
        &enrolled.connector_id,
        Standing {
            generation: enrolled.generation,
            revoked: false,
        },
    );
    // Enrolled again, perhaps from another system: its update target is read afresh.
    state.update_policies.forget(&enrolled.connector_id);
    tokens(
        state,
        enrolled.connector_id,
        company_id,
        enrolled.generation,
        enrolled.refresh_token,
    )
}

#[post("/connector/token/refresh", data = "<body>")]
pub async fn refresh(
    state: &State<AppState>,
    body: JsonBody<RefreshRequest>,
) -> ApiResult<Json<ConnectorTokens>> {
    let token = body.value.refresh_token;
    if token.len() > ID_MAX_CHARS {
        return Err(ApiError::invalid_field(
            "refreshToken",
            format!("must be at most {ID_MAX_CHARS} characters"),
        ));
    }
    let rotation = state.db.write(move |tx| chain::rotate(tx, &token)).await?;
    match rotation {
        Rotation::Rotated(r) => tokens(
            state,
            r.connector_id,
            &r.company_id,
            r.generation,
            r.refresh_token,
        ),
        Rotation::ChainRevoked {
            connector_id,
            standing,
        } => {
            state.standings.set(&connector_id, standing);
            Err(chain::reused_error().into())
        }
    }
}

#[post("/connector/heartbeat", data = "<body>")]
pub async fn heartbeat(
    state: &State<AppState>,
    conn: ConnectorAuth,
    body: JsonBody<HeartbeatRequest>,
) -> ApiResult<Json<HeartbeatResponse>> {
    conn.check_company(body.value.company_id.as_deref())?;
    connectors::check_heartbeat(&body.value)?;
    let mut hb = body.value;
    heartbeats::drop_bad_attempt(&conn.connector_id, &mut hb);
    let interval = state.cfg.heartbeat_interval_secs;
    let now = now_ms();
    let beat = Beat::new(&hb, now, interval)?;
    // Into the heartbeat book only: no wait for the database's writer.
    state.heartbeats.record(&conn.connector_id, beat);
    let catalogue = state.releases.catalogue().await;
    let update = updates::instruction_for(
        &state.db,
        &state.update_policies,
        &catalogue,
        &conn.connector_id,
    )
    .await?;
    let (schedule, sync_request) =
        schedules::for_heartbeat(&state.db, &state.schedules, &conn.company_id).await?;
    Ok(Json(HeartbeatResponse {
        server_time: rfc3339(now),
        next_heartbeat_seconds: interval,
        update,
        schedule,
        sync_request,
    }))
}

#[post("/connector/sync/start", data = "<body>")]
pub async fn sync_start(
    state: &State<AppState>,
    conn: ConnectorAuth,
    limits: &Limits,
    body: JsonBody<SyncStartRequest>,
) -> ApiResult<Json<SyncStartResponse>> {
    conn.check_company(body.value.company_id.as_deref())?;
    let (trigger, request) = (body.value.trigger, body.value.sync_request_id);
    let full_read = body.value.full_read;
    let company = conn.company_id.clone();
    let (id, claimed) = state
        .db
        .write(move |tx| {
            let by = runs::StartedBy {
                trigger: trigger.as_deref(),
                request: request.as_deref(),
                full_read,
            };
            runs::start(tx, &conn.company_id, &conn.connector_id, by)
        })
        .await?;
    if claimed {
        // The request is started: heartbeats stop carrying it.
        state.schedules.forget(&company);
    }
    // A sync larger than one body comes in parts of at most the body limit.
    let max_part_bytes = limits
        .get("sync")
        .unwrap_or(ByteUnit::Mebibyte(64))
        .as_u64();
    Ok(Json(SyncStartResponse {
        sync_run_id: id,
        parts: Some(PartLimits { max_part_bytes }),
    }))
}

#[post("/connector/sync/progress", data = "<body>")]
pub async fn sync_progress(
    state: &State<AppState>,
    conn: ConnectorAuth,
    body: JsonBody<SyncProgressRequest>,
) -> ApiResult<Json<SyncRunAck>> {
    let req = body.value;
    let id = req.sync_run_id.clone();
    state
        .db
        .write(move |tx| {
            let progress = Progress {
                stage: &req.stage,
                percent: req.percent,
                message: req.message.as_deref(),
                counts: req.counts.as_ref(),
            };
            runs::progress(tx, &conn.company_id, &req.sync_run_id, &progress)
        })
        .await?;
    Ok(Json(SyncRunAck {
        ok: true,
        sync_run_id: id,
    }))
}

#[post("/connector/sync/complete", data = "<body>")]
pub async fn sync_complete(
    state: &State<AppState>,
    conn: ConnectorAuth,
    body: JsonBody<SyncCompleteRequest>,
) -> ApiResult<Json<SyncRunAck>> {
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
    Ok(Json(SyncRunAck {
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
    // `_in_flight` holds this body's place in the sync budget until the handler returns.
    let JsonBody {
        value,
        wire_bytes,
        in_flight: _in_flight,
    } = body;
    conn.check_company(value.company_id.as_deref())?;
    let company = conn.company_id.clone();
    let result = ingest::ingest(
        &state.db,
        conn.company_id,
        conn.connector_id,
        value,
        wire_bytes,
        received,
    )
    .await
    .map_err(ApiError::from);
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

/// One part of a sync too large for one body (see `ingest::parts`).
#[post("/connector/sync/part", data = "<body>")]
pub async fn sync_part(
    state: &State<AppState>,
    conn: ConnectorAuth,
    body: JsonBody<SyncPart>,
) -> ApiResult<Json<SyncPartAccepted>> {
    let received = Instant::now();
    // `_in_flight` holds this body's place in the sync budget until the handler returns.
    let JsonBody {
        value,
        wire_bytes,
        in_flight: _in_flight,
    } = body;
    conn.check_company(value.company_id.as_deref())?;
    let company = conn.company_id.clone();
    let (index, count) = (value.part.index, value.part.count);
    let result = ingest::parts::ingest_part(
        &state.db,
        conn.company_id,
        conn.connector_id,
        value,
        wire_bytes,
        received,
    )
    .await
    .map_err(ApiError::from);
    match &result {
        Ok(a) => match &a.stored {
            Some(s) => log::info!(
                "company {company}: all {count} parts in; stored {} ledgers and {} balances for {} months",
                s.ledgers,
                s.balances,
                s.months.len()
            ),
            None => log::info!("company {company}: sync part {index} of {count} received"),
        },
        Err(e) => log::warn!("company {company}: sync part {index} refused: {}", e.message),
    }
    Ok(Json(result?))
}

#[get("/connector/status")]
pub async fn status(
    state: &State<AppState>,
    access: CompanyAccess,
) -> ApiResult<Json<ConnectorStatus>> {
    let rule = state.online_rule();
    let company = access.company_id;
    let beats = state.heartbeats.clone();
    let catalogue = state.releases.catalogue().await;
    let offset = state.cfg.schedule_offset();
    let status = state
        .db
        .read(move |c| connector_status(c, &company, rule, &beats, &catalogue, offset))
        .await?;
    Ok(Json(status))
}

#[post("/connectors/<id>/revoke")]
pub async fn revoke(
    state: &State<AppState>,
    admin: AdminUser,
    id: &str,
) -> ApiResult<Json<ConnectorRevoked>> {
    let target = id.to_string();
    let standing = state
        .db
        .write(move |tx| connectors::revoke(tx, &target))
        .await?;
    state.standings.set(id, standing);
    log::info!("user {} revoked connector {id}", admin.0.username);
    Ok(Json(ConnectorRevoked {
        connector_id: id.to_string(),
        revoked: true,
    }))
}

/// Lifts a revocation. Only an admin may, and only this way: enrolling the device again does
/// not. The device then enrols afresh; no token from before the revocation works again.
#[post("/connectors/<id>/restore")]
pub async fn restore(
    state: &State<AppState>,
    admin: AdminUser,
    id: &str,
) -> ApiResult<Json<ConnectorRevoked>> {
    let target = id.to_string();
    let standing = state
        .db
        .write(move |tx| connectors::restore(tx, &target))
        .await?;
    state.standings.set(id, standing);
    log::info!("user {} restored connector {id}", admin.0.username);
    Ok(Json(ConnectorRevoked {
        connector_id: id.to_string(),
        revoked: false,
    }))
}
