//! Connector self-update: the releases this appliance carries (`/connector/releases`) and the
//! update policies administrators set. The heartbeat's answer lives with the heartbeat
//! (`connector.rs`).

use std::io::Cursor;

use rocket::http::{ContentType, Header};
use rocket::request::Request;
use rocket::response::{self, Responder, Response};
use rocket::serde::json::Json;
use rocket::{get, put, State};

use crate::protocol::{ReleaseList, UpdatePolicyRequest};
use crate::server::body::{BodyLimit, JsonBody};
use crate::server::error::{ApiError, ApiResult};
use crate::server::guards::{AdminUser, ConnectorAuth, UserOrConnector};
use crate::server::releases::ArchiveBody;
use crate::server::state::AppState;
use crate::server::updates::policy::{self, global_name};

impl BodyLimit for UpdatePolicyRequest {}

/// Per target the releases carried, newest first.
#[get("/connector/releases")]
pub async fn list(state: &State<AppState>, _who: UserOrConnector) -> Json<ReleaseList> {
    Json(state.releases.catalogue().await.list())
}

/// A release archive's bytes, exactly as signed, under the name it was signed for; sent from the
/// binary or the open file, never copied per request.
pub struct Archive {
    body: ArchiveBody,
    name: String,
}

impl<'r> Responder<'r, 'static> for Archive {
    fn respond_to(self, _: &'r Request<'_>) -> response::Result<'static> {
        let mut res = Response::build();
        res.header(ContentType::ZIP).header(Header::new(
            "Content-Disposition",
            format!("attachment; filename=\"{}\"", self.name),
        ));
        match self.body {
            ArchiveBody::Bytes(bytes) => res.sized_body(bytes.len(), Cursor::new(bytes)),
            ArchiveBody::File { file, size } => {
                res.sized_body(usize::try_from(size).ok(), tokio::fs::File::from_std(file))
            }
        };
        res.ok()
    }
}

/// Only a name the catalogue lists is served; any other (another file of the folder, a path)
/// is not found.
#[get("/connector/releases/<file>")]
pub async fn archive(
    state: &State<AppState>,
    _conn: ConnectorAuth,
    file: &str,
) -> ApiResult<Archive> {
    let catalogue = state.releases.catalogue().await;
    let release = catalogue.by_file(file).cloned().ok_or_else(|| {
        ApiError::not_found(
            "release_not_found",
            "This appliance carries no connector release of that name; see GET /api/connector/releases.",
        )
    })?;
    let store = state.releases.store().clone();
    let name = release.file.clone();
    let body = tokio::task::spawn_blocking(move || store.archive(&release))
        .await
        .map_err(|e| ApiError::internal("connector release task", e))?
        .map_err(|e| ApiError::internal("connector release", e))?
        .ok_or_else(|| ApiError::internal("connector release", format!("{name} is gone")))?;
    Ok(Archive { body, name })
}

#[get("/settings/connector-updates")]
pub async fn get_global(
    state: &State<AppState>,
    _admin: AdminUser,
) -> ApiResult<Json<UpdatePolicyRequest>> {
    let global = state.db.read(policy::global).await?;
    Ok(Json(UpdatePolicyRequest {
        policy: global_name(global).to_string(),
        version: None,
    }))
}

#[put("/settings/connector-updates", data = "<body>")]
pub async fn put_global(
    state: &State<AppState>,
    admin: AdminUser,
    body: JsonBody<UpdatePolicyRequest>,
) -> ApiResult<Json<UpdatePolicyRequest>> {
    let global = policy::check_global(&body.value)?;
    let user = admin.0.id;
    state
        .db
        .write(move |tx| policy::set_global(tx, global, user))
        .await?;
    state.update_policies.forget_global();
    log::info!(
        "user {} set the connector update policy to {}",
        admin.0.username,
        global_name(global)
    );
    Ok(Json(UpdatePolicyRequest {
        policy: global_name(global).to_string(),
        version: None,
    }))
}

#[get("/connectors/<id>/update-policy")]
pub async fn get_connector(
    state: &State<AppState>,
    _admin: AdminUser,
    id: &str,
) -> ApiResult<Json<UpdatePolicyRequest>> {
    let target = id.to_string();
    let known = state
        .db
        .read(move |c| policy::known_or_404(c, &target))
        .await?;
    Ok(Json(known.policy.view()))
}

#[put("/connectors/<id>/update-policy", data = "<body>")]
pub async fn put_connector(
    state: &State<AppState>,
    admin: AdminUser,
    id: &str,
    body: JsonBody<UpdatePolicyRequest>,
) -> ApiResult<Json<UpdatePolicyRequest>> {
    let catalogue = state.releases.catalogue().await;
    let (connector, user, req) = (id.to_string(), admin.0.id, body.value);
    let set = state
        .db
        .write(move |tx| {
            let known = policy::known_or_404(tx, &connector)?;
            let policy = policy::check_connector(&req, known.target, &catalogue)?;
            policy::set_connector(tx, &connector, &policy, user)?;
            Ok(policy)
        })
        .await?;
    state.update_policies.forget(id);
    log::info!(
        "user {} set connector {id}'s update policy to {}",
        admin.0.username,
        set.view().policy
    );
    Ok(Json(set.view()))
}
