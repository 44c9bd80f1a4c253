//! `/api/companies/<id>/snapshots` and a month's trial balance, as JSON or CSV.

use rocket::request::{FromRequest, Outcome, Request};
use rocket::serde::json::Json;
use rocket::{get, State};

use super::reports::{month_key, Report};
use crate::protocol::{SnapshotSummary, TrialBalance};
use crate::server::error::{ApiError, ApiResult};
use crate::server::guards::CompanyAccess;
use crate::server::snapshots;
use crate::server::state::AppState;

// CompanyAccess reads and checks the company in the path; Rocket still wants every path
// parameter to be an argument, hence the unused `_id`.
#[get("/companies/<_id>/snapshots")]
pub async fn list(
    state: &State<AppState>,
    access: CompanyAccess,
    _id: &str,
) -> ApiResult<Json<Vec<SnapshotSummary>>> {
    let company = access.company_id;
    let months = state.db.read(move |c| snapshots::list(c, &company)).await?;
    Ok(Json(months))
}

/// Whether the client asked for CSV with `Accept: text/csv`.
pub struct WantsCsv(bool);

#[rocket::async_trait]
impl<'r> FromRequest<'r> for WantsCsv {
    type Error = ();

    async fn from_request(req: &'r Request<'_>) -> Outcome<Self, ()> {
        let csv = req
            .headers()
            .get("Accept")
            .any(|v| v.split(',').any(|t| t.trim().starts_with("text/csv")));
        Outcome::Success(WantsCsv(csv))
    }
}

/// CSV or JSON: `?format=` wins over `Accept`.
fn wants_csv(format: Option<&str>, accept: WantsCsv) -> ApiResult<bool> {
    match format {
        None => Ok(accept.0),
        Some("csv") => Ok(true),
        Some("json") => Ok(false),
        Some(other) => Err(ApiError::invalid_field(
            "format",
            format!("`{other}` is not a format; use `json` or `csv`"),
        )),
    }
}

#[get("/companies/<_id>/snapshots/<month>?<format>")]
pub async fn month(
    state: &State<AppState>,
    access: CompanyAccess,
    accept: WantsCsv,
    _id: &str,
    month: &str,
    format: Option<&str>,
) -> ApiResult<Report<TrialBalance>> {
    let csv = wants_csv(format, accept)?;
    let key = month_key(month)?;
    let company = access.company_id;
    let file_name = format!("{company}-trial-balance-{key}.csv");
    let tb = state
        .db
        .read(move |c| snapshots::trial_balance(c, &company, key))
        .await?;
    Ok(if csv {
        Report::Csv {
            file_name,
            body: snapshots::to_csv(&tb),
        }
    } else {
        Report::Json(Json(tb))
    })
}
