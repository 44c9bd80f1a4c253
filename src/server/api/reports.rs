//! `/api/companies/<id>/reports/<YYYY-MM>/...`: a month's books as reports, as JSON or, with
//! `?format=csv`, CSV; with `?compare=previous|year` beside another month. Also a ledger's or
//! group's series over the months held, and the company's restated closed months.

use std::io::Cursor;

use rocket::http::{ContentType, Header};
use rocket::request::Request;
use rocket::response::{self, Responder, Response};
use rocket::serde::json::Json;
use rocket::{get, State};
use rusqlite::Connection;
use serde::Serialize;

use crate::protocol::calendar::BadMonthKey;
use crate::protocol::{
    BalanceSheet, MonthKey, ProfitAndLoss, Restatements, Series, TrialBalanceTree,
};
use crate::server::domain_error::DomainResult;
use crate::server::error::{ApiError, ApiResult};
use crate::server::guards::CompanyAccess;
use crate::server::reports::compare::{self, Against};
use crate::server::reports::series::{self as series_of, Subject};
use crate::server::reports::{csv, profit_loss, trial_balance};
use crate::server::restatements as restated;
use crate::server::state::AppState;

/// The month in a report's path (`YYYY-MM`); the snapshots' month uses it too.
pub(super) fn month_key(month: &str) -> ApiResult<MonthKey> {
    month
        .parse()
        .map_err(|e: BadMonthKey| ApiError::invalid_field("month", e.to_string()))
}

fn against(compare: Option<&str>) -> ApiResult<Option<Against>> {
    compare
        .map(|c| {
            c.parse()
                .map_err(|e: String| ApiError::invalid_field("compare", e))
        })
        .transpose()
}

/// `?format=csv` or `?format=json` (the default).
fn wants_csv(format: Option<&str>) -> ApiResult<bool> {
    match format {
        None | Some("json") => Ok(false),
        Some("csv") => Ok(true),
        Some(other) => Err(ApiError::invalid_field(
            "format",
            format!("`{other}` is not a format; use `json` or `csv`"),
        )),
    }
}

/// A CSV's file name and the function writing a report as CSV.
type CsvFile<T> = (String, fn(&T) -> String);

/// A report as JSON, or as a CSV file to download (a month's snapshot too).
pub enum Report<T> {
    Json(Json<T>),
    Csv { file_name: String, body: String },
}

impl<T> Report<T> {
    fn new(report: T, csv: Option<CsvFile<T>>) -> Self {
        match csv {
            Some((file_name, write)) => Report::Csv {
                body: write(&report),
                file_name,
            },
            None => Report::Json(Json(report)),
        }
    }
}

impl<'r, T: Serialize> Responder<'r, 'static> for Report<T> {
    fn respond_to(self, req: &'r Request<'_>) -> response::Result<'static> {
        match self {
            Report::Json(j) => j.respond_to(req),
            Report::Csv { file_name, body } => Response::build()
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

/// What the three month reports differ in: the name their CSV file carries, how it is written,
/// and how the month is read alone or beside another.
struct MonthReport<T> {
    name: &'static str,
    write_csv: fn(&T) -> String,
    read: fn(&Connection, &str, MonthKey) -> DomainResult<T>,
    read_compared: fn(&Connection, &str, MonthKey, Against) -> DomainResult<T>,
}

const TRIAL_BALANCE: MonthReport<TrialBalanceTree> = MonthReport {
    name: "trial-balance",
    write_csv: csv::trial_balance,
    read: trial_balance::trial_balance_tree,
    read_compared: compare::trial_balance_tree,
};

const PROFIT_AND_LOSS: MonthReport<ProfitAndLoss> = MonthReport {
    name: "profit-and-loss",
    write_csv: csv::profit_and_loss,
    read: profit_loss::profit_and_loss,
    read_compared: profit_loss::profit_and_loss_compared,
};

const BALANCE_SHEET: MonthReport<BalanceSheet> = MonthReport {
    name: "balance-sheet",
    write_csv: csv::balance_sheet,
    read: profit_loss::balance_sheet,
    read_compared: profit_loss::balance_sheet_compared,
};

/// A month report as the routes answer it. The month, `?compare=` and `?format=` are all
/// checked before anything is read, so a bad one is refused the same way for every report.
async fn month_report<T: Send + 'static>(
    state: &AppState,
    company: String,
    (month, compare, format): (&str, Option<&str>, Option<&str>),
    report: MonthReport<T>,
) -> ApiResult<Report<T>> {
    let (key, against, csv) = (month_key(month)?, against(compare)?, wants_csv(format)?);
    let file = csv.then(|| {
        let name = format!("{company}-{}-{key}.csv", report.name);
        (name, report.write_csv)
    });
    let MonthReport {
        read,
        read_compared,
        ..
    } = report;
    let body = state
        .db
        .read(move |c| match against {
            Some(a) => read_compared(c, &company, key, a),
            None => read(c, &company, key),
        })
        .await?;
    Ok(Report::new(body, file))
}

// CompanyAccess reads and checks the company in the path; `_id` is only there for Rocket.
#[get("/companies/<_id>/reports/<month>/trial-balance?<compare>&<format>")]
pub async fn trial_balance_tree(
    state: &State<AppState>,
    access: CompanyAccess,
    _id: &str,
    month: &str,
    compare: Option<&str>,
    format: Option<&str>,
) -> ApiResult<Report<TrialBalanceTree>> {
    let query = (month, compare, format);
    month_report(state, access.company_id, query, TRIAL_BALANCE).await
}

#[get("/companies/<_id>/reports/<month>/profit-and-loss?<compare>&<format>")]
pub async fn profit_and_loss(
    state: &State<AppState>,
    access: CompanyAccess,
    _id: &str,
    month: &str,
    compare: Option<&str>,
    format: Option<&str>,
) -> ApiResult<Report<ProfitAndLoss>> {
    let query = (month, compare, format);
    month_report(state, access.company_id, query, PROFIT_AND_LOSS).await
}

#[get("/companies/<_id>/reports/<month>/balance-sheet?<compare>&<format>")]
pub async fn balance_sheet(
    state: &State<AppState>,
    access: CompanyAccess,
    _id: &str,
    month: &str,
    compare: Option<&str>,
    format: Option<&str>,
) -> ApiResult<Report<BalanceSheet>> {
    let query = (month, compare, format);
    month_report(state, access.company_id, query, BALANCE_SHEET).await
}

fn subject(ledger: Option<&str>, group: Option<&str>) -> ApiResult<Subject> {
    let name = |n: &str| n.trim().to_string();
    match (ledger, group) {
        (Some(l), None) if !l.trim().is_empty() => Ok(Subject::Ledger(name(l))),
        (None, Some(g)) if !g.trim().is_empty() => Ok(Subject::Group(name(g))),
        _ => Err(ApiError::invalid_field(
            "ledger",
            "name one ledger (`?ledger=NAME`) or one group (`?group=NAME`)",
        )),
    }
}

#[get("/companies/<_id>/series?<ledger>&<group>")]
pub async fn series(
    state: &State<AppState>,
    access: CompanyAccess,
    _id: &str,
    ledger: Option<&str>,
    group: Option<&str>,
) -> ApiResult<Json<Series>> {
    let subject = subject(ledger, group)?;
    let company = access.company_id;
    let series = state
        .db
        .read(move |c| series_of::series(c, &company, &subject))
        .await?;
    Ok(Json(series))
}

#[get("/companies/<_id>/restatements?<limit>&<before>")]
pub async fn restatements(
    state: &State<AppState>,
    access: CompanyAccess,
    _id: &str,
    limit: Option<&str>,
    before: Option<&str>,
) -> ApiResult<Json<Restatements>> {
    let limit = page_size(limit)?;
    let before = before
        .map(|b| {
            restated::Cursor::parse(b).ok_or_else(|| {
                ApiError::invalid_field("before", "use the nextBefore of the previous page")
            })
        })
        .transpose()?;
    let company = access.company_id;
    let list = state
        .db
        .read(move |c| {
            let (restatements, next_before) = restated::page(c, &company, limit, before.as_ref())?;
            Ok(Restatements {
                company_id: company,
                restatements,
                next_before,
            })
        })
        .await?;
    Ok(Json(list))
}

/// `limit=`: 1 to `MAX_PAGE` restatements, `DEFAULT_PAGE` when not given.
fn page_size(limit: Option<&str>) -> ApiResult<usize> {
    let Some(text) = limit else {
        return Ok(restated::DEFAULT_PAGE);
    };
    match text.parse::<usize>() {
        Ok(n) if (1..=restated::MAX_PAGE).contains(&n) => Ok(n),
        _ => Err(ApiError::invalid_field(
            "limit",
            format!("a whole number from 1 to {}", restated::MAX_PAGE),
        )),
    }
}
