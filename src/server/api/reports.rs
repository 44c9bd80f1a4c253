//! `/api/companies/<id>/reports/<YYYY-MM>/...`: a month's books as reports.

use rocket::serde::json::Json;
use rocket::{get, State};

use crate::protocol::calendar::BadMonthKey;
use crate::protocol::{BalanceSheet, MonthKey, ProfitAndLoss, TrialBalanceTree};
use crate::server::error::{ApiError, ApiResult};
use crate::server::guards::CompanyAccess;
use crate::server::reports::{profit_loss, trial_balance};
use crate::server::state::AppState;

fn month_key(month: &str) -> ApiResult<MonthKey> {
    month
        .parse()
        .map_err(|e: BadMonthKey| ApiError::invalid_field("month", e.to_string()))
}

// CompanyAccess reads and checks the company in the path; `_id` is only there for Rocket.
#[get("/companies/<_id>/reports/<month>/trial-balance")]
pub async fn trial_balance_tree(
    state: &State<AppState>,
    access: CompanyAccess,
    _id: &str,
    month: &str,
) -> ApiResult<Json<TrialBalanceTree>> {
    let key = month_key(month)?;
    let company = access.company_id;
    let tree = state
        .db
        .read(move |c| trial_balance::trial_balance_tree(c, &company, key))
        .await?;
    Ok(Json(tree))
}

#[get("/companies/<_id>/reports/<month>/profit-and-loss")]
pub async fn profit_and_loss(
    state: &State<AppState>,
    access: CompanyAccess,
    _id: &str,
    month: &str,
) -> ApiResult<Json<ProfitAndLoss>> {
    let key = month_key(month)?;
    let company = access.company_id;
    let report = state
        .db
        .read(move |c| profit_loss::profit_and_loss(c, &company, key))
        .await?;
    Ok(Json(report))
}

#[get("/companies/<_id>/reports/<month>/balance-sheet")]
pub async fn balance_sheet(
    state: &State<AppState>,
    access: CompanyAccess,
    _id: &str,
    month: &str,
) -> ApiResult<Json<BalanceSheet>> {
    let key = month_key(month)?;
    let company = access.company_id;
    let report = state
        .db
        .read(move |c| profit_loss::balance_sheet(c, &company, key))
        .await?;
    Ok(Json(report))
}
