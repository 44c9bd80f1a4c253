//! Signed tokens. User and connector tokens are JWTs signed with different secrets and marked
//! with different `typ`, so neither can ever pass for the other.

use jsonwebtoken::{
    decode, encode, errors::ErrorKind, Algorithm, DecodingKey, EncodingKey, Header, Validation,
};
use serde::{Deserialize, Serialize};

use crate::server::clock::unix_now;
use crate::server::error::ApiError;
use crate::server::random::random_token;

pub const USER_TOKEN_TTL_SECS: u64 = 12 * 60 * 60;
pub const CONNECTOR_TOKEN_TTL_SECS: u64 = 15 * 60;

const USER_TYP: &str = "user";
const CONNECTOR_TYP: &str = "connector";
const DOWNLOAD_TYP: &str = "download";

/// How long a signed download link works.
pub const DOWNLOAD_LINK_TTL_SECS: u64 = 5 * 60;

#[derive(Debug, Serialize, Deserialize)]
pub struct UserClaims {
    pub sub: i64,
    pub name: String,
    pub role: String,
    pub typ: String,
    pub iat: u64,
    pub exp: u64,
    /// The user's token generation when this was issued; disabling a user or resetting their
    /// password moves it on, and a token of an older generation is refused.
    #[serde(default)]
    pub generation: i64,
}

#[derive(Debug, Serialize, Deserialize)]
pub struct ConnectorClaims {
    /// connector id
    pub sub: String,
    /// company id
    pub cid: String,
    pub typ: String,
    pub iat: u64,
    pub exp: u64,
    /// The connector's token generation when this was issued; a token of an older generation
    /// was issued before the connector was enrolled again or revoked, and is refused.
    #[serde(default)]
    pub generation: i64,
}

/// A signed download link: one user's right, for a few minutes, to download one company's
/// connector for one target, without a token in the request (so a page can use it in a link).
#[derive(Debug, Serialize, Deserialize)]
pub struct DownloadClaims {
    /// The user who asked for the link.
    pub sub: i64,
    /// Their token generation then: the link dies with their sessions.
    pub generation: i64,
    /// company id
    pub cid: String,
    /// `windows` or `linux`
    pub target: String,
    pub typ: String,
    pub iat: u64,
    pub exp: u64,
    /// The link's own random id: the appliance records it on first use, so the link works once.
    pub jti: String,
}

/// Random bytes in a download link's id.
const LINK_ID_BYTES: usize = 16;

pub struct TokenKeys {
    user_enc: EncodingKey,
    user_dec: DecodingKey,
    conn_enc: EncodingKey,
    conn_dec: DecodingKey,
}

fn validation() -> Validation {
    let mut v = Validation::new(Algorithm::HS256);
    v.leeway = 0;
    v.set_required_spec_claims(&["exp"]);
    v
}

fn token_error(kind: &ErrorKind, what: &str) -> ApiError {
    match kind {
        ErrorKind::ExpiredSignature => ApiError::unauthorized(
            "token_expired",
            format!("The {what} token has expired; get a new one."),
        ),
        _ => ApiError::unauthorized(
            "invalid_token",
            format!("This is not a valid {what} token."),
        ),
    }
}

impl TokenKeys {
    pub fn new(user_secret: &[u8], connector_secret: &[u8]) -> Self {
        TokenKeys {
            user_enc: EncodingKey::from_secret(user_secret),
            user_dec: DecodingKey::from_secret(user_secret),
            conn_enc: EncodingKey::from_secret(connector_secret),
            conn_dec: DecodingKey::from_secret(connector_secret),
        }
    }

    pub fn issue_user(
        &self,
        id: i64,
        name: &str,
        role: &str,
        generation: i64,
    ) -> Result<String, ApiError> {
        let now = unix_now();
        let claims = UserClaims {
            sub: id,
            name: name.to_string(),
            role: role.to_string(),
            typ: USER_TYP.into(),
            iat: now,
            exp: now + USER_TOKEN_TTL_SECS,
            generation,
        };
        encode(&Header::new(Algorithm::HS256), &claims, &self.user_enc)
            .map_err(|e| ApiError::internal("signing user token", e))
    }

    pub fn verify_user(&self, token: &str) -> Result<UserClaims, ApiError> {
        let data = decode::<UserClaims>(token, &self.user_dec, &validation())
            .map_err(|e| token_error(e.kind(), "user"))?;
        if data.claims.typ != USER_TYP {
            return Err(token_error(&ErrorKind::InvalidToken, "user"));
        }
        Ok(data.claims)
    }

    /// Signs a download link's claims; returns the token and its expiry (Unix seconds).
    pub fn issue_download(
        &self,
        user_id: i64,
        generation: i64,
        company_id: &str,
        target: &str,
    ) -> Result<(String, u64), ApiError> {
        let now = unix_now();
        let claims = DownloadClaims {
            sub: user_id,
            generation,
            cid: company_id.to_string(),
            target: target.to_string(),
            typ: DOWNLOAD_TYP.into(),
            iat: now,
            exp: now + DOWNLOAD_LINK_TTL_SECS,
            jti: random_token(LINK_ID_BYTES),
        };
        let token = encode(&Header::new(Algorithm::HS256), &claims, &self.user_enc)
            .map_err(|e| ApiError::internal("signing a download link", e))?;
        Ok((token, claims.exp))
    }

    pub fn verify_download(&self, token: &str) -> Result<DownloadClaims, ApiError> {
        let data = decode::<DownloadClaims>(token, &self.user_dec, &validation()).map_err(
            |e| match e.kind() {
                ErrorKind::ExpiredSignature => ApiError::unauthorized(
                    "download_link_expired",
                    "This download link has expired; open the appliance's page and download again.",
                ),
                _ => ApiError::unauthorized(
                    "invalid_download_link",
                    "This is not a valid download link; open the appliance's page and download again.",
                ),
            },
        )?;
        if data.claims.typ != DOWNLOAD_TYP {
            return Err(ApiError::unauthorized(
                "invalid_download_link",
                "This is not a valid download link; open the appliance's page and download again.",
            ));
        }
        Ok(data.claims)
    }

    pub fn issue_connector(
        &self,
        connector_id: &str,
        company_id: &str,
        generation: i64,
    ) -> Result<String, ApiError> {
        let now = unix_now();
        self.sign_connector(ConnectorClaims {
            sub: connector_id.to_string(),
            cid: company_id.to_string(),
            typ: CONNECTOR_TYP.into(),
            iat: now,
            exp: now + CONNECTOR_TOKEN_TTL_SECS,
            generation,
        })
    }

    /// A connector token with the given times (Unix seconds). Tests use it to make a token that
    /// has already expired, signed with the appliance's real secret.
    pub fn issue_connector_expiring_at(
        &self,
        connector_id: &str,
        company_id: &str,
        issued_at: u64,
        expires_at: u64,
    ) -> Result<String, ApiError> {
        self.sign_connector(ConnectorClaims {
            sub: connector_id.to_string(),
            cid: company_id.to_string(),
            typ: CONNECTOR_TYP.into(),
            iat: issued_at,
            exp: expires_at,
            generation: 0,
        })
    }

    fn sign_connector(&self, claims: ConnectorClaims) -> Result<String, ApiError> {
        encode(&Header::new(Algorithm::HS256), &claims, &self.conn_enc)
            .map_err(|e| ApiError::internal("signing connector token", e))
    }

    pub fn verify_connector(&self, token: &str) -> Result<ConnectorClaims, ApiError> {
        let data = decode::<ConnectorClaims>(token, &self.conn_dec, &validation())
            .map_err(|e| token_error(e.kind(), "connector"))?;
        if data.claims.typ != CONNECTOR_TYP {
            return Err(token_error(&ErrorKind::InvalidToken, "connector"));
        }
        Ok(data.claims)
    }
}
