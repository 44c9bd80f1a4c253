//! `GET /api/companies/<id>/sync-runs[/<runId>]`: a company's recent sync runs, and one run with
//! its events and ingestion log, for the company page.

use rocket::serde::json::Json;
use rocket::{get, State};

use crate::protocol::RunView;
use crate::server::error::{ApiError, ApiResult};
use crate::server::guards::CompanyAccess;
use crate::server::runs::{self, RunDetail};
use crate::server::state::AppState;

const MAX_RUNS: u32 = 200;

#[get("/companies/<_id>/sync-runs?<limit>")]
pub async fn recent(
    state: &State<AppState>,
    access: CompanyAccess,
    _id: &str,
    limit: Option<u32>,
) -> ApiResult<Json<Vec<RunView>>> {
    let limit = limit.unwrap_or(20);
    if !(1..=MAX_RUNS).contains(&limit) {
        return Err(ApiError::invalid_field(
            "limit",
            format!("`{limit}` runs is not between 1 and {MAX_RUNS}"),
        ));
    }
    let company = access.company_id;
    let list = state
        .db
        .read(move |c| runs::recent(c, &company, limit))
        .await?;
    Ok(Json(list))
}

#[get("/companies/<_id>/sync-runs/<run_id>")]
pub async fn detail(
    state: &State<AppState>,
    access: CompanyAccess,
    _id: &str,
    run_id: &str,
) -> ApiResult<Json<RunDetail>> {
    let (company, run) = (access.company_id, run_id.to_string());
    let detail = state
        .db
        .read(move |c| runs::detail(c, &company, &run))
        .await?;
    Ok(Json(detail))
}
