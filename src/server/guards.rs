//! Who is calling, and may they: request guards. A handler states its access rule in its
//! signature, so a handler that forgets the rule does not compile:
//!
//! - [`User`]: any signed-in person (user JWT);
//! - [`AdminUser`]: a person with the admin role;
//! - [`CompanyAccess`]: a person who may see the company named in the path
//!   (`/companies/<id>/...`) or in the `companyId` query;
//! - [`ConnectorAuth`]: an enrolled, unrevoked connector, with a token of its current generation,
//!   within its request rate;
//! - [`UserOrConnector`]: either of the two above (what both a person and a connector may read);
//! - [`ClientAddress`]: not a rule but who is calling from where, for the login throttle.
//!
//! A refused guard parks its [`ApiError`] for the catcher, which answers with it.

use std::net::IpAddr;

use rocket::outcome::Outcome;
use rocket::request::{self, FromRequest, Request};

use super::accounts::{self, User};
use super::connectors::standing::Refused;
use super::error::{park, ApiError, ApiResult};
use super::listener::PeerMap;
use super::state::AppState;
use crate::protocol::text::ID_MAX_CHARS;

pub fn bearer<'r>(req: &'r Request<'_>) -> ApiResult<&'r str> {
    let header = req.headers().get_one("Authorization").ok_or_else(|| {
        ApiError::unauthorized(
            "missing_token",
            "Send `Authorization: Bearer <token>` with this request.",
        )
    })?;
    header
        .strip_prefix("Bearer ")
        .or_else(|| header.strip_prefix("bearer "))
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .ok_or_else(|| {
            ApiError::unauthorized(
                "missing_token",
                "The Authorization header must be `Bearer <token>`.",
            )
        })
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

/// The person behind the request's user JWT; the account must still exist, be enabled, and
/// not have had its sessions ended since the token was issued.
async fn signed_in(req: &Request<'_>) -> ApiResult<User> {
    let state = state(req)?;
    let claims = state.keys.verify_user(bearer(req)?)?;
    let (id, generation) = (claims.sub, claims.generation);
    Ok(state
        .db
        .read(move |c| accounts::token_user(c, id, generation))
        .await?)
}

#[rocket::async_trait]
impl<'r> FromRequest<'r> for User {
    type Error = ();

    async fn from_request(req: &'r Request<'_>) -> request::Outcome<Self, ()> {
        let result = signed_in(req).await;
        finish(req, result)
    }
}

/// A signed-in administrator.
pub struct AdminUser(pub User);

#[rocket::async_trait]
impl<'r> FromRequest<'r> for AdminUser {
    type Error = ();

    async fn from_request(req: &'r Request<'_>) -> request::Outcome<Self, ()> {
        let result = signed_in(req).await.and_then(|user| {
            if user.is_admin() {
                Ok(AdminUser(user))
            } else {
                Err(ApiError::forbidden(
                    "admin_only",
                    "Only an administrator may do this.",
                ))
            }
        });
        finish(req, result)
    }
}

/// A signed-in person who may see the company the request names.
pub struct CompanyAccess {
    pub user: User,
    pub company_id: String,
}

/// The company a request is about: the segment after `companies` in the routed path, else the
/// `companyId` query.
fn company_named(req: &Request<'_>) -> ApiResult<String> {
    let segments: Vec<&str> = (0..).map_while(|n| req.routed_segment(n)).collect();
    if let Some(i) = segments.iter().position(|s| *s == "companies") {
        if let Some(id) = segments.get(i + 1) {
            return Ok(id.to_string());
        }
    }
    match req.query_value::<String>("companyId") {
        Some(Ok(id)) if !id.trim().is_empty() => Ok(id),
        _ => Err(ApiError::invalid_field(
            "companyId",
            "give the company as `?companyId=...`",
        )),
    }
}

async fn company_access(req: &Request<'_>) -> ApiResult<CompanyAccess> {
    let user = signed_in(req).await?;
    let company_id = company_named(req)?;
    let (who, company) = (user.clone(), company_id.clone());
    state(req)?
        .db
        .read(move |c| accounts::ensure_can_see(c, &who, &company))
        .await?;
    Ok(CompanyAccess { user, company_id })
}

#[rocket::async_trait]
impl<'r> FromRequest<'r> for CompanyAccess {
    type Error = ();

    async fn from_request(req: &'r Request<'_>) -> request::Outcome<Self, ()> {
        let result = company_access(req).await;
        finish(req, result)
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
            Some(c) if c.len() > ID_MAX_CHARS => Err(ApiError::invalid_field(
                "companyId",
                format!("must be at most {ID_MAX_CHARS} characters"),
            )),
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

fn refused_connector(why: Refused) -> ApiError {
    match why {
        Refused::Unknown => ApiError::unauthorized(
            "invalid_token",
            "This connector token names no connector enrolled here; run the connector's setup again.",
        ),
        Refused::Revoked => ApiError::unauthorized(
            "connector_revoked",
            "An administrator revoked this connector; an administrator must restore it before it works again.",
        ),
        Refused::Superseded => ApiError::unauthorized(
            "token_superseded",
            "This connector token was issued before the connector was enrolled again or revoked; run the connector's setup again.",
        ),
    }
}

fn connector(req: &Request<'_>) -> ApiResult<ConnectorAuth> {
    let state = state(req)?;
    let claims = state.keys.verify_connector(bearer(req)?)?;
    state
        .standings
        .admit(&claims.sub, claims.generation)
        .map_err(refused_connector)?;
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
}

#[rocket::async_trait]
impl<'r> FromRequest<'r> for ConnectorAuth {
    type Error = ();

    async fn from_request(req: &'r Request<'_>) -> request::Outcome<Self, ()> {
        let result = connector(req);
        finish(req, result)
    }
}

/// A signed-in person or an enrolled connector: the token's signature says which it is, and
/// that one's rule applies.
pub enum UserOrConnector {
    User(User),
    Connector(ConnectorAuth),
}

async fn user_or_connector(req: &Request<'_>) -> ApiResult<UserOrConnector> {
    match state(req)?.keys.verify_connector(bearer(req)?) {
        Ok(_) => connector(req).map(UserOrConnector::Connector),
        // Only a token signed with the connector secret gets as far as its expiry.
        Err(e) if e.code == "token_expired" => Err(e),
        Err(_) => signed_in(req).await.map(UserOrConnector::User),
    }
}

#[rocket::async_trait]
impl<'r> FromRequest<'r> for UserOrConnector {
    type Error = ();

    async fn from_request(req: &'r Request<'_>) -> request::Outcome<Self, ()> {
        let result = user_or_connector(req).await;
        finish(req, result)
    }
}

/// The caller's address, for login throttling: the peer's, or the forwarded one when the peer
/// is a proxy named in `trusted_proxies`.
pub struct ClientAddress(pub Option<String>);

/// The peer of the request. Behind the listener front every peer is one of its loopback
/// connections, and the front knows which client each carries.
fn peer_ip(req: &Request<'_>) -> Option<IpAddr> {
    let front = req.rocket().state::<PeerMap>();
    req.remote()
        .map(|r| front.and_then(|f| f.client_of(r)).unwrap_or(r).ip())
}

#[rocket::async_trait]
impl<'r> FromRequest<'r> for ClientAddress {
    type Error = ();

    async fn from_request(req: &'r Request<'_>) -> request::Outcome<Self, ()> {
        let peer = peer_ip(req);
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
