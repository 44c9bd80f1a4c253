//! Enrolment with a one-time code (`POST /api/connector/enroll`) and the administrator's view
//! of the codes handed out in connector downloads.

use rocket::serde::json::Json;
use rocket::{get, post, State};
use serde_json::{json, Value};

use crate::protocol::{ConnectorTokens, EnrollRequest, EnrollmentCodeView};
use crate::server::auth::tokens::CONNECTOR_TOKEN_TTL_SECS;
use crate::server::body::{BodyLimit, JsonBody};
use crate::server::connectors::standing::Standing;
use crate::server::enrollment;
use crate::server::error::ApiResult;
use crate::server::guards::AdminUser;
use crate::server::state::AppState;

impl BodyLimit for EnrollRequest {}

/// Exchanges an enrolment code for the answer `/api/connector/auth` gives.
#[post("/connector/enroll", data = "<body>")]
pub async fn enroll(
    state: &State<AppState>,
    body: JsonBody<EnrollRequest>,
) -> ApiResult<Json<ConnectorTokens>> {
    let req = body.value;
    enrollment::check_request(&req)?;
    let (enrolled, company_id) = state
        .db
        .write(move |tx| enrollment::redeem(tx, &req))
        .await?;
    // As `/connector/auth`: the new token generation is the only one that works from now on
    // (a revoked device never gets here: `connectors::enrol` refuses it).
    state.standings.set(
        &enrolled.connector_id,
        Standing {
            generation: enrolled.generation,
            revoked: false,
        },
    );
    log::info!(
        "connector {} enrolled for company {company_id} with an enrolment code",
        enrolled.connector_id
    );
    Ok(Json(ConnectorTokens {
        connector_token: state.keys.issue_connector(
            &enrolled.connector_id,
            &company_id,
            enrolled.generation,
        )?,
        expires_in: CONNECTOR_TOKEN_TTL_SECS,
        refresh_token: enrolled.refresh_token,
        connector_id: enrolled.connector_id,
    }))
}

#[get("/enrollment-codes")]
pub async fn list(
    state: &State<AppState>,
    _admin: AdminUser,
) -> ApiResult<Json<Vec<EnrollmentCodeView>>> {
    Ok(Json(state.db.read(enrollment::list).await?))
}

#[post("/enrollment-codes/<id>/revoke")]
pub async fn revoke(state: &State<AppState>, admin: AdminUser, id: i64) -> ApiResult<Json<Value>> {
    state.db.write(move |tx| enrollment::revoke(tx, id)).await?;
    log::info!("user {} revoked enrolment code {id}", admin.0.username);
    Ok(Json(json!({"id": id, "revoked": true})))
}
