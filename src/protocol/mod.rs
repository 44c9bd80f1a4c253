//! The JSON that crosses the wire between connector and appliance. Shared by both sides so the
//! two cannot drift apart; it depends on neither Rocket nor SQLite.
//!
//! Field names follow the deployment guide (camelCase). Unknown fields are ignored on the way in,
//! so an older appliance accepts a newer connector.

pub mod api;
pub mod calendar;
pub mod groups;
pub mod money;
pub mod parts;
pub mod schedule;
pub mod text;
pub mod update;

use serde::{Deserialize, Serialize};

pub use api::*;
pub use calendar::MonthKey;
pub use money::Amount;
pub use parts::*;
pub use schedule::{QuietHours, SyncOrder, SyncSchedule};
pub use update::*;

/// `POST /api/connector/sync`: the chart of accounts and month balances.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SyncPayload {
    pub chart_of_accounts: ChartOfAccounts,
    /// The date the current month's balances were read at (`YYYY-MM-DD`); equals `balances.current.asOfDate`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub as_of_date: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub company_id: Option<String>,
    /// The run from `sync/start` this ingestion belongs to, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sync_run_id: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ChartOfAccounts {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub generated_at: Option<String>,
    /// Facts about the Tally company the books were read from.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub company: Option<CompanyFacts>,
    #[serde(default)]
    pub groups: Vec<GroupRecord>,
    #[serde(default)]
    pub ledgers: Vec<LedgerRecord>,
    pub balances: Balances,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CompanyFacts {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tally_company_name: Option<String>,
    /// `YYYY-MM-DD`
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub books_from: Option<String>,
    /// `YYYY-MM-DD`
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub financial_year_from: Option<String>,
    /// What Tally shows as "Difference in opening balances": the sum of every ledger's opening
    /// balance and the opening stock at the books' beginning (positive = debit). Zero when the
    /// openings tally; every month's trial balance carries it (help.tallysolutions.com,
    /// "Trial Balance": the contrary balance appears as Difference in opening balances).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub opening_difference: Option<Amount>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct GroupRecord {
    pub name: String,
    /// The parent group's name; absent, empty or `Primary` for a top-level group.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parent: Option<String>,
    pub guid: String,
    #[serde(default, rename = "type", skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub is_revenue: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub is_deemed_positive: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub affects_gross_profit: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reserved_name: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LedgerRecord {
    pub guid: String,
    pub name: String,
    /// The ledger's group, by name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parent: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub group_name: Option<String>,
    #[serde(default, rename = "type", skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
}

impl LedgerRecord {
    /// The group a ledger belongs to: `parent`, else `groupName`.
    pub fn group(&self) -> Option<&str> {
        self.parent
            .as_deref()
            .filter(|p| !p.trim().is_empty())
            .or(self.group_name.as_deref())
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Balances {
    pub current: MonthBalances,
    #[serde(default)]
    pub closed_months: Vec<MonthBalances>,
}

/// Closing balances of the ledgers at `asOfDate`, the month's last day for a closed month.
/// A ledger missing from `items` has a zero balance.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct MonthBalances {
    pub month_key: String,
    pub as_of_date: String,
    #[serde(default)]
    pub items: Vec<BalanceItem>,
    /// The stock value of a company whose accounts are integrated with inventory; absent when
    /// the connector did not read it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stock: Option<StockValues>,
}

/// A month's stock value, positive = debit (stock is an asset). Tally's trial balance shows the
/// opening stock (at the start of the financial year, or of the books) beside the ledgers, and
/// leaves the closing stock to the balance sheet and the profit and loss account, where it
/// would otherwise count twice against the purchases (help.tallysolutions.com, "Why does the
/// closing stock not get reflected in the trial balance?").
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct StockValues {
    pub opening: Amount,
    pub closing: Amount,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct BalanceItem {
    pub ledger_guid: String,
    /// Positive = debit, negative = credit.
    pub balance: Amount,
}

/// The appliance's answer to an accepted `sync`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SyncAccepted {
    pub ingestion_id: i64,
    #[serde(default)]
    pub sync_run_id: Option<String>,
    pub groups: u64,
    pub ledgers: u64,
    pub ledgers_gone: u64,
    pub balances: u64,
    pub months: Vec<String>,
    /// Months stored although their balances do not sum to zero.
    #[serde(default)]
    pub unbalanced_months: Vec<UnbalancedMonth>,
}

impl SyncAccepted {
    /// An acceptance that stored nothing new (a part sent again after its sync was stored).
    pub fn nothing() -> SyncAccepted {
        SyncAccepted {
            ingestion_id: 0,
            sync_run_id: None,
            groups: 0,
            ledgers: 0,
            ledgers_gone: 0,
            balances: 0,
            months: Vec::new(),
            unbalanced_months: Vec::new(),
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct UnbalancedMonth {
    pub month_key: String,
    pub difference: Amount,
}

/// `POST /api/connector/auth`
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ConnectorAuthRequest {
    pub company_id: String,
    pub device_id: String,
    #[serde(default)]
    pub device_name: Option<String>,
    #[serde(default)]
    pub os: Option<String>,
    #[serde(default)]
    pub app_version: Option<String>,
    pub user_jwt: String,
}

/// `POST /api/connector/enroll`: the one-time code from a downloaded ZIP instead of a user's JWT.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct EnrollRequest {
    pub enrollment_code: String,
    pub device_id: String,
    #[serde(default)]
    pub device_name: Option<String>,
    #[serde(default)]
    pub os: Option<String>,
    #[serde(default)]
    pub app_version: Option<String>,
    /// The company the connector's config.json names; a code made for another is refused.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub company_id: Option<String>,
}

/// An enrolment code as an administrator sees it (never the code itself).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct EnrollmentCodeView {
    pub id: i64,
    pub company_id: String,
    pub created_by: Option<String>,
    pub created_at: String,
    pub expires_at: String,
    /// `unused`, `used`, `expired` or `revoked`.
    pub state: String,
    pub used_at: Option<String>,
    pub used_by_connector: Option<String>,
    pub revoked_at: Option<String>,
}

/// Answer to `auth` and `token/refresh`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ConnectorTokens {
    pub connector_token: String,
    /// Seconds the connector token lives.
    pub expires_in: u64,
    pub refresh_token: String,
    pub connector_id: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RefreshRequest {
    pub refresh_token: String,
}

/// Item counts a connector reports for a run; all optional.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SyncCounts {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub groups: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ledgers: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub months: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub balances: Option<u64>,
}

/// `POST /api/connector/sync/start`
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SyncStartRequest {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub company_id: Option<String>,
    /// What started it: `schedule`, `manual`, `startup`...
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub trigger: Option<String>,
    /// The "sync now" request (`syncRequest.id` of a heartbeat answer) this run carries out.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sync_request_id: Option<String>,
    /// Whether the run reads Tally in full (the status's `nextFullReadAt` counts from the last
    /// such run). Absent (older connectors): a run with trigger `full read` is one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub full_read: Option<bool>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SyncStartResponse {
    pub sync_run_id: String,
    /// The appliance takes a sync in parts of at most this size; absent from older appliances.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parts: Option<PartLimits>,
}

/// `POST /api/connector/sync/progress`
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SyncProgressRequest {
    pub sync_run_id: String,
    pub stage: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub percent: Option<u8>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub counts: Option<SyncCounts>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SyncOutcome {
    Succeeded,
    Failed,
}

/// `POST /api/connector/sync/complete`
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SyncCompleteRequest {
    pub sync_run_id: String,
    pub status: SyncOutcome,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub counts: Option<SyncCounts>,
}

/// `POST /api/connector/heartbeat`: the agent's state. Only `companyId` is in the guide's example;
/// the rest is what the connector knows about itself.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct HeartbeatRequest {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub company_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub app_version: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tally_reachable: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub company_open: Option<bool>,
    /// The Tally company being read.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tally_company: Option<String>,
    /// Which product answered (`TallyPrime 4.1`, or the simulator naming itself).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tally_product: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_sync: Option<LastSync>,
    /// The heartbeat interval the agent runs with, in seconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub interval_seconds: Option<u32>,
    /// Free text: what the agent is doing or what it needs (`idle`, `syncing`, `needs setup`...).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub state: Option<String>,
    /// The connector's last self-update attempt, until it has been reported once. One the
    /// appliance cannot read is dropped, not the heartbeat (see [`update::lenient_attempt`]).
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "update::lenient_attempt"
    )]
    pub last_update: Option<UpdateAttempt>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LastSync {
    /// RFC 3339 time the sync finished.
    pub at: String,
    pub outcome: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sync_run_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct HeartbeatResponse {
    /// RFC 3339, UTC.
    pub server_time: String,
    pub next_heartbeat_seconds: u32,
    /// The version this connector should run (self-update); absent from older appliances and
    /// when the appliance carries no release for the connector's target.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub update: Option<UpdateInstruction>,
    /// When to sync, as the appliance's administrators set it; absent from older appliances
    /// and when none is set (config.json's `sync_interval_minutes` then holds).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub schedule: Option<SyncSchedule>,
    /// A "sync now" waiting for this connector's company.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sync_request: Option<SyncOrder>,
}

/// The error body of every failed request (CONTRACT.md).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ErrorBody {
    pub error: String,
    pub message: String,
    #[serde(default)]
    pub details: Vec<ErrorDetail>,
}

/// One problem, located by its JSON path (`chartOfAccounts.ledgers[3].parent`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ErrorDetail {
    pub path: String,
    pub message: String,
}

/// `POST /api/auth/login`
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct LoginRequest {
    pub username: String,
    pub password: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LoginResponse {
    pub token: String,
    /// Seconds the token lives.
    pub expires_in: u64,
    pub user: UserSummary,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct UserSummary {
    pub username: String,
    pub role: String,
}

/// A company as `GET /api/companies` lists it.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CompanySummary {
    pub id: String,
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tally_company_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub books_from: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub financial_year_from: Option<String>,
}
