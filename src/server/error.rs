//! The HTTP edge of every failure. Each becomes CONTRACT.md's JSON `{"error", "message",
//! "details"}` with the right status; nothing internal leaks to the client. Domain code returns
//! [`DomainError`]; it becomes an [`ApiError`] here, where internal causes are logged once.

use std::io::Cursor;
use std::sync::Mutex;

use rocket::http::{ContentType, Header, Status};
use rocket::request::Request;
use rocket::response::{self, Responder, Response};

use super::domain_error::{cause_chain, DomainError, Refusal};
use crate::protocol::{ErrorBody, ErrorDetail};

#[derive(Debug, Clone)]
pub struct ApiError {
    pub status: Status,
    pub code: &'static str,
    pub message: String,
    pub details: Vec<ErrorDetail>,
    /// Seconds for `Retry-After` on a 429.
    pub retry_after: Option<u64>,
}

pub type ApiResult<T> = Result<T, ApiError>;

impl ApiError {
    pub fn new(status: Status, code: &'static str, message: impl Into<String>) -> Self {
        ApiError {
            status,
            code,
            message: message.into(),
            details: Vec::new(),
            retry_after: None,
        }
    }

    pub fn bad_request(code: &'static str, message: impl Into<String>) -> Self {
        Self::new(Status::BadRequest, code, message)
    }

    pub fn unauthorized(code: &'static str, message: impl Into<String>) -> Self {
        Self::new(Status::Unauthorized, code, message)
    }

    pub fn forbidden(code: &'static str, message: impl Into<String>) -> Self {
        Self::new(Status::Forbidden, code, message)
    }

    pub fn not_found(code: &'static str, message: impl Into<String>) -> Self {
        Self::new(Status::NotFound, code, message)
    }

    pub fn conflict(code: &'static str, message: impl Into<String>) -> Self {
        Self::new(Status::Conflict, code, message)
    }

    /// A readable request with one field wrong, located by its JSON path.
    pub fn invalid_field(path: &str, message: impl Into<String>) -> Self {
        DomainError::invalid_field(path, message).into()
    }

    pub fn too_many(message: impl Into<String>, retry_after_secs: u64) -> Self {
        ApiError {
            retry_after: Some(retry_after_secs.max(1)),
            ..Self::new(Status::TooManyRequests, "rate_limited", message)
        }
    }

    /// The appliance's own fault: logged here with `context`, answered without the details.
    pub fn internal(context: &str, err: impl std::fmt::Display) -> Self {
        log::error!("{context}: {err}");
        Self::internal_unlogged()
    }

    fn internal_unlogged() -> Self {
        Self::new(
            Status::InternalServerError,
            "internal_error",
            "The appliance could not complete the request; the server log has the details.",
        )
    }

    fn body(&self) -> ErrorBody {
        ErrorBody {
            error: self.code.to_string(),
            message: self.message.clone(),
            details: self.details.clone(),
        }
    }
}

fn status_of(refusal: Refusal) -> Status {
    match refusal {
        Refusal::Unauthorized => Status::Unauthorized,
        Refusal::Forbidden => Status::Forbidden,
        Refusal::NotFound => Status::NotFound,
        Refusal::Conflict => Status::Conflict,
        Refusal::Invalid => Status::UnprocessableEntity,
        Refusal::TooMany { .. } => Status::TooManyRequests,
    }
}

impl From<DomainError> for ApiError {
    fn from(e: DomainError) -> Self {
        match e {
            DomainError::Refused {
                refusal,
                code,
                message,
                details,
            } => ApiError {
                details,
                retry_after: match refusal {
                    Refusal::TooMany { retry_after_secs } => Some(retry_after_secs.max(1)),
                    _ => None,
                },
                ..Self::new(status_of(refusal), code, message)
            },
            internal => {
                log::error!("{}", cause_chain(&internal));
                Self::internal_unlogged()
            }
        }
    }
}

impl<'r> Responder<'r, 'static> for ApiError {
    fn respond_to(self, _: &'r Request<'_>) -> response::Result<'static> {
        let body = serde_json::to_string(&self.body()).unwrap_or_else(|_| {
            r#"{"error":"internal_error","message":"error body could not be written","details":[]}"#.into()
        });
        let mut res = Response::build();
        res.status(self.status)
            .header(ContentType::JSON)
            .sized_body(body.len(), Cursor::new(body));
        if let Some(secs) = self.retry_after {
            res.header(Header::new("Retry-After", secs.to_string()));
        }
        res.ok()
    }
}

/// Guards and data guards cannot hand a value to the catcher, so they park their error here;
/// the catcher renders it. Only the first error a request meets is kept.
pub struct ParkedError(Mutex<Option<ApiError>>);

pub fn park(req: &Request<'_>, err: ApiError) -> Status {
    let status = err.status;
    let slot = req.local_cache(|| ParkedError(Mutex::new(None)));
    if let Ok(mut slot) = slot.0.lock() {
        slot.get_or_insert(err);
    }
    status
}

fn take_parked(req: &Request<'_>) -> Option<ApiError> {
    let slot = req.local_cache(|| ParkedError(Mutex::new(None)));
    slot.0.lock().ok().and_then(|mut s| s.take())
}

#[rocket::catch(default)]
pub fn default_catcher(status: Status, req: &Request<'_>) -> ApiError {
    if let Some(err) = take_parked(req).filter(|e| e.status == status) {
        return err;
    }
    let (code, message) = match status.code {
        400 => ("bad_request", "The request could not be read.".to_string()),
        401 => (
            "unauthorized",
            "A valid token is required: send `Authorization: Bearer <token>`.".to_string(),
        ),
        403 => ("forbidden", "You are not allowed to do this.".to_string()),
        404 => (
            "not_found",
            format!("There is nothing at {} {}.", req.method(), req.uri().path()),
        ),
        405 => (
            "method_not_allowed",
            "This method is not allowed here.".to_string(),
        ),
        413 => (
            "payload_too_large",
            "The request body is larger than the appliance accepts.".to_string(),
        ),
        415 => (
            "unsupported_media_type",
            "Send the body as JSON.".to_string(),
        ),
        422 => (
            "invalid_payload",
            "The request body is not what this endpoint expects.".to_string(),
        ),
        429 => (
            "rate_limited",
            "Too many requests; try again shortly.".to_string(),
        ),
        _ if status.code >= 500 => (
            "internal_error",
            "The appliance could not complete the request; the server log has the details."
                .to_string(),
        ),
        _ => ("error", status.reason_lossy().to_string()),
    };
    ApiError::new(status, code, message)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_refusal_keeps_its_code_and_details_and_an_internal_error_hides_its_cause() {
        let refused: ApiError =
            DomainError::invalid_field("companyIds[0]", "no such company").into();
        assert_eq!(refused.status, Status::UnprocessableEntity);
        assert_eq!(refused.code, "invalid_payload");
        assert_eq!(refused.details[0].path, "companyIds[0]");

        let io = std::io::Error::other("secret path /srv/data is full");
        let internal: ApiError = DomainError::internal("writing the snapshot", io).into();
        assert_eq!(internal.status, Status::InternalServerError);
        assert!(
            !internal.message.contains("/srv/data"),
            "{}",
            internal.message
        );
    }
}
