//! `GET /api/overview`: the web page's first screen in one call.

use rocket::serde::json::Json;
use rocket::{get, State};

use crate::protocol::Overview;
use crate::server::accounts::User;
use crate::server::error::ApiResult;
use crate::server::overview;
use crate::server::state::AppState;

#[get("/overview")]
pub async fn get(state: &State<AppState>, user: User) -> ApiResult<Json<Overview>> {
    let rule = state.online_rule();
    let beats = state.heartbeats.clone();
    let data_dir = state.cfg.data_dir.clone();
    let catalogue = state.releases.catalogue().await;
    let view = state
        .db
        .read(move |c| {
            let mut view = overview::overview(c, &user, rule, &beats, &catalogue)?;
            view.last_backup = crate::server::backup::last_backup(&data_dir);
            Ok(view)
        })
        .await?;
    Ok(Json(view))
}
