//! How many large sync bodies are held in memory at once. A sync body is read, decompressed and
//! parsed, then waits for the database's one writer; without a bound, a burst of concurrent big
//! syncs holds all of them at once (about 140 MB each for a 60 MiB JSON body). So: one body in
//! flight per connector, and a byte budget over all of them, charged with each body's decoded size
//! and held until the request is answered.

use std::collections::HashSet;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use rocket::http::Status;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use crate::server::error::ApiError;

/// How long a body waits for room in the budget before the connector is told to come back.
pub const BUDGET_WAIT: Duration = Duration::from_secs(10);
/// What a connector turned away is told to wait.
const RETRY_AFTER_SECS: u64 = 30;

/// The sync bodies in flight (shared by all requests through the app's state).
pub struct SyncBodies {
    budget: Arc<Semaphore>,
    budget_bytes: u32,
    wait: Duration,
    connectors: Arc<Mutex<HashSet<String>>>,
}

/// One connector's turn: while it lives, that connector's next sync body is refused.
pub struct ConnectorTurn {
    connector: String,
    connectors: Arc<Mutex<HashSet<String>>>,
}

impl Drop for ConnectorTurn {
    fn drop(&mut self) {
        let mut held = self.connectors.lock().unwrap_or_else(|p| p.into_inner());
        held.remove(&self.connector);
    }
}

/// A body's place in flight: its connector's turn and its share of the byte budget. Keep it until
/// the request is answered.
pub struct InFlight {
    _turn: ConnectorTurn,
    _bytes: Option<OwnedSemaphorePermit>,
}

impl SyncBodies {
    pub fn new(budget_bytes: u64, wait: Duration) -> Self {
        let budget_bytes = u32::try_from(budget_bytes.max(1)).unwrap_or(u32::MAX);
        SyncBodies {
            budget: Arc::new(Semaphore::new(budget_bytes as usize)),
            budget_bytes,
            wait,
            connectors: Arc::default(),
        }
    }

    /// The connector's turn, or 429 while another of its sync bodies is in flight.
    pub fn turn(&self, connector: &str) -> Result<ConnectorTurn, ApiError> {
        let mut held = self.connectors.lock().unwrap_or_else(|p| p.into_inner());
        if !held.insert(connector.to_string()) {
            let mut refused = ApiError::new(
                Status::TooManyRequests,
                "sync_in_progress",
                "Another sync body from this connector is still being received or stored; \
                 send the next one when that one is answered.",
            );
            refused.retry_after = Some(RETRY_AFTER_SECS);
            return Err(refused);
        }
        Ok(ConnectorTurn {
            connector: connector.to_string(),
            connectors: self.connectors.clone(),
        })
    }

    /// Charges `bytes` to the budget (a body larger than the whole budget takes all of it),
    /// waiting briefly for room; 503 with `Retry-After` when none comes.
    pub async fn charge(&self, turn: ConnectorTurn, bytes: u64) -> Result<InFlight, ApiError> {
        let bytes = u32::try_from(bytes)
            .unwrap_or(u32::MAX)
            .clamp(1, self.budget_bytes);
        let acquire = self.budget.clone().acquire_many_owned(bytes);
        match tokio::time::timeout(self.wait, acquire).await {
            Ok(Ok(permit)) => Ok(InFlight {
                _turn: turn,
                _bytes: Some(permit),
            }),
            _ => {
                let mut busy = ApiError::new(
                    Status::ServiceUnavailable,
                    "busy",
                    "The appliance is busy storing other syncs; this one was not read. \
                     Send it again shortly.",
                );
                busy.retry_after = Some(RETRY_AFTER_SECS);
                Err(busy)
            }
        }
    }

    /// Bytes of the budget free now.
    pub fn free_bytes(&self) -> usize {
        self.budget.available_permits()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_connector_has_one_body_in_flight() {
        let bodies = SyncBodies::new(1000, Duration::from_millis(10));
        let turn = bodies.turn("c1").unwrap();
        assert_eq!(bodies.turn("c1").err().unwrap().status.code, 429);
        let other = bodies.turn("c2").unwrap();
        let held = bodies.charge(turn, 10).await.unwrap();
        assert_eq!(bodies.turn("c1").err().unwrap().status.code, 429);
        drop(held);
        drop(other);
        assert!(bodies.turn("c1").is_ok());
    }

    #[tokio::test]
    async fn the_budget_is_shared_and_given_back() {
        let bodies = SyncBodies::new(1000, Duration::from_millis(10));
        let big = bodies
            .charge(bodies.turn("c1").unwrap(), 800)
            .await
            .unwrap();
        let refused = bodies.charge(bodies.turn("c2").unwrap(), 300).await;
        let refused = refused.err().unwrap();
        assert_eq!(refused.status.code, 503);
        assert_eq!(refused.retry_after, Some(RETRY_AFTER_SECS));
        // The refused body gave its connector's turn back.
        let small = bodies
            .charge(bodies.turn("c2").unwrap(), 200)
            .await
            .unwrap();
        drop(big);
        drop(small);
        assert_eq!(bodies.free_bytes(), 1000);
        // A body larger than the whole budget still goes through, alone.
        let huge = bodies.charge(bodies.turn("c3").unwrap(), 5000).await;
        assert!(huge.is_ok());
    }
}
