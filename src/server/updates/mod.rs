//! Connector self-update, the appliance's side: what administrators decide (`policy`, tables
//! `appliance_settings` and `connector_update_policies`), kept in memory for the heartbeat
//! (`book`), what each connector should run (`resolve`), and the attempts connectors report
//! (`attempts`, table `connector_updates`). The releases themselves are `releases`' concern.

pub mod attempts;
pub mod book;
pub mod policy;
pub mod resolve;

use std::collections::HashMap;

use rusqlite::Connection;

use super::connectors::heartbeats::Heartbeats;
use super::db::Db;
use super::domain_error::DomainResult;
use super::releases::{Catalogue, Target};
use crate::protocol::{
    ConnectorView, GlobalUpdatePolicy, UpdateAttempt, UpdateInstruction, Version,
};
pub use book::{Known, PolicyBook};
pub use policy::ConnectorPolicy;
use resolve::resolve;

/// What one connector is told in its heartbeat's answer: its policies come from the book, read
/// from the database only when the book does not hold them (first beat after start, after an
/// enrolment or a change of policy); `spread_seconds` is the setting `update_spread_secs`.
pub async fn instruction_for(
    db: &Db,
    book: &PolicyBook,
    catalogue: &Catalogue,
    connector_id: &str,
    spread_seconds: u64,
) -> DomainResult<Option<UpdateInstruction>> {
    if catalogue.releases().is_empty() {
        // Nothing to hand out: no policy can change that, so none is read.
        return Ok(None);
    }
    let (global, known) = match book.get(connector_id) {
        (_, Some(global), Some(known)) => (global, known),
        (epoch, _, _) => {
            let id = connector_id.to_string();
            let (global, known) = db
                .read(move |c| Ok((policy::global(c)?, policy::known(c, &id)?)))
                .await?;
            let known = known.unwrap_or_default();
            book.fill(epoch, global, connector_id, known.clone());
            (global, known)
        }
    };
    let resolved = resolve(global, &known.policy, known.target, catalogue);
    Ok(resolved.instruction(spread_seconds))
}

/// Adds to each connector of a company its update policy in force, the version it should run,
/// whether it is behind, and its last reported attempt (from the heartbeat book when that is
/// newer than the database).
pub fn annotate(
    c: &Connection,
    company_id: &str,
    views: &mut [ConnectorView],
    catalogue: &Catalogue,
    beats: &Heartbeats,
) -> DomainResult<()> {
    let mut read = UpdateState {
        global: policy::global(c)?,
        own: policy::for_company(c, company_id)?,
        last: attempts::latest_for_company(c, company_id)?,
    };
    read.annotate(views, catalogue, beats);
    Ok(())
}

/// What [`annotate`] reads from the database, read once for the connectors of many companies
/// (the overview of every company).
pub struct UpdateState {
    global: GlobalUpdatePolicy,
    own: HashMap<String, ConnectorPolicy>,
    last: HashMap<String, (i64, UpdateAttempt)>,
}

impl UpdateState {
    /// For the connectors of the companies in `company_ids_json` (a JSON array of their ids).
    pub fn of_companies(c: &Connection, company_ids_json: &str) -> DomainResult<UpdateState> {
        Ok(UpdateState {
            global: policy::global(c)?,
            own: policy::for_companies(c, company_ids_json)?,
            last: attempts::latest_for_companies(c, company_ids_json)?,
        })
    }

    /// [`annotate`] from what was read; each connector's attempt is handed out once.
    pub fn annotate(
        &mut self,
        views: &mut [ConnectorView],
        catalogue: &Catalogue,
        beats: &Heartbeats,
    ) {
        let last = &mut self.last;
        for (id, fresh) in beats.last_attempts_of(views.iter().map(|v| v.connector_id.as_str())) {
            match last.get(&id) {
                Some(stored) if stored.0 >= fresh.0 => {}
                _ => {
                    last.insert(id, fresh);
                }
            }
        }
        for view in views {
            let policy = self
                .own
                .get(&view.connector_id)
                .cloned()
                .unwrap_or_default();
            let target = view.os.as_deref().and_then(Target::of_os);
            let resolved = resolve(self.global, &policy, target, catalogue);
            view.update_policy = Some(resolved.policy.to_string());
            if let Some(release) = resolved.release {
                view.target_version = Some(release.version.to_string());
                view.behind = view
                    .app_version
                    .as_deref()
                    .and_then(Version::parse)
                    .map(|running| running < release.version);
            }
            view.last_update = last.remove(&view.connector_id).map(|(_, a)| a);
        }
    }
}
