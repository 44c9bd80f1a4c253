//! `/api/auth/login`, `/api/companies`, `/api/users` and what an administrator does to a user.

use rocket::http::Status;
use rocket::serde::json::Json;
use rocket::{get, post, put, State};
use serde::Deserialize;

use crate::protocol::{
    CompanySummary, LoginRequest, LoginResponse, NewCompany, NewUser, PasswordReset, UserSummary,
    UserView,
};
use crate::server::accounts::{self, LoginChecks, User};
use crate::server::auth::passwords::PasswordGate;
use crate::server::auth::tokens::USER_TOKEN_TTL_SECS;
use crate::server::body::{BodyLimit, JsonBody};
use crate::server::companies;
use crate::server::error::ApiResult;
use crate::server::guards::{AdminUser, ClientAddress};
use crate::server::state::AppState;

/// Its own small limit: a megabyte username is never even read.
impl BodyLimit for LoginRequest {
    const LIMIT: &'static str = "login";
}
impl BodyLimit for NewCompany {}
impl BodyLimit for NewUser {}
impl BodyLimit for NewPassword {}
impl BodyLimit for UserCompanies {}

/// `PUT /api/users/<id>/password`: the password an administrator sets.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct NewPassword {
    pub password: String,
}

/// `PUT /api/users/<id>/companies`: every company the staff user may see, replacing the old.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct UserCompanies {
    pub company_ids: Vec<String>,
}

#[post("/auth/login", data = "<body>")]
pub async fn login(
    state: &State<AppState>,
    gate: &State<PasswordGate>,
    addr: ClientAddress,
    body: JsonBody<LoginRequest>,
) -> ApiResult<Json<LoginResponse>> {
    let LoginRequest { username, password } = body.value;
    let checks = LoginChecks {
        db: &state.db,
        throttle: &state.login,
        gate,
    };
    let user = accounts::authenticate(checks, &username, password, addr.0.as_deref()).await?;
    let token =
        state
            .keys
            .issue_user(user.id, &user.username, user.role.as_str(), user.generation)?;
    Ok(Json(LoginResponse {
        token,
        expires_in: USER_TOKEN_TTL_SECS,
        user: UserSummary {
            username: user.username,
            role: user.role.as_str().to_string(),
        },
    }))
}

#[post("/companies", data = "<body>")]
pub async fn create_company(
    state: &State<AppState>,
    _admin: AdminUser,
    body: JsonBody<NewCompany>,
) -> ApiResult<(Status, Json<CompanySummary>)> {
    let new = body.value;
    let company = state
        .db
        .write(move |tx| companies::create(tx, &new))
        .await?;
    Ok((Status::Created, Json(company)))
}

#[get("/companies")]
pub async fn list_companies(
    state: &State<AppState>,
    user: User,
) -> ApiResult<Json<Vec<CompanySummary>>> {
    let visible = state
        .db
        .read(move |c| accounts::visible_companies(c, &user))
        .await?;
    Ok(Json(visible))
}

#[post("/users", data = "<body>")]
pub async fn create_user(
    state: &State<AppState>,
    _admin: AdminUser,
    body: JsonBody<NewUser>,
) -> ApiResult<(Status, Json<UserView>)> {
    let user = accounts::create_user(&state.db, body.value).await?;
    Ok((Status::Created, Json(user)))
}

#[get("/users")]
pub async fn list_users(
    state: &State<AppState>,
    _admin: AdminUser,
) -> ApiResult<Json<Vec<UserView>>> {
    Ok(Json(state.db.read(accounts::list_users).await?))
}

#[post("/users/<id>/disable")]
pub async fn disable_user(
    state: &State<AppState>,
    admin: AdminUser,
    id: i64,
) -> ApiResult<Json<UserView>> {
    set_disabled(state, admin, id, true).await
}

#[post("/users/<id>/enable")]
pub async fn enable_user(
    state: &State<AppState>,
    admin: AdminUser,
    id: i64,
) -> ApiResult<Json<UserView>> {
    set_disabled(state, admin, id, false).await
}

/// Disabling and enabling differ only in the flag; both are logged with who did it.
async fn set_disabled(
    state: &AppState,
    admin: AdminUser,
    id: i64,
    disabled: bool,
) -> ApiResult<Json<UserView>> {
    let user = state
        .db
        .write(move |tx| accounts::set_disabled(tx, id, disabled))
        .await?;
    let done = if disabled { "disabled" } else { "enabled" };
    log::info!("user {} {done} user {}", admin.0.username, user.username);
    Ok(Json(user))
}

#[put("/users/<id>/password", data = "<body>")]
pub async fn reset_password(
    state: &State<AppState>,
    admin: AdminUser,
    id: i64,
    body: JsonBody<NewPassword>,
) -> ApiResult<Json<PasswordReset>> {
    let reset = accounts::reset_password(&state.db, id, body.value.password).await?;
    log::info!(
        "user {} reset the password of user {}",
        admin.0.username,
        reset.user.username
    );
    Ok(Json(reset))
}

#[put("/users/<id>/companies", data = "<body>")]
pub async fn set_companies(
    state: &State<AppState>,
    admin: AdminUser,
    id: i64,
    body: JsonBody<UserCompanies>,
) -> ApiResult<Json<UserView>> {
    let ids = body.value.company_ids;
    let user = state
        .db
        .write(move |tx| accounts::set_companies(tx, id, &ids))
        .await?;
    log::info!(
        "user {} gave user {} the companies {:?}",
        admin.0.username,
        user.username,
        user.company_ids
    );
    Ok(Json(user))
}
