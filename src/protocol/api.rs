//! The appliance's own API shapes beyond the connector's: administration requests and the
//! answers the web page and scripts read. Kept here, beside the connector's wire types, so every
//! JSON shape the appliance speaks is in one place.

use serde::{Deserialize, Serialize};

use super::Amount;

/// `POST /api/companies` (admin).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct NewCompany {
    pub name: String,
    #[serde(default)]
    pub id: Option<String>,
}

/// `POST /api/users` (admin).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct NewUser {
    pub username: String,
    pub password: String,
    pub role: String,
    #[serde(default)]
    pub company_ids: Vec<String>,
}

/// A user as `POST /api/users` and `GET /api/users` show it.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct UserView {
    pub id: i64,
    pub username: String,
    pub role: String,
    pub company_ids: Vec<String>,
    /// A disabled user cannot sign in, and their tokens do not work.
    #[serde(default)]
    pub disabled: bool,
}

/// Answer to a password reset (`PUT /api/users/{id}/password`): the user, and the connectors
/// they enrolled that still work. The reset does not stop them; an admin revokes any that
/// should not be trusted (`POST /api/connectors/{id}/revoke`).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PasswordReset {
    #[serde(flatten)]
    pub user: UserView,
    pub enrolled_connectors: Vec<EnrolledConnector>,
}

/// A connector a user enrolled, as a password reset lists it.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct EnrolledConnector {
    pub connector_id: String,
    pub company_id: String,
    pub company_name: String,
    pub device_id: String,
    pub device_name: Option<String>,
    /// When this user enrolled it (its latest enrolment), when the device was first enrolled
    /// by anyone, and when it was last heard from.
    pub enrolled_at: String,
    pub first_seen: String,
    pub last_seen: String,
}

/// Answer to `sync/progress` and `sync/complete`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SyncRunAck {
    pub ok: bool,
    pub sync_run_id: String,
}

/// Answer to `POST /api/connectors/{id}/revoke`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ConnectorRevoked {
    pub connector_id: String,
    pub revoked: bool,
}

/// Where a sync run stands. Only `running` accepts progress; `abandoned` (the appliance gave up
/// waiting) may still be completed by a connector that was only slow.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RunStatus {
    Running,
    Succeeded,
    Failed,
    Abandoned,
}

impl RunStatus {
    pub const ALL: [RunStatus; 4] = [
        RunStatus::Running,
        RunStatus::Succeeded,
        RunStatus::Failed,
        RunStatus::Abandoned,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            RunStatus::Running => "running",
            RunStatus::Succeeded => "succeeded",
            RunStatus::Failed => "failed",
            RunStatus::Abandoned => "abandoned",
        }
    }

    pub fn parse(s: &str) -> Option<RunStatus> {
        RunStatus::ALL.into_iter().find(|r| r.as_str() == s)
    }
}

impl std::fmt::Display for RunStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// `GET /api/connector/status?companyId=X`
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ConnectorStatus {
    pub company_id: String,
    pub server_time: String,
    pub connectors: Vec<ConnectorView>,
    pub last_sync_run: Option<RunView>,
    pub last_successful_sync: Option<RunView>,
    pub months: Vec<SnapshotSummary>,
    /// The company's sync schedule, when the next sync and full read are due, and its latest
    /// "sync now" request.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub schedule: Option<ScheduleStatus>,
}

/// Where a company's schedule comes from: its own, the firm-wide default, or (neither set)
/// each connector's config.json.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ScheduleSource {
    Company,
    Firm,
    Connector,
}

/// `GET/PUT/DELETE /api/companies/{id}/sync-schedule`, `GET/PUT /api/settings/sync-schedule`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ScheduleSetting {
    /// The schedule in force; `null` when connectors follow their config.json.
    pub schedule: Option<crate::protocol::SyncSchedule>,
    pub source: ScheduleSource,
}

/// The status API's view of a company's schedule. Times are RFC 3339; the appliance reckons
/// quiet hours and the full-read time in `utcOffset` (India Standard Time unless configured).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ScheduleStatus {
    #[serde(flatten)]
    pub setting: ScheduleSetting,
    pub utc_offset: String,
    /// Absent when the schedule is the connectors' own (the appliance does not know it).
    pub next_sync_at: Option<String>,
    pub next_full_read_at: Option<String>,
    /// The latest "sync now" request: pending, or the run it started.
    pub sync_request: Option<SyncRequestView>,
}

/// `POST /api/companies/{id}/sync-requests`: `{}` or `{"full": true}`.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct NewSyncRequest {
    #[serde(default)]
    pub full: bool,
}

/// A "sync now" request: `pending` until a connector starts the run for it, then `started`
/// with that run's id.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SyncRequestView {
    pub sync_request_id: String,
    pub company_id: String,
    pub status: String,
    pub full: bool,
    pub requested_by: Option<String>,
    pub requested_at: String,
    pub sync_run_id: Option<String>,
    pub started_at: Option<String>,
}

/// One enrolled connector as the status shows it.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ConnectorView {
    pub connector_id: String,
    pub device_id: String,
    pub device_name: Option<String>,
    pub os: Option<String>,
    pub app_version: Option<String>,
    pub online: bool,
    pub revoked: bool,
    pub first_seen: String,
    pub last_seen: String,
    pub last_heartbeat: Option<String>,
    pub heartbeat_interval_seconds: Option<u32>,
    pub agent_state: Option<serde_json::Value>,
    /// The update policy in force for it: `auto`, `paused` or `pinned`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub update_policy: Option<String>,
    /// The version it should run (absent when the appliance carries none for its system).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target_version: Option<String>,
    /// Whether the version it runs is older than `targetVersion`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub behind: Option<bool>,
    /// The last update attempt it reported.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_update: Option<crate::protocol::UpdateAttempt>,
}

/// One sync run as the status shows it.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RunView {
    pub sync_run_id: String,
    pub connector_id: String,
    pub status: RunStatus,
    pub trigger: Option<String>,
    /// The "sync now" request the run carried out.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sync_request_id: Option<String>,
    pub stage: String,
    pub percent: u8,
    pub counts: Option<serde_json::Value>,
    pub error: Option<String>,
    pub started_at: String,
    pub updated_at: String,
    pub finished_at: Option<String>,
    pub duration_ms: Option<i64>,
    /// A sync in parts: `receiving` while its parts arrive (nothing of it is in the books yet),
    /// `incomplete` when it ended before all arrived (its months keep their previous snapshots).
    /// Absent for any other run.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parts_outcome: Option<String>,
}

/// A month held for a company: `GET /api/companies/{id}/snapshots`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SnapshotSummary {
    pub month_key: String,
    pub as_of_date: String,
    /// A closed month holds month-end balances; the open (current) month a provisional reading.
    pub closed: bool,
    pub ledger_count: i64,
    pub debit_total: Amount,
    pub credit_total: Amount,
    /// The month's stock (an inventory company), as the connector read it from Tally.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stock: Option<super::StockValues>,
    /// Tally's "Difference in opening balances": part of every month's trial balance, shown
    /// apart from an unexplained difference.
    pub opening_difference: Amount,
    /// Ledgers + opening stock - opening difference: what Tally's own trial balance would
    /// leave unexplained. Zero when the month balances.
    pub difference: Amount,
    pub balanced: bool,
    pub ingested_at: String,
}

/// A month's trial balance: `GET /api/companies/{id}/snapshots/{YYYY-MM}`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TrialBalance {
    pub company_id: String,
    #[serde(flatten)]
    pub summary: SnapshotSummary,
    pub ledgers: Vec<TrialBalanceLine>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TrialBalanceLine {
    pub ledger_guid: String,
    pub ledger_name: String,
    /// From the top-level group down to the ledger's own group.
    pub group_path: Vec<String>,
    /// Positive = debit, negative = credit.
    pub balance: Amount,
    pub debit: Amount,
    pub credit: Amount,
    /// With `?compare=`: the balance at the month compared with (zero when the ledger had none).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub compare_balance: Option<Amount>,
    /// With `?compare=`: `balance - compareBalance`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub change: Option<Amount>,
}

/// `GET /api/overview`: every company the caller may see, with what a bookkeeper checks first.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Overview {
    pub server_time: String,
    /// Connectors not revoked and not online, over every company shown.
    pub offline_connectors: usize,
    pub companies: Vec<CompanyOverview>,
    /// The newest backup in the appliance's data folder; `null` before the first.
    #[serde(default)]
    pub last_backup: Option<BackupInfo>,
}

/// A backup the appliance holds: when it was written (RFC 3339) and its size in bytes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct BackupInfo {
    pub at: String,
    pub size: u64,
}

/// One company on the overview.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CompanyOverview {
    pub id: String,
    pub name: String,
    pub tally_company_name: Option<String>,
    pub financial_year_from: Option<String>,
    pub connectors: Vec<OverviewConnector>,
    pub last_sync_run: Option<RunView>,
    pub last_successful_sync: Option<RunView>,
    /// The newest month held, and so how fresh the books are (its `asOfDate`).
    pub latest_month: Option<SnapshotSummary>,
    pub months_held: usize,
    /// Months held whose balances do not sum to zero.
    pub unbalanced_months: Vec<String>,
    /// Closed months a sync changed in the last 90 days, newest first.
    #[serde(default)]
    pub restated_months: Vec<RestatedMonth>,
    /// Set when this company's data could not be read: a sentence for the card (the cause is in
    /// the appliance's log); the other fields are then empty. The other companies are unaffected.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unreadable: Option<String>,
}

/// A connector on the overview: its online state, what its last heartbeat said about Tally, and
/// its update state as in the status. Its agent state, system and version are the status's
/// (`GET /api/connector/status`), which the company page reads.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct OverviewConnector {
    pub connector_id: String,
    pub device_id: String,
    pub device_name: Option<String>,
    pub online: bool,
    pub revoked: bool,
    pub last_seen: String,
    pub last_heartbeat: Option<String>,
    pub tally_reachable: Option<bool>,
    pub company_open: Option<bool>,
    /// As in the status: the policy in force, the version it should run, whether it is behind,
    /// its last update attempt.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub update_policy: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target_version: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub behind: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_update: Option<crate::protocol::UpdateAttempt>,
}

/// `GET /api/companies/{id}/reports/{YYYY-MM}/trial-balance`: the month as a group tree.
/// Group subtotals add up the debit and credit balances of every ledger below the group, so the
/// top-level groups' columns sum to the snapshot's totals.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TrialBalanceTree {
    pub company_id: String,
    #[serde(flatten)]
    pub summary: SnapshotSummary,
    pub groups: Vec<TrialBalanceGroup>,
    /// With `?compare=previous|year`: the month compared with, and whether it is held.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub compared_with: Option<ComparedMonth>,
}

/// The month a report is compared with (`?compare=previous` or `?compare=year`).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ComparedMonth {
    pub month_key: String,
    /// `false`: the month is not held, and the report carries no compared figures.
    pub held: bool,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TrialBalanceGroup {
    pub name: String,
    pub debit: Amount,
    pub credit: Amount,
    /// Debit minus credit: positive is a debit balance.
    pub balance: Amount,
    pub groups: Vec<TrialBalanceGroup>,
    pub ledgers: Vec<TrialBalanceLine>,
    /// With `?compare=`: the group's balance at the month compared with.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub compare_balance: Option<Amount>,
    /// With `?compare=`: `balance - compareBalance`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub change: Option<Amount>,
}

/// `GET /api/companies/{id}/reports/{YYYY-MM}/profit-and-loss`: the month and the financial year
/// to date, from the revenue groups, with an inventory company's opening and closing stock.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ProfitAndLoss {
    pub company_id: String,
    pub month_key: String,
    pub as_of_date: String,
    /// The first month of the financial year the month belongs to.
    pub year_from: String,
    /// `None` when the previous month of the same year is not held, so the month alone is unknown.
    pub month: Option<ProfitFigures>,
    pub month_missing_reason: Option<String>,
    pub year_to_date: ProfitFigures,
    /// With `?compare=previous|year`: the month compared with, and whether it is held.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub compared_with: Option<ComparedMonth>,
    /// With `?compare=` and the month held: that month's profit and loss.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub compared: Option<Box<ProfitAndLoss>>,
}

/// Income and expense per primary group; positive amounts on each group's own side.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ProfitFigures {
    pub groups: Vec<ReportGroup>,
    /// Trading income minus trading expense (groups that affect gross profit).
    pub gross_profit: Amount,
    /// All income minus all expense; negative is a loss.
    pub net_profit: Amount,
    /// An inventory company's stock at the period's start and end (debit positive); gross and
    /// net profit include closing less opening stock, as in Tally's trading account.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub opening_stock: Option<Amount>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub closing_stock: Option<Amount>,
}

/// A primary group's amount on its own side: income and liabilities as credits, expenses and
/// assets as debits, each positive when on that side.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ReportGroup {
    pub name: String,
    pub nature: super::groups::Nature,
    pub affects_gross_profit: bool,
    pub amount: Amount,
}

/// `GET /api/companies/{id}/reports/{YYYY-MM}/balance-sheet`: at the month's end.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct BalanceSheet {
    pub company_id: String,
    pub month_key: String,
    pub as_of_date: String,
    pub liabilities: Vec<ReportGroup>,
    /// Net profit of the financial year to date, shown on the liabilities side.
    pub profit_and_loss: Amount,
    pub assets: Vec<ReportGroup>,
    pub total_liabilities: Amount,
    pub total_assets: Amount,
    /// An inventory company's closing stock, counted in Current Assets as in Tally.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub closing_stock: Option<Amount>,
    /// With `?compare=previous|year`: the month compared with, and whether it is held.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub compared_with: Option<ComparedMonth>,
    /// With `?compare=` and the month held: that month's balance sheet.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub compared: Option<Box<BalanceSheet>>,
}

/// `GET /api/companies/{id}/restatements`: closed months that a later sync replaced with
/// different balances, newest first.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Restatements {
    pub company_id: String,
    pub restatements: Vec<Restatement>,
    /// `before=` for the next (older) page; absent on the last page.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_before: Option<String>,
}

/// One closed month as one ingestion changed it.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Restatement {
    pub month_key: String,
    /// When the changed balances arrived.
    pub received_at: String,
    pub ingestion_id: i64,
    /// The sync run the changed balances came in, when they came in one.
    pub sync_run_id: Option<String>,
    pub ledgers_changed: usize,
    /// The debit-side changes summed (every positive `change`): the size of the entries that
    /// moved, as the changes of a month that still balances net to zero.
    pub amount: Amount,
    /// What the changes did to the financial year's profit (income and expense ledgers; a
    /// change in stock is not recorded): positive is more profit.
    pub profit_change: Amount,
    /// The largest changes (at most 200), largest first; `ledgers_changed` counts them all.
    pub lines: Vec<RestatedLine>,
}

/// A ledger whose balance at a closed month's end changed: `old` and `new` debit positive.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RestatedLine {
    pub ledger_guid: String,
    pub ledger_name: String,
    pub old: Amount,
    pub new: Amount,
    /// `new - old`.
    pub change: Amount,
}

/// On the overview: a closed month changed after it was first received (the last 90 days).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RestatedMonth {
    pub month_key: String,
    pub received_at: String,
    pub ledgers: usize,
    /// As `Restatement::amount`.
    pub amount: Amount,
    /// As `Restatement::profit_change`.
    pub profit_change: Amount,
}

/// `GET /api/companies/{id}/series?ledger=NAME` or `?group=NAME`: every month held.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Series {
    pub company_id: String,
    /// `ledger` or `group`.
    pub kind: String,
    pub name: String,
    /// A revenue ledger or group: its closing balances run from the financial year's start, and
    /// each point carries the month's own movement.
    pub revenue: bool,
    pub points: Vec<SeriesPoint>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SeriesPoint {
    pub month_key: String,
    pub as_of_date: String,
    /// Debit positive.
    pub closing: Amount,
    /// Revenue only: the month alone (`null` when the previous month of the year is not held).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub movement: Option<Amount>,
}
