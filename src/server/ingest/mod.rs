//! Ingestion of the chart of accounts and month balances (`POST /api/connector/sync`). Owns
//! `ingestion_logs`, one row per accepted payload (per sync, for a sync in parts).

pub mod bounds;
pub mod parts;
pub mod store;
pub mod validate;

use std::time::Instant;

pub use store::{store, Origin};
pub use validate::{validate, Validated};

use super::db::Db;
use super::domain_error::{DomainError, DomainResult};
use crate::protocol::{SyncAccepted, SyncPayload};

/// Checks the payload, then stores it. The check runs on the blocking pool before taking the
/// database's one writer, which heartbeats and other syncs share.
pub async fn ingest(
    db: &Db,
    company_id: String,
    connector_id: String,
    payload: SyncPayload,
    wire_bytes: usize,
    received: Instant,
) -> DomainResult<SyncAccepted> {
    let (payload, validated) =
        tokio::task::spawn_blocking(move || validate(&payload).map(|v| (payload, v)))
            .await
            .map_err(|e| DomainError::internal("payload check task", e))??;
    db.write(move |tx| {
        let origin = Origin {
            company_id: &company_id,
            connector_id: &connector_id,
            wire_bytes,
            received,
        };
        store(tx, &origin, &payload, &validated)
    })
    .await
}
