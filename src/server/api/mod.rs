//! HTTP routes, grouped per concept; each module's handlers stay thin and call the domain
//! modules one level up.

pub mod accounts;
pub mod connector;
pub mod enrollment;
pub mod health;
pub mod overview;
pub mod reports;
pub mod runs;
pub mod schedules;
pub mod snapshots;
pub mod updates;

use rocket::{options, routes, Route};

/// CORS preflight for any API path; the CORS fairing adds the headers when the origin is allowed.
#[options("/<_..>")]
fn preflight() -> rocket::http::Status {
    rocket::http::Status::NoContent
}

/// Everything mounted under `/api`.
pub fn routes() -> Vec<Route> {
    let mut all = routes![health::health, preflight];
    all.extend(routes![
        accounts::login,
        accounts::create_company,
        accounts::list_companies,
        accounts::create_user,
        accounts::list_users,
        accounts::disable_user,
        accounts::enable_user,
        accounts::reset_password,
        accounts::set_companies,
    ]);
    all.extend(routes![
        connector::auth,
        connector::refresh,
        connector::heartbeat,
        connector::sync_start,
        connector::sync_part,
        connector::sync_progress,
        connector::sync_complete,
        connector::sync,
        connector::status,
        connector::revoke,
        connector::restore,
    ]);
    all.extend(routes![
        enrollment::enroll,
        enrollment::list,
        enrollment::revoke
    ]);
    all.extend(routes![
        updates::list,
        updates::archive,
        updates::get_global,
        updates::put_global,
        updates::get_connector,
        updates::put_connector,
    ]);
    all.extend(routes![
        schedules::get_firm,
        schedules::put_firm,
        schedules::get_company,
        schedules::put_company,
        schedules::delete_company,
        schedules::ask,
    ]);
    all.extend(routes![snapshots::list, snapshots::month]);
    all.extend(routes![
        overview::get,
        reports::trial_balance_tree,
        reports::profit_and_loss,
        reports::balance_sheet,
        reports::series,
        reports::restatements,
        runs::recent,
        runs::detail,
    ]);
    all.extend(routes![crate::server::tls::health]);
    all.extend(routes![crate::server::download::create_link]);
    all
}
