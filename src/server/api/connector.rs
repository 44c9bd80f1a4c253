//! The guide's connector endpoints (`/api/connector/...`) and connector administration.

use std::future::Future;
use std::pin::Pin;
use std::time::Instant;

use rocket::data::{ByteUnit, Limits};
use rocket::serde::json::Json;
use rocket::{get, post, State};
use rusqlite::Transaction;

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
use crate::server::connectors::heartbeats::Beat;
use crate::server::connectors::refresh::{self as chain, Rotation};
use crate::server::connectors::standing::Standing;
use crate::server::db::Db;
use crate::server::domain_error::DomainResult;
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
    state
        .heartbeats
        .drop_bad_attempt(&conn.connector_id, &mut hb);
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
        state.cfg.update_spread_secs,
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
    acknowledged(state, id, move |tx| {
        let progress = Progress {
            stage: &req.stage,
            percent: req.percent,
            message: req.message.as_deref(),
            counts: req.counts.as_ref(),
        };
        let (company, connector) = (&conn.company_id, &conn.connector_id);
        runs::progress(tx, company, connector, &req.sync_run_id, &progress)
    })
    .await
}

#[post("/connector/sync/complete", data = "<body>")]
pub async fn sync_complete(
    state: &State<AppState>,
    conn: ConnectorAuth,
    body: JsonBody<SyncCompleteRequest>,
) -> ApiResult<Json<SyncRunAck>> {
    let req = body.value;
    let id = req.sync_run_id.clone();
    acknowledged(state, id, move |tx| {
        let error = req.error.as_deref();
        let counts = req.counts.as_ref();
        runs::complete(
            tx,
            &conn.company_id,
            &conn.connector_id,
            &req.sync_run_id,
            req.status,
            error,
            counts,
        )
    })
    .await
}

/// Writes what a connector said of its sync run `id`, and acknowledges it.
async fn acknowledged<F>(state: &AppState, id: String, write: F) -> ApiResult<Json<SyncRunAck>>
where
    F: FnOnce(&Transaction<'_>) -> DomainResult<()> + Send + 'static,
{
    state.db.write(write).await?;
    Ok(Json(SyncRunAck {
        ok: true,
        sync_run_id: id,
    }))
}

/// Data joins only a run the calling connector started. Checked before the (possibly large)
/// ingestion; which connector started a run never changes, so no later write can undo it.
async fn require_own_run(state: &AppState, conn: &ConnectorAuth, run_id: &str) -> ApiResult<()> {
    let (company, connector, run) = (
        conn.company_id.clone(),
        conn.connector_id.clone(),
        run_id.to_string(),
    );
    state
        .db
        .read(move |c| runs::require_owner(c, &company, &connector, &run))
        .await?;
    Ok(())
}

#[post("/connector/sync", data = "<body>")]
pub async fn sync(
    state: &State<AppState>,
    conn: ConnectorAuth,
    body: JsonBody<SyncPayload>,
) -> ApiResult<Json<SyncAccepted>> {
    store_sync(state, conn, body).await
}

/// One part of a sync too large for one body (see `ingest::parts`).
#[post("/connector/sync/part", data = "<body>")]
pub async fn sync_part(
    state: &State<AppState>,
    conn: ConnectorAuth,
    body: JsonBody<SyncPart>,
) -> ApiResult<Json<SyncPartAccepted>> {
    store_sync(state, conn, body).await
}

/// How much of a refusal's message the log carries: it may quote what the connector sent.
const REFUSAL_LOGGED_CHARS: usize = 300;

/// What the two sync calls share: a body for one company, stored by its own ingest.
trait SyncBody: Sized + Send + 'static {
    type Accepted;
    /// What the body is, for the log: `sync payload`, `sync part 2`.
    fn label(&self) -> String;
    fn company_id(&self) -> Option<&str>;
    /// The run the body joins, if it names one: only the connector that started it may.
    fn run_id(&self) -> Option<&str>;
    /// What was done with it, for the log.
    fn done(accepted: &Self::Accepted) -> String;
    fn store(self, db: &Db, a: Arrival) -> Storing<'_, Self::Accepted>;
}

/// How a sync call's body came: for which company, from which connector, its size on the
/// wire, and when.
struct Arrival {
    company: String,
    connector: String,
    bytes: usize,
    at: Instant,
}

/// A body being stored.
type Storing<'a, T> = Pin<Box<dyn Future<Output = DomainResult<T>> + Send + 'a>>;

impl SyncBody for SyncPayload {
    type Accepted = SyncAccepted;
    fn label(&self) -> String {
        "sync payload".into()
    }
    fn company_id(&self) -> Option<&str> {
        self.company_id.as_deref()
    }
    fn run_id(&self) -> Option<&str> {
        self.sync_run_id.as_deref()
    }
    fn done(a: &SyncAccepted) -> String {
        stored(a)
    }
    fn store(self, db: &Db, a: Arrival) -> Storing<'_, SyncAccepted> {
        let storing = ingest::ingest(db, a.company, a.connector, self, a.bytes, a.at);
        Box::pin(storing)
    }
}

impl SyncBody for SyncPart {
    type Accepted = SyncPartAccepted;
    fn label(&self) -> String {
        format!("sync part {}", self.part.index)
    }
    fn company_id(&self) -> Option<&str> {
        self.company_id.as_deref()
    }
    fn run_id(&self) -> Option<&str> {
        Some(&self.sync_run_id)
    }
    fn done(a: &SyncPartAccepted) -> String {
        match &a.stored {
            Some(s) => format!("all {} parts in; {}", a.count, stored(s)),
            None => format!("sync part {} of {} received", a.index, a.count),
        }
    }
    fn store(self, db: &Db, a: Arrival) -> Storing<'_, SyncPartAccepted> {
        let storing = ingest::parts::ingest_part(db, a.company, a.connector, self, a.bytes, a.at);
        Box::pin(storing)
    }
}

fn stored(a: &SyncAccepted) -> String {
    format!(
        "stored {} ledgers and {} balances for {} months",
        a.ledgers,
        a.balances,
        a.months.len()
    )
}

/// Stores a sync call's body and says in the log how it went, and how long it took.
async fn store_sync<B: SyncBody>(
    state: &AppState,
    conn: ConnectorAuth,
    body: JsonBody<B>,
) -> ApiResult<Json<B::Accepted>> {
    let at = Instant::now();
    // `_in_flight` holds this body's place in the sync budget until the handler returns.
    let JsonBody {
        value,
        wire_bytes,
        in_flight: _in_flight,
    } = body;
    conn.check_company(value.company_id())?;
    if let Some(run_id) = value.run_id() {
        require_own_run(state, &conn, run_id).await?;
    }
    let (company, label) = (conn.company_id.clone(), value.label());
    let arrival = Arrival {
        company: conn.company_id,
        connector: conn.connector_id,
        bytes: wire_bytes,
        at,
    };
    let result = value
        .store(&state.db, arrival)
        .await
        .map_err(ApiError::from);
    let ms = at.elapsed().as_millis();
    match &result {
        Ok(a) => log::info!("company {company}: {} in {ms} ms", B::done(a)),
        Err(e) => log::warn!(
            "company {company}: {label} refused: {:.REFUSAL_LOGGED_CHARS$}",
            e.message
        ),
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
    set_revoked(state, admin, id, true).await
}

/// Lifts a revocation. Only an admin may, and only this way: enrolling the device again does
/// not. The device then enrols afresh; no token from before the revocation works again.
#[post("/connectors/<id>/restore")]
pub async fn restore(
    state: &State<AppState>,
    admin: AdminUser,
    id: &str,
) -> ApiResult<Json<ConnectorRevoked>> {
    set_revoked(state, admin, id, false).await
}

async fn set_revoked(
    state: &AppState,
    admin: AdminUser,
    id: &str,
    revoked: bool,
) -> ApiResult<Json<ConnectorRevoked>> {
    let target = id.to_string();
    let standing = state
        .db
        .write(move |tx| match revoked {
            true => connectors::revoke(tx, &target),
            false => connectors::restore(tx, &target),
        })
        .await?;
    state.standings.set(id, standing);
    let done = if revoked { "revoked" } else { "restored" };
    log::info!("user {} {done} connector {id}", admin.0.username);
    Ok(Json(ConnectorRevoked {
        connector_id: id.to_string(),
        revoked,
    }))
}
