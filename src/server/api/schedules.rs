//! Sync schedules (firm-wide and per company, admin) and "sync now" requests (anyone who may
//! see the company). The heartbeat's answer carries both (`connector.rs`).

use rocket::http::Status;
use rocket::serde::json::Json;
use rocket::{delete, get, post, put, State};
use rusqlite::Connection;

use crate::protocol::{NewSyncRequest, ScheduleSetting, SyncRequestView, SyncSchedule};
use crate::server::body::{BodyLimit, JsonBody};
use crate::server::companies;
use crate::server::domain_error::{DomainError, DomainResult};
use crate::server::error::ApiResult;
use crate::server::guards::{AdminUser, CompanyAccess};
use crate::server::schedules::{requests, store};
use crate::server::state::AppState;

impl BodyLimit for SyncSchedule {}
impl BodyLimit for NewSyncRequest {}

fn company_exists(c: &Connection, id: &str) -> DomainResult<()> {
    if companies::exists(c, id)? {
        Ok(())
    } else {
        Err(DomainError::not_found(
            "company_not_found",
            format!("There is no company `{id}`."),
        ))
    }
}

#[get("/settings/sync-schedule")]
pub async fn get_firm(
    state: &State<AppState>,
    _admin: AdminUser,
) -> ApiResult<Json<ScheduleSetting>> {
    let firm = state.db.read(store::firm).await?;
    Ok(Json(store::in_force(None, firm)))
}

#[put("/settings/sync-schedule", data = "<body>")]
pub async fn put_firm(
    state: &State<AppState>,
    admin: AdminUser,
    body: JsonBody<SyncSchedule>,
) -> ApiResult<Json<ScheduleSetting>> {
    let schedule = body.value;
    store::check(&schedule)?;
    let (stored, user) = (schedule.clone(), admin.0.id);
    state
        .db
        .write(move |tx| store::set_firm(tx, &stored, user))
        .await?;
    state.schedules.forget_firm();
    log::info!("user {} set the firm-wide sync schedule", admin.0.username);
    Ok(Json(store::in_force(None, Some(schedule))))
}

#[get("/companies/<id>/sync-schedule")]
pub async fn get_company(
    state: &State<AppState>,
    _admin: AdminUser,
    id: &str,
) -> ApiResult<Json<ScheduleSetting>> {
    let company = id.to_string();
    let setting = state
        .db
        .read(move |c| {
            company_exists(c, &company)?;
            store::setting(c, &company)
        })
        .await?;
    Ok(Json(setting))
}

#[put("/companies/<id>/sync-schedule", data = "<body>")]
pub async fn put_company(
    state: &State<AppState>,
    admin: AdminUser,
    id: &str,
    body: JsonBody<SyncSchedule>,
) -> ApiResult<Json<ScheduleSetting>> {
    let (company, user, schedule) = (id.to_string(), admin.0.id, body.value);
    let setting = state
        .db
        .write(move |tx| {
            company_exists(tx, &company)?;
            store::check(&schedule)?;
            store::set_own(tx, &company, &schedule, user)?;
            store::setting(tx, &company)
        })
        .await?;
    state.schedules.forget(id);
    log::info!("user {} set company {id}'s sync schedule", admin.0.username);
    Ok(Json(setting))
}

/// The company follows the firm-wide schedule again.
#[delete("/companies/<id>/sync-schedule")]
pub async fn delete_company(
    state: &State<AppState>,
    admin: AdminUser,
    id: &str,
) -> ApiResult<Json<ScheduleSetting>> {
    let company = id.to_string();
    let setting = state
        .db
        .write(move |tx| {
            company_exists(tx, &company)?;
            store::clear_own(tx, &company)?;
            store::setting(tx, &company)
        })
        .await?;
    state.schedules.forget(id);
    log::info!(
        "user {} removed company {id}'s own sync schedule",
        admin.0.username
    );
    Ok(Json(setting))
}

/// "Sync now": 201 with a new pending request, or 200 with the one already pending; 429 when
/// the company's Tally was read on request too recently (`schedules::brake`).
#[post("/companies/<_id>/sync-requests", data = "<body>")]
pub async fn ask(
    state: &State<AppState>,
    access: CompanyAccess,
    _id: &str,
    body: JsonBody<NewSyncRequest>,
) -> ApiResult<(Status, Json<SyncRequestView>)> {
    let (company, full) = (access.company_id.clone(), body.value.full);
    let by = requests::Asker {
        user_id: access.user.id,
        admin: access.user.is_admin(),
    };
    let (request, created) = state
        .db
        .write(move |tx| requests::ask(tx, &company, full, by))
        .await?;
    state.schedules.forget(&access.company_id);
    if created {
        log::info!(
            "user {} asked for a sync of company {} now",
            access.user.username,
            access.company_id
        );
    }
    let status = if created { Status::Created } else { Status::Ok };
    Ok((status, Json(request)))
}
