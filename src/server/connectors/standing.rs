//! Each connector's standing (token generation, revoked or not), kept in memory so the hot
//! connector endpoints refuse a stale or revoked token without reading the database.

use std::collections::HashMap;
use std::sync::RwLock;

use rusqlite::Connection;

use crate::server::domain_error::DomainResult;

/// Where one connector stands. Every change bumps `generation`, which orders the changes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Standing {
    pub generation: i64,
    pub revoked: bool,
}

/// Why a connector token is refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refused {
    /// No such connector (never enrolled here, or deleted).
    Unknown,
    Revoked,
    /// Issued before the connector was enrolled again, revoked, restored or its chain stolen.
    Superseded,
}

#[derive(Default)]
pub struct Standings(RwLock<HashMap<String, Standing>>);

impl Standings {
    pub fn new(all: impl IntoIterator<Item = (String, Standing)>) -> Self {
        Standings(RwLock::new(all.into_iter().collect()))
    }

    /// Whether a token of `generation` for connector `id` may still be used.
    pub fn admit(&self, id: &str, generation: i64) -> Result<(), Refused> {
        let map = self.0.read().unwrap_or_else(|p| p.into_inner());
        match map.get(id) {
            None => Err(Refused::Unknown),
            Some(s) if s.revoked => Err(Refused::Revoked),
            Some(s) if s.generation != generation => Err(Refused::Superseded),
            Some(_) => Ok(()),
        }
    }

    /// Records a change committed to the database. Changes may arrive out of order from
    /// concurrent requests; an older generation never overwrites a newer one.
    pub fn set(&self, id: &str, standing: Standing) {
        let mut map = self.0.write().unwrap_or_else(|p| p.into_inner());
        let newer = map
            .get(id)
            .is_none_or(|old| old.generation <= standing.generation);
        if newer {
            map.insert(id.to_string(), standing);
        }
    }
}

/// Every connector's standing, to fill [`Standings`] at start.
pub fn load(c: &Connection) -> DomainResult<Vec<(String, Standing)>> {
    let mut stmt =
        c.prepare("SELECT id, token_generation, revoked_at IS NOT NULL FROM connector_clients")?;
    let all = stmt
        .query_map([], |r| {
            Ok((
                r.get(0)?,
                Standing {
                    generation: r.get(1)?,
                    revoked: r.get(2)?,
                },
            ))
        })?
        .collect::<Result<Vec<_>, _>>()?;
    Ok(all)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_older_change_never_overwrites_a_newer_one() {
        let s = Standings::default();
        let revoked = Standing {
            generation: 2,
            revoked: true,
        };
        s.set("c", revoked);
        s.set(
            "c",
            Standing {
                generation: 1,
                revoked: false,
            },
        );
        assert_eq!(s.admit("c", 2), Err(Refused::Revoked));
        assert_eq!(s.admit("x", 0), Err(Refused::Unknown));
    }
}
