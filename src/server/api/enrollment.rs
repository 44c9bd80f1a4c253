//! Enrolment with a one-time code (`POST /api/connector/enroll`) and the administrator's view
//! of the codes handed out in connector downloads.

use rocket::serde::json::Json;
use rocket::{get, post, State};
use serde_json::{json, Value};

use crate::protocol::{ConnectorTokens, EnrollRequest, EnrollmentCodeView};
use crate::server::body::{BodyLimit, JsonBody};
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
    log::info!(
        "connector {} enrolled for company {company_id} with an enrolment code",
        enrolled.connector_id
    );
    // A revoked device never gets here: `connectors::enrol` refuses it.
    super::connector::enrolled_answer(state, enrolled, &company_id)
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
