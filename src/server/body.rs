//! JSON request bodies: size limits from Rocket's `limits`, gzip/deflate bodies, and errors that
//! say where in the document the problem is. Parsing runs on the blocking pool because a
//! full-chart payload is tens of megabytes; such sync bodies are also bounded in number and
//! bytes held at once (see [`in_flight`]).

pub mod in_flight;

use std::io::Read;

use rocket::data::{self, ByteUnit, Data, FromData};
use rocket::http::Status;
use rocket::outcome::Outcome;
use rocket::request::Request;
use serde::de::DeserializeOwned;
use serde_json::error::Category;

use super::error::{park, ApiError, ApiResult};
use super::guards::bearer;
use super::state::AppState;
use in_flight::InFlight;

/// Which entry of Rocket's `limits` caps a request type's body.
pub trait BodyLimit {
    const LIMIT: &'static str = "json";
    /// A connector's sync body: counted in [`in_flight::SyncBodies`] until answered.
    const SYNC_BODY: bool = false;
}

/// A JSON body of type `T`, with the size it had on the wire.
pub struct JsonBody<T> {
    pub value: T,
    pub wire_bytes: usize,
    /// For a sync body, its place in flight: keep it until the request is answered.
    pub in_flight: Option<InFlight>,
}

const DEFAULT_LIMIT: ByteUnit = ByteUnit::Mebibyte(1);

fn too_large(limit: ByteUnit, what: &str) -> ApiError {
    ApiError::new(
        Status::PayloadTooLarge,
        "payload_too_large",
        format!("The {what} is larger than the {limit} this appliance accepts (see `limits` in Rocket.toml)."),
    )
}

fn normalized(encoding: Option<&str>) -> Option<String> {
    encoding.map(|e| e.trim().to_ascii_lowercase())
}

/// The most bytes `raw` may decode to: its own size when plain, the size a gzip trailer states
/// (checked while decoding), else the limit.
fn decoded_size(encoding: Option<&str>, raw: &[u8], limit: ByteUnit) -> u64 {
    match normalized(encoding).as_deref() {
        None | Some("") | Some("identity") => raw.len() as u64,
        Some("gzip") | Some("x-gzip") if raw.len() >= 18 => {
            let mut trailer = [0u8; 4];
            trailer.copy_from_slice(&raw[raw.len() - 4..]);
            u64::from(u32::from_le_bytes(trailer)).min(limit.as_u64())
        }
        _ => limit.as_u64(),
    }
}

fn decode(encoding: Option<&str>, raw: Vec<u8>, limit: ByteUnit) -> ApiResult<Vec<u8>> {
    let expected = decoded_size(encoding, &raw, limit);
    let encoding = normalized(encoding);
    let reader: Box<dyn Read> = match encoding.as_deref() {
        None | Some("") | Some("identity") => return Ok(raw),
        Some("gzip") | Some("x-gzip") => {
            Box::new(flate2::read::GzDecoder::new(std::io::Cursor::new(raw)))
        }
        Some("deflate") => Box::new(flate2::read::ZlibDecoder::new(std::io::Cursor::new(raw))),
        Some(other) => {
            return Err(ApiError::new(
                Status::UnsupportedMediaType,
                "unsupported_encoding",
                format!(
                "Content-Encoding `{other}` is not supported; send gzip, deflate or plain JSON."
            ),
            ))
        }
    };
    let mut out = Vec::new();
    reader
        .take(expected + 1)
        .read_to_end(&mut out)
        .map_err(|e| {
            ApiError::bad_request(
                "bad_encoding",
                format!("The compressed body could not be decompressed: {e}"),
            )
        })?;
    if out.len() as u64 > limit.as_u64() {
        return Err(too_large(limit, "decompressed body"));
    }
    if out.len() as u64 > expected {
        return Err(ApiError::bad_request(
            "bad_encoding",
            format!(
                "The gzip body decompresses to more than the {expected} bytes its trailer states."
            ),
        ));
    }
    Ok(out)
}

pub fn parse_json<T: DeserializeOwned>(bytes: &[u8]) -> ApiResult<T> {
    let bytes = if bytes.iter().all(u8::is_ascii_whitespace) {
        b"{}" as &[u8]
    } else {
        bytes
    };
    let mut de = serde_json::Deserializer::from_slice(bytes);
    let value: T = serde_path_to_error::deserialize(&mut de).map_err(|e| {
        let path = e.path().to_string();
        let inner = e.into_inner();
        match inner.classify() {
            Category::Data => {
                let message = inner.to_string();
                // serde_json appends " at line L column C"; the path already says where.
                let message = message
                    .split(" at line ")
                    .next()
                    .unwrap_or(&message)
                    .to_string();
                ApiError::invalid_field(&path, message)
            }
            _ => ApiError::bad_request(
                "invalid_json",
                format!("The body is not valid JSON: {inner}"),
            ),
        }
    })?;
    de.end().map_err(|e| {
        ApiError::bad_request("invalid_json", format!("The body is not valid JSON: {e}"))
    })?;
    Ok(value)
}

/// A sync body's connector gets its turn before the body is read (one at a time per connector).
fn sync_turn(req: &Request<'_>) -> ApiResult<in_flight::ConnectorTurn> {
    let state = req
        .rocket()
        .state::<AppState>()
        .ok_or_else(|| ApiError::internal("sync body", "no application state"))?;
    let claims = state.keys.verify_connector(bearer(req)?)?;
    state.sync_bodies.turn(&claims.sub)
}

async fn charge(
    req: &Request<'_>,
    turn: Option<in_flight::ConnectorTurn>,
    bytes: u64,
) -> ApiResult<Option<InFlight>> {
    match (turn, req.rocket().state::<AppState>()) {
        (Some(turn), Some(state)) => state.sync_bodies.charge(turn, bytes).await.map(Some),
        _ => Ok(None),
    }
}

async fn read_body<T: DeserializeOwned + BodyLimit + Send + 'static>(
    req: &Request<'_>,
    data: Data<'_>,
) -> ApiResult<JsonBody<T>> {
    let limit = req.limits().get(T::LIMIT).unwrap_or(DEFAULT_LIMIT);
    let encoding = req
        .headers()
        .get_one("Content-Encoding")
        .map(str::to_string);
    let turn = if T::SYNC_BODY {
        Some(sync_turn(req)?)
    } else {
        None
    };
    let raw = data.open(limit).into_bytes().await.map_err(|e| {
        ApiError::bad_request(
            "unreadable_body",
            format!("The body could not be read: {e}"),
        )
    })?;
    if !raw.is_complete() {
        return Err(too_large(limit, "body"));
    }
    let raw = raw.into_inner();
    let wire_bytes = raw.len();
    let decoded = decoded_size(encoding.as_deref(), &raw, limit);
    // A compressed body is held twice for a while: as sent, and decoded.
    let plain = matches!(
        normalized(encoding.as_deref()).as_deref(),
        None | Some("") | Some("identity")
    );
    let held = if plain {
        decoded
    } else {
        decoded + wire_bytes as u64
    };
    let in_flight = charge(req, turn, held).await?;
    tokio::task::spawn_blocking(move || {
        let bytes = decode(encoding.as_deref(), raw, limit)?;
        parse_json::<T>(&bytes).map(|value| JsonBody {
            value,
            wire_bytes,
            in_flight,
        })
    })
    .await
    .map_err(|e| ApiError::internal("body parser task", e))?
}

#[rocket::async_trait]
impl<'r, T: DeserializeOwned + BodyLimit + Send + 'static> FromData<'r> for JsonBody<T> {
    type Error = ();

    async fn from_data(req: &'r Request<'_>, data: Data<'r>) -> data::Outcome<'r, Self> {
        match read_body::<T>(req, data).await {
            Ok(v) => Outcome::Success(v),
            Err(e) => Outcome::Error((park(req, e), ())),
        }
    }
}

use crate::protocol::*;

impl BodyLimit for SyncPayload {
    const LIMIT: &'static str = "sync";
    const SYNC_BODY: bool = true;
}
impl BodyLimit for SyncPart {
    const LIMIT: &'static str = "sync";
    const SYNC_BODY: bool = true;
}
impl BodyLimit for ConnectorAuthRequest {}
impl BodyLimit for RefreshRequest {}
impl BodyLimit for SyncStartRequest {}
impl BodyLimit for SyncProgressRequest {}
impl BodyLimit for SyncCompleteRequest {}
impl BodyLimit for HeartbeatRequest {}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn gzip(bytes: &[u8]) -> Vec<u8> {
        let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        enc.write_all(bytes).unwrap();
        enc.finish().unwrap()
    }

    #[test]
    fn a_gzip_body_is_charged_and_held_to_the_size_its_trailer_states() {
        let limit = ByteUnit::Mebibyte(1);
        let text = vec![b' '; 5000];
        let honest = gzip(&text);
        assert_eq!(decoded_size(Some("gzip"), &honest, limit), 5000);
        assert_eq!(
            decode(Some("gzip"), honest.clone(), limit).unwrap().len(),
            5000
        );

        // A trailer that understates the size is caught before more than it states is decoded.
        let mut lying = honest;
        let n = lying.len();
        lying[n - 4..].copy_from_slice(&100u32.to_le_bytes());
        let err = decode(Some("gzip"), lying, limit).err().unwrap();
        assert_eq!(err.status, Status::BadRequest);

        // A plain body is charged its own size; an unknown size the limit.
        assert_eq!(decoded_size(None, b"{}", limit), 2);
        assert_eq!(decoded_size(Some("deflate"), b"xx", limit), limit.as_u64());
    }
}
