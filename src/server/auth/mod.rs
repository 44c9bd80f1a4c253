//! Who is calling: request guards for users (user JWT) and connectors (connector token).

pub mod passwords;
pub mod throttle;
pub mod tokens;

use std::collections::HashSet;
use std::sync::RwLock;

use rocket::outcome::Outcome;
use rocket::request::{self, FromRequest, Request};

use super::error::{park, ApiError, ApiResult};
use super::listener::PeerMap;
use super::state::AppState;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    Admin,
    Staff,
}

impl Role {
    pub fn parse(s: &str) -> Option<Role> {
        match s {
            "admin" => Some(Role::Admin),
            "staff" => Some(Role::Staff),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Role::Admin => "admin",
            Role::Staff => "staff",
        }
    }
}

/// A signed-in person (user JWT).
#[derive(Debug, Clone)]
pub struct UserAuth {
    pub id: i64,
    pub username: String,
    pub role: Role,
}

impl UserAuth {
    pub fn require_admin(&self) -> ApiResult<()> {
        if self.role == Role::Admin {
            Ok(())
        } else {
            Err(ApiError::forbidden(
                "admin_only",
                "Only an administrator may do this.",
            ))
        }
    }
}

/// An enrolled connector (connector token), bound to one company.
#[derive(Debug, Clone)]
pub struct ConnectorAuth {
    pub connector_id: String,
    pub company_id: String,
}

impl ConnectorAuth {
    /// A body that names a company must name this connector's own.
    pub fn check_company(&self, company_id: Option<&str>) -> ApiResult<()> {
        match company_id {
            Some(c) if c != self.company_id => Err(ApiError::forbidden(
                "wrong_company",
                format!(
                    "This connector is enrolled for company `{}`, not `{c}`.",
                    self.company_id
                ),
            )),
            _ => Ok(()),
        }
    }
}

/// Connectors an admin revoked, kept in memory so the hot connector endpoints need no
/// database read to refuse them.
#[derive(Default)]
pub struct RevokedConnectors(RwLock<HashSet<String>>);

impl RevokedConnectors {
    pub fn new(ids: impl IntoIterator<Item = String>) -> Self {
        RevokedConnectors(RwLock::new(ids.into_iter().collect()))
    }

    pub fn contains(&self, id: &str) -> bool {
        self.0
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .contains(id)
    }

    pub fn insert(&self, id: &str) {
        self.0
            .write()
            .unwrap_or_else(|p| p.into_inner())
            .insert(id.to_string());
    }

    pub fn remove(&self, id: &str) {
        self.0.write().unwrap_or_else(|p| p.into_inner()).remove(id);
    }
}

pub fn bearer<'r>(req: &'r Request<'_>) -> ApiResult<&'r str> {
    let header = req.headers().get_one("Authorization").ok_or_else(|| {
        ApiError::unauthorized(
            "missing_token",
            "Send `Authorization: Bearer <token>` with this request.",
        )
    })?;
    let token = header
        .strip_prefix("Bearer ")
        .or_else(|| header.strip_prefix("bearer "))
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .ok_or_else(|| {
            ApiError::unauthorized(
                "missing_token",
                "The Authorization header must be `Bearer <token>`.",
            )
        })?;
    Ok(token)
}

fn state<'r>(req: &'r Request<'_>) -> ApiResult<&'r AppState> {
    req.rocket()
        .state::<AppState>()
        .ok_or_else(|| ApiError::internal("request guard", "application state is not managed"))
}

fn finish<T>(req: &Request<'_>, result: ApiResult<T>) -> request::Outcome<T, ()> {
    match result {
        Ok(v) => Outcome::Success(v),
        Err(e) => Outcome::Error((park(req, e), ())),
    }
}

impl UserAuth {
    async fn from_request_inner(req: &Request<'_>) -> ApiResult<UserAuth> {
        let state = state(req)?;
        let claims = state.keys.verify_user(bearer(req)?)?;
        let id = claims.sub;
        state
            .db
            .read(move |c| super::accounts::user_by_id(c, id))
            .await?
            .ok_or_else(|| {
                ApiError::unauthorized(
                    "user_gone",
                    "The account this token was issued to no longer exists.",
                )
            })
    }
}

#[rocket::async_trait]
impl<'r> FromRequest<'r> for UserAuth {
    type Error = ();

    async fn from_request(req: &'r Request<'_>) -> request::Outcome<Self, ()> {
        let result = UserAuth::from_request_inner(req).await;
        finish(req, result)
    }
}

#[rocket::async_trait]
impl<'r> FromRequest<'r> for ConnectorAuth {
    type Error = ();

    async fn from_request(req: &'r Request<'_>) -> request::Outcome<Self, ()> {
        let result = (|| {
            let state = state(req)?;
            let claims = state.keys.verify_connector(bearer(req)?)?;
            if state.revoked.contains(&claims.sub) {
                return Err(ApiError::unauthorized(
                    "connector_revoked",
                    "An administrator revoked this connector; run the connector's setup again.",
                ));
            }
            state.limiter.check(&claims.sub).map_err(|wait| {
                ApiError::too_many(
                    format!("This connector is sending too many requests; wait {wait} s."),
                    wait,
                )
            })?;
            Ok(ConnectorAuth {
                connector_id: claims.sub,
                company_id: claims.cid,
            })
        })();
        finish(req, result)
    }
}

/// The caller's address, for login throttling: the peer's, or the forwarded one when the peer
/// is a proxy named in `trusted_proxies`.
pub struct ClientAddress(pub Option<String>);

#[rocket::async_trait]
impl<'r> FromRequest<'r> for ClientAddress {
    type Error = ();

    async fn from_request(req: &'r Request<'_>) -> request::Outcome<Self, ()> {
        // Behind the listener front every peer is a loopback connection; it knows the client.
        let front = req.rocket().state::<PeerMap>();
        let peer = req
            .remote()
            .map(|r| front.and_then(|f| f.client_of(r)).unwrap_or(r).ip());
        let trusted = match (peer, state(req)) {
            (Some(p), Ok(s)) => s.cfg.trusted_proxy_list.contains(&p.to_canonical()),
            _ => false,
        };
        let ip = if trusted {
            req.real_ip().or(peer)
        } else {
            peer
        };
        Outcome::Success(ClientAddress(ip.map(|ip| ip.to_canonical().to_string())))
    }
}
