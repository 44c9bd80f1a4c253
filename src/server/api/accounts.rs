//! `/api/auth/login`, `/api/companies`, `/api/users`.

use rocket::http::Status;
use rocket::serde::json::Json;
use rocket::{get, post, State};
use serde::{Deserialize, Serialize};

use crate::protocol::{CompanySummary, ErrorDetail, LoginRequest, LoginResponse, UserSummary};
use crate::server::accounts;
use crate::server::auth::passwords::{self, PasswordGate};
use crate::server::auth::tokens::USER_TOKEN_TTL_SECS;
use crate::server::auth::{ClientAddress, Role, UserAuth};
use crate::server::body::{BodyLimit, JsonBody};
use crate::server::error::{ApiError, ApiResult};
use crate::server::state::AppState;

impl BodyLimit for LoginRequest {
    const LIMIT: &'static str = "login";
}

/// Nobody has a longer username or password, so nothing longer is looked up, hashed or counted.
fn check_login_lengths(username: &str, password: &str) -> ApiResult<()> {
    if username.len() > passwords::MAX_USERNAME_BYTES {
        return Err(ApiError::invalid_field(
            "username",
            format!(
                "a username has at most {} bytes",
                passwords::MAX_USERNAME_BYTES
            ),
        ));
    }
    if password.len() > passwords::MAX_PASSWORD_BYTES {
        return Err(ApiError::invalid_field(
            "password",
            format!(
                "a password has at most {} bytes",
                passwords::MAX_PASSWORD_BYTES
            ),
        ));
    }
    Ok(())
}

#[post("/auth/login", data = "<body>")]
pub async fn login(
    state: &State<AppState>,
    gate: &State<PasswordGate>,
    addr: ClientAddress,
    body: JsonBody<LoginRequest>,
) -> ApiResult<Json<LoginResponse>> {
    let LoginRequest { username, password } = body.value;
    check_login_lengths(&username, &password)?;
    // Counted before the password is checked, so concurrent guesses cannot outrun the count.
    let attempt = state.login.begin(&username, addr.0.as_deref()).map_err(|wait| {
        ApiError::too_many(
            format!("Too many failed logins for this user from this address; try again in {wait} s."),
            wait,
        )
    })?;
    let lookup = username.clone();
    let user = state
        .db
        .read(move |c| accounts::find_user(c, &lookup))
        .await?;
    let hash = user
        .as_ref()
        .map(|u| u.password_hash.clone())
        .unwrap_or_else(|| passwords::dummy_hash().to_string());
    let Ok(checked) = gate.verify(password, hash).await else {
        state.login.not_checked(attempt);
        return Err(ApiError::too_many(
            "The appliance is busy checking other logins; try again in a moment.",
            1,
        ));
    };
    let right = checked?;
    match user {
        Some(user) if right => {
            state.login.succeeded(attempt);
            let token = state
                .keys
                .issue_user(user.id, &user.username, user.role.as_str())?;
            Ok(Json(LoginResponse {
                token,
                expires_in: USER_TOKEN_TTL_SECS,
                user: UserSummary {
                    username: user.username,
                    role: user.role.as_str().to_string(),
                },
            }))
        }
        _ => {
            state.login.failed(attempt);
            Err(ApiError::unauthorized(
                "invalid_credentials",
                "The username or password is wrong.",
            ))
        }
    }
}

#[derive(Deserialize)]
pub struct NewCompany {
    pub name: String,
    #[serde(default)]
    pub id: Option<String>,
}
impl BodyLimit for NewCompany {}

#[post("/companies", data = "<body>")]
pub async fn create_company(
    state: &State<AppState>,
    user: UserAuth,
    body: JsonBody<NewCompany>,
) -> ApiResult<(Status, Json<CompanySummary>)> {
    user.require_admin()?;
    let NewCompany { name, id } = body.value;
    let name = name.trim().to_string();
    let mut details = Vec::new();
    if name.is_empty() || name.chars().count() > 200 {
        details.push(ErrorDetail {
            path: "name".into(),
            message: "give the company a name of 1 to 200 characters".into(),
        });
    }
    if let Some(id) = &id {
        if !accounts::valid_company_id(id) {
            details.push(ErrorDetail {
                path: "id".into(),
                message: format!(
                    "`{id}` is not a usable id: use 1 to 64 lowercase letters, digits, `-` or `_`"
                ),
            });
        }
    }
    if !details.is_empty() {
        return Err(ApiError::invalid(
            "The company cannot be created as given.",
            details,
        ));
    }
    let company = state
        .db
        .write(move |tx| accounts::create_company(tx, id.as_deref(), &name))
        .await?;
    Ok((Status::Created, Json(company)))
}

#[get("/companies")]
pub async fn list_companies(
    state: &State<AppState>,
    user: UserAuth,
) -> ApiResult<Json<Vec<CompanySummary>>> {
    Ok(Json(
        state
            .db
            .read(move |c| accounts::list_companies(c, &user))
            .await?,
    ))
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct NewUser {
    pub username: String,
    pub password: String,
    pub role: String,
    #[serde(default)]
    pub company_ids: Vec<String>,
}
impl BodyLimit for NewUser {}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct UserView {
    pub id: i64,
    pub username: String,
    pub role: String,
    pub company_ids: Vec<String>,
}

#[post("/users", data = "<body>")]
pub async fn create_user(
    state: &State<AppState>,
    user: UserAuth,
    body: JsonBody<NewUser>,
) -> ApiResult<(Status, Json<UserView>)> {
    user.require_admin()?;
    let NewUser {
        username,
        password,
        role,
        company_ids,
    } = body.value;
    let mut details = Vec::new();
    if !accounts::valid_username(&username) {
        details.push(ErrorDetail {
            path: "username".into(),
            message: "use 1 to 64 letters, digits, `.`, `_`, `-` or `@`".into(),
        });
    }
    if let Err(e) = passwords::check_strength(&password) {
        details.push(ErrorDetail {
            path: "password".into(),
            message: e,
        });
    }
    let parsed_role = Role::parse(&role);
    if parsed_role.is_none() {
        details.push(ErrorDetail {
            path: "role".into(),
            message: format!("`{role}` is not a role; use `admin` or `staff`"),
        });
    }
    let ids = company_ids.clone();
    let unknown: Vec<(usize, String)> = state
        .db
        .read(move |c| {
            let mut out = Vec::new();
            for (i, id) in ids.into_iter().enumerate() {
                if !accounts::company_exists(c, &id)? {
                    out.push((i, id));
                }
            }
            Ok(out)
        })
        .await?;
    for (i, id) in unknown {
        details.push(ErrorDetail {
            path: format!("companyIds[{i}]"),
            message: format!("there is no company `{id}`"),
        });
    }
    let Some(role) = parsed_role.filter(|_| details.is_empty()) else {
        return Err(ApiError::invalid(
            "The user cannot be created as given.",
            details,
        ));
    };
    let hash = tokio::task::spawn_blocking(move || passwords::hash(&password))
        .await
        .map_err(|e| ApiError::internal("password hashing", e))??;
    let (name, ids) = (username.clone(), company_ids.clone());
    let id = state
        .db
        .write(move |tx| {
            // Companies are checked again inside the transaction; one may have gone meanwhile.
            for (i, company) in ids.iter().enumerate() {
                if !accounts::company_exists(tx, company)? {
                    return Err(ApiError::invalid_field(
                        &format!("companyIds[{i}]"),
                        format!("there is no company `{company}`"),
                    ));
                }
            }
            accounts::create_user(tx, &name, &hash, role, &ids)
        })
        .await?;
    Ok((
        Status::Created,
        Json(UserView {
            id,
            username,
            role: role.as_str().to_string(),
            company_ids,
        }),
    ))
}

#[get("/users")]
pub async fn list_users(state: &State<AppState>, user: UserAuth) -> ApiResult<Json<Vec<UserView>>> {
    user.require_admin()?;
    let users = state.db.read(accounts::list_users).await?;
    Ok(Json(
        users
            .into_iter()
            .map(|u| UserView {
                id: u.id,
                username: u.username,
                role: u.role,
                company_ids: u.company_ids,
            })
            .collect(),
    ))
}
