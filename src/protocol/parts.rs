//! A sync delivered in parts (`POST /api/connector/sync/part`), for a company whose payload is
//! larger than the appliance accepts in one body. The appliance announces its limit in the
//! `sync/start` answer; a connector that sees no announcement (an older appliance) sends one
//! payload as before.
//!
//! Part 0 carries the chart of accounts, once per sync; every part carries whole months or, when
//! one month alone is too big, a slice of a month's ledgers. The appliance stores the months only
//! when every part of the run has arrived.

use serde::{Deserialize, Serialize};

use super::{
    BalanceItem, CompanyFacts, GroupRecord, LedgerRecord, MonthBalances, StockValues, SyncAccepted,
};

/// What the appliance accepts per part, announced in the `sync/start` answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PartLimits {
    /// The largest part, in bytes of (decompressed) JSON.
    pub max_part_bytes: u64,
}

/// Where a part stands in its sync: `index` counts from 0 to `count - 1`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PartPosition {
    pub index: u32,
    pub count: u32,
}

/// The chart of accounts without balances: part 0's.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PartChart {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub generated_at: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub company: Option<CompanyFacts>,
    #[serde(default)]
    pub groups: Vec<GroupRecord>,
    #[serde(default)]
    pub ledgers: Vec<LedgerRecord>,
}

/// A month, or a slice of its ledgers: a [`MonthBalances`] that says whether it is closed
/// (false for the current month only). Spelt out rather than flattened: serde's flatten
/// buffers the amounts, which exact decimals do not survive.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PartMonth {
    pub closed: bool,
    pub month_key: String,
    pub as_of_date: String,
    #[serde(default)]
    pub items: Vec<BalanceItem>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stock: Option<StockValues>,
}

impl PartMonth {
    /// The month as a whole payload carries it, and whether it is closed.
    pub fn into_balances(self) -> (bool, MonthBalances) {
        let month = MonthBalances {
            month_key: self.month_key,
            as_of_date: self.as_of_date,
            items: self.items,
            stock: self.stock,
        };
        (self.closed, month)
    }
}

/// `POST /api/connector/sync/part`
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SyncPart {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub company_id: Option<String>,
    pub sync_run_id: String,
    pub part: PartPosition,
    /// The date the current month's balances were read at (`YYYY-MM-DD`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub as_of_date: Option<String>,
    /// Part 0 only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub chart_of_accounts: Option<PartChart>,
    #[serde(default)]
    pub months: Vec<PartMonth>,
}

/// The answer to a part: how many of the run's parts the appliance holds, and, once it holds
/// them all, what it stored.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SyncPartAccepted {
    pub sync_run_id: String,
    pub index: u32,
    pub count: u32,
    pub received: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stored: Option<SyncAccepted>,
}
