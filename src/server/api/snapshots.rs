//! `/api/companies/<id>/snapshots` and a month's trial balance, as JSON or CSV.

use std::io::Cursor;

use rocket::http::{ContentType, Header};
use rocket::request::{FromRequest, Outcome, Request};
use rocket::response::{self, Responder, Response};
use rocket::serde::json::Json;
use rocket::{get, State};

use crate::protocol::MonthKey;
use crate::server::auth::UserAuth;
use crate::server::error::{ApiError, ApiResult};
use crate::server::state::AppState;
use crate::server::{accounts, snapshots};

#[get("/companies/<id>/snapshots")]
pub async fn list(
    state: &State<AppState>,
    user: UserAuth,
    id: String,
) -> ApiResult<Json<Vec<snapshots::SnapshotSummary>>> {
    let months = state
        .db
        .read(move |c| {
            accounts::ensure_can_see(c, &user, &id)?;
            snapshots::list(c, &id)
        })
        .await?;
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

pub enum TrialBalanceResponse {
    Json(Json<snapshots::TrialBalance>),
    Csv { file_name: String, body: String },
}

impl<'r> Responder<'r, 'static> for TrialBalanceResponse {
    fn respond_to(self, req: &'r Request<'_>) -> response::Result<'static> {
        match self {
            TrialBalanceResponse::Json(j) => j.respond_to(req),
            TrialBalanceResponse::Csv { file_name, body } => Response::build()
                .header(ContentType::new("text", "csv").with_params(("charset", "utf-8")))
                .header(Header::new(
                    "Content-Disposition",
                    format!("attachment; filename=\"{file_name}\""),
                ))
                .sized_body(body.len(), Cursor::new(body))
                .ok(),
        }
    }
}

#[get("/companies/<id>/snapshots/<month>?<format>")]
pub async fn month(
    state: &State<AppState>,
    user: UserAuth,
    accept: WantsCsv,
    id: String,
    month: String,
    format: Option<String>,
) -> ApiResult<TrialBalanceResponse> {
    let csv = match format.as_deref() {
        None => accept.0,
        Some("csv") => true,
        Some("json") => false,
        Some(other) => {
            return Err(ApiError::invalid_field(
                "format",
                format!("`{other}` is not a format; use `json` or `csv`"),
            ))
        }
    };
    let key: MonthKey = month
        .parse()
        .map_err(|e: crate::protocol::calendar::BadMonthKey| {
            ApiError::invalid_field("month", e.to_string())
        })?;
    let company = id.clone();
    let tb = state
        .db
        .read(move |c| {
            accounts::ensure_can_see(c, &user, &company)?;
            snapshots::trial_balance(c, &company, key)
        })
        .await?;
    if csv {
        Ok(TrialBalanceResponse::Csv {
            file_name: format!("{id}-trial-balance-{key}.csv"),
            body: snapshots::to_csv(&tb),
        })
    } else {
        Ok(TrialBalanceResponse::Json(Json(tb)))
    }
}
