//! The agent: sync runs, the outbox, heartbeats, and the schedule that drives them. A sync and
//! the heartbeat run on their own timers, so a long sync never delays a heartbeat; problems with
//! Tally or the appliance fail a run and are retried on schedule, never ending the process.

use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use super::appliance::{Appliance, ApplianceError, Body, RetryPolicy};
use super::config::Config;
use super::extract::{
    changes_since, choose_company, closed_months, extract, Changes, ExtractError,
};
use super::outbox::{without_run_id, Outbox, Pending};
use super::schedule::{self, Next, Situation};
use super::state::{LastSyncState, State, StateStore, TallyMarkers};
use super::update::{Swapped, Updater};
use crate::protocol::schedule::Plan;
use crate::protocol::*;
use crate::tally::{TallyClient, TallyCompany};
use time::PrimitiveDateTime;

/// The version this program reports and the updater compares. `AICFO_CONNECTOR_VERSION` at
/// build time overrides the package's (the update tests build a "next" version this way).
pub const APP_VERSION: &str = match option_env!("AICFO_CONNECTOR_VERSION") {
    Some(v) => v,
    None => env!("CARGO_PKG_VERSION"),
};

/// A full extraction runs at least this often, even when Tally says nothing changed.
const FULL_SYNC_EVERY_SECS: i64 = 24 * 60 * 60;

#[derive(Debug, Clone, PartialEq)]
pub enum SyncReport {
    /// The data reached the appliance.
    Delivered {
        sync_run_id: Option<String>,
        months: usize,
        balances: u64,
    },
    /// Tally's books had not changed since the last sync.
    Unchanged,
    /// Read from Tally, but the appliance is away: waiting in the outbox.
    Queued { pending: usize, reason: String },
    /// Not read: another connector of the company had already started the "sync now".
    TakenElsewhere,
}

/// What a pass over the outbox did.
#[derive(Debug, Default)]
pub struct Delivery {
    pub delivered: usize,
    /// Refused for good (and set aside): these never reach the appliance as they are.
    pub refused: Vec<ApplianceError>,
}

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum SyncFailure {
    #[error("{0}")]
    Tally(#[from] ExtractError),
    #[error("{0}")]
    Appliance(#[from] ApplianceError),
    #[error("{0}")]
    Local(String),
}

/// Tally's change markers (ALTMSTID, ALTVCHID) of what the appliance holds from a full read of
/// this company this month, within the day; `None` when a full read is due.
fn held_markers(
    last: &LastSyncState,
    company: &TallyCompany,
    today: time::Date,
) -> Option<(u64, u64)> {
    let current = last.tally_company.as_deref() == Some(company.name.as_str())
        && full_read_current(last, today);
    current.then_some((last.alt_mst_id?, last.alt_vch_id?))
}

/// Whether the appliance holds a full read from this month, within the day: if not, the next
/// sync reads in full.
fn full_read_current(last: &LastSyncState, today: time::Date) -> bool {
    last.full_sync_month.as_deref() == Some(MonthKey::of(today).to_string().as_str())
        && last
            .full_sync_at
            .is_some_and(|t| unix_now() - t < FULL_SYNC_EVERY_SECS)
}

fn log_result(result: &Result<SyncReport, SyncFailure>) {
    match result {
        Ok(SyncReport::Delivered {
            months, balances, ..
        }) => log::info!("sync done: {balances} balances in {months} months delivered"),
        Ok(SyncReport::Unchanged) => {
            log::info!("sync done: nothing changed in Tally since the last sync")
        }
        Ok(SyncReport::Queued { pending, reason }) => {
            log::warn!("sync read Tally, but {pending} payload(s) wait in the outbox: {reason}")
        }
        Ok(SyncReport::TakenElsewhere) => {}
        Err(e) => log::error!("sync failed: {e}"),
    }
}

/// The appliance's answer that another connector of the company already started the "sync
/// now" this run was for: nothing to read.
fn request_taken(e: &ApplianceError) -> bool {
    matches!(e, ApplianceError::Rejected { status: 409, code, .. } if code == "sync_request_taken")
}

impl SyncFailure {
    /// The exit code of `once`: 3 Tally, 4 appliance away, 5 needs setup, 1 anything else.
    pub fn exit_code(&self) -> u8 {
        match self {
            SyncFailure::Tally(_) => 3,
            SyncFailure::Appliance(ApplianceError::NeedsSetup { .. }) => 5,
            SyncFailure::Appliance(e) if e.is_transient() => 4,
            _ => 1,
        }
    }
}

fn now_rfc3339() -> String {
    time::OffsetDateTime::now_utc()
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default()
}

fn unix_now() -> i64 {
    time::OffsetDateTime::now_utc().unix_timestamp()
}

fn to_local(t: time::OffsetDateTime) -> PrimitiveDateTime {
    let t = time::UtcOffset::current_local_offset()
        .map(|o| t.to_offset(o))
        .unwrap_or(t);
    PrimitiveDateTime::new(t.date(), t.time())
}

/// Now as the bookkeeper's PC sees it: schedules are in local time.
fn local_now() -> PrimitiveDateTime {
    to_local(time::OffsetDateTime::now_utc())
}

/// Today as the bookkeeper's PC sees it: Tally's dates are local dates.
pub fn local_today() -> time::Date {
    time::OffsetDateTime::now_local()
        .unwrap_or_else(|_| time::OffsetDateTime::now_utc())
        .date()
}

pub struct Agent {
    pub cfg: Config,
    pub home: PathBuf,
    pub appliance: Appliance,
    pub tally: TallyClient,
    pub outbox: Outbox,
    state: Arc<Mutex<State>>,
    store: Arc<StateStore>,
    /// What the heartbeat reports.
    status: Mutex<HeartbeatRequest>,
    /// One sync or outbox delivery at a time.
    sync_lock: Arc<tokio::sync::Mutex<()>>,
    current_run: Mutex<Option<String>>,
    pub updater: Updater,
    /// What the last heartbeat answer said about when to sync.
    orders: Mutex<Orders>,
    /// Wakes the scheduler when a heartbeat answer changes `orders`.
    orders_changed: tokio::sync::Notify,
    /// Whether a heartbeat was answered since start.
    answered: std::sync::atomic::AtomicBool,
}

/// The schedule and "sync now" request of the last heartbeat answer.
#[derive(Debug, Default, PartialEq)]
struct Orders {
    schedule: Option<SyncSchedule>,
    request: Option<SyncOrder>,
}

/// How [`Agent::run`] ended.
#[derive(Debug)]
pub enum RunEnd {
    Stopped,
    /// A new version is in place: the process restarts into it.
    Updated(Swapped),
}

impl Agent {
    pub fn new(cfg: Config, home: PathBuf) -> Result<Agent, String> {
        let store = Arc::new(StateStore::new(&home));
        let state = store.load();
        store
            .save(&state)
            .map_err(|e| format!("cannot write {}: {e}", store.path().display()))?;
        let state = Arc::new(Mutex::new(state));
        let policy = RetryPolicy {
            retries: cfg.max_retry_attempts,
            first_delay: Duration::from_secs(u64::from(cfg.retry_delay_seconds)),
        };
        let manual = Some(cfg.connector_token.clone())
            .filter(|t| !t.is_empty() && t != "your-connector-token");
        let appliance = Appliance::new(
            &cfg.api_url,
            cfg.tls_cert_sha256.as_deref(),
            policy,
            manual,
            state.clone(),
            store.clone(),
        );
        let tally = TallyClient::new(
            &cfg.tally_url,
            Duration::from_secs(u64::from(cfg.tally_timeout_seconds)),
        )
        .map_err(|e| e.to_string())?;
        let last = state
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .last_sync
            .clone();
        let status = HeartbeatRequest {
            company_id: Some(cfg.company_id.clone()),
            app_version: Some(APP_VERSION.into()),
            interval_seconds: Some(cfg.heartbeat_interval_seconds),
            state: Some("starting".into()),
            last_sync: last.map(|l| LastSync {
                at: l.at,
                outcome: l.outcome,
                sync_run_id: l.sync_run_id,
                error: l.error,
            }),
            ..HeartbeatRequest::default()
        };
        Ok(Agent {
            updater: Updater::new(&home, APP_VERSION, cfg.auto_update),
            outbox: Outbox::new(&home),
            cfg,
            home,
            appliance,
            tally,
            state,
            store,
            status: Mutex::new(status),
            sync_lock: Arc::new(tokio::sync::Mutex::new(())),
            current_run: Mutex::new(None),
            orders: Mutex::default(),
            orders_changed: tokio::sync::Notify::new(),
            answered: std::sync::atomic::AtomicBool::new(false),
        })
    }

    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn status(&self) -> std::sync::MutexGuard<'_, HeartbeatRequest> {
        self.status.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Changes the last sync's record and saves the state.
    fn update_last_sync(&self, change: impl FnOnce(&mut LastSyncState)) {
        let snapshot = {
            let mut s = self.state();
            change(s.last_sync.get_or_insert_with(LastSyncState::default));
            s.clone()
        };
        if let Err(e) = self.store.save(&snapshot) {
            log::error!("cannot save {}: {e}", self.store.path().display());
        }
    }

    fn record_last_sync(&self, last: LastSyncState) {
        self.status().last_sync = Some(LastSync {
            at: last.at.clone(),
            outcome: last.outcome.clone(),
            sync_run_id: last.sync_run_id.clone(),
            error: last.error.clone(),
        });
        let snapshot = {
            let mut s = self.state();
            s.last_sync = Some(last);
            s.clone()
        };
        if let Err(e) = self.store.save(&snapshot) {
            log::error!("cannot save {}: {e}", self.store.path().display());
        }
    }

    /// One sync: read Tally, queue the payload, deliver the queue, report the run.
    pub async fn sync_once(
        &self,
        trigger: &str,
        force_full: bool,
    ) -> Result<SyncReport, SyncFailure> {
        self.sync_for(trigger, force_full, None).await.1
    }

    /// Like [`Agent::sync_once`], the run carrying out the "sync now" request `request`; with
    /// the id of the run the appliance opened (`None` when it was away or refused).
    pub async fn sync_for(
        &self,
        trigger: &str,
        force_full: bool,
        request: Option<&str>,
    ) -> (Option<String>, Result<SyncReport, SyncFailure>) {
        let _one_at_a_time = self.sync_lock.lock().await;
        self.status().state = Some("syncing".into());
        self.finish_waiting_parts().await;
        let full_read = force_full
            || !full_read_current(
                &self.state().last_sync.clone().unwrap_or_default(),
                local_today(),
            );
        let started = match self.start_run(trigger, request, full_read).await {
            Ok(started) => started,
            Err(SyncFailure::Appliance(e)) if request_taken(&e) => {
                log::info!("not reading Tally for the \"sync now\" {}: another connector of this company started it", request.unwrap_or_default());
                self.status().state = Some("idle".into());
                return (None, Ok(SyncReport::TakenElsewhere));
            }
            Err(e) => return (None, Err(e)),
        };
        let part_limit = started
            .as_ref()
            .and_then(|s| s.parts)
            .map(|p| p.max_part_bytes);
        let run = started.map(|s| s.sync_run_id);
        *self.current_run.lock().unwrap_or_else(|p| p.into_inner()) = run.clone();
        let result = self.sync_run(run.as_deref(), part_limit, force_full).await;
        *self.current_run.lock().unwrap_or_else(|p| p.into_inner()) = None;
        if let Some(run_id) = &run {
            self.report_run_end(run_id, &result).await;
        }
        let (outcome, error) = match &result {
            Ok(SyncReport::Delivered { .. }) => ("succeeded", None),
            // Taken elsewhere returned above, having read nothing.
            Ok(SyncReport::Unchanged | SyncReport::TakenElsewhere) => ("unchanged", None),
            Ok(SyncReport::Queued { reason, .. }) => ("queued", Some(reason.clone())),
            Err(e) => ("failed", Some(e.to_string())),
        };
        let mut last = self.state().last_sync.clone().unwrap_or_default();
        last.at = now_rfc3339();
        last.outcome = outcome.into();
        last.error = error;
        last.sync_run_id = run.clone();
        self.record_last_sync(last);
        self.status().state = Some(match &result {
            Ok(_) => "idle".into(),
            Err(e) => e.to_string(),
        });
        log_result(&result);
        (run, result)
    }

    /// Parts of an earlier sync still waiting go first: a new run would supersede theirs at
    /// the appliance, and what they carry would be lost.
    async fn finish_waiting_parts(&self) {
        let waiting = self
            .outbox
            .pending()
            .is_ok_and(|p| p.iter().any(|p| p.part.is_some()));
        if !waiting {
            return;
        }
        match self.deliver_outbox().await {
            Ok(d) if d.delivered > 0 => log::info!("delivered {} waiting part(s)", d.delivered),
            Ok(_) => {}
            Err(e) => log::warn!("waiting parts not delivered yet: {e}"),
        }
    }

    /// Opens a run at the appliance; `None` when it is away (the sync goes on into the outbox).
    /// `full_read`: whether the run will read Tally in full, as far as can be known before
    /// Tally is asked (another company open there also makes it one).
    async fn start_run(
        &self,
        trigger: &str,
        request: Option<&str>,
        full_read: bool,
    ) -> Result<Option<SyncStartResponse>, SyncFailure> {
        let req = SyncStartRequest {
            company_id: Some(self.cfg.company_id.clone()),
            trigger: Some(trigger.into()),
            sync_request_id: request.map(str::to_string),
            full_read: Some(full_read),
        };
        match self.appliance.sync_start(&req).await {
            Ok(r) => Ok(Some(r)),
            Err(e) if e.is_transient() => {
                log::warn!("the appliance is not reachable ({e}); reading Tally anyway and keeping the data in the outbox");
                Ok(None)
            }
            Err(e) if request_taken(&e) => Err(e.into()),
            Err(e) => {
                log::error!("sync not started: {e}");
                self.status().state = Some(e.to_string());
                Err(e.into())
            }
        }
    }

    /// Tells the appliance how the run ended. A run whose payload waits in the outbox is left
    /// running: it is completed when that payload is delivered (see `deliver_outbox`), and
    /// marked abandoned by the appliance if it never is.
    async fn report_run_end(&self, run_id: &str, result: &Result<SyncReport, SyncFailure>) {
        let (status, error) = match result {
            Ok(SyncReport::Queued { reason, .. }) => {
                let req = SyncProgressRequest {
                    sync_run_id: run_id.to_string(),
                    stage: "waiting in the outbox".into(),
                    percent: None,
                    message: Some(reason.clone()),
                    counts: None,
                };
                let _ = self.appliance.sync_progress(&req).await;
                return;
            }
            Ok(_) => (SyncOutcome::Succeeded, None),
            Err(e) => (SyncOutcome::Failed, Some(e.to_string())),
        };
        let complete = SyncCompleteRequest {
            sync_run_id: run_id.to_string(),
            status,
            error,
            counts: None,
        };
        if let Err(e) = self.appliance.sync_complete(&complete).await {
            log::warn!("could not report the end of sync run {run_id}: {e}");
        }
    }

    async fn sync_run(
        &self,
        run: Option<&str>,
        part_limit: Option<u64>,
        force_full: bool,
    ) -> Result<SyncReport, SyncFailure> {
        let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<(String, u8)>();
        let progress_run = run.map(str::to_string);
        // Progress goes to the appliance as it comes, without holding up the reading.
        let forward = async {
            while let Some((stage, percent)) = rx.recv().await {
                if let Some(id) = &progress_run {
                    let req = SyncProgressRequest {
                        sync_run_id: id.clone(),
                        stage,
                        percent: Some(percent),
                        message: None,
                        counts: None,
                    };
                    if let Err(e) = self.appliance.sync_progress(&req).await {
                        log::debug!("progress not reported: {e}");
                    }
                }
            }
        };
        let work = async move {
            let mut report = |stage: &str, pct: u8| {
                log::info!("{stage} ({pct}%)");
                let _ = tx.send((stage.to_string(), pct));
            };
            self.read_and_queue(run, part_limit, force_full, &mut report)
                .await
        };
        let (result, ()) = tokio::join!(work, forward);
        let read = result?;
        let delivery = match self.deliver_outbox().await {
            Ok(d) => d,
            Err(SyncFailure::Appliance(e)) if e.is_transient() => {
                return Ok(SyncReport::Queued {
                    pending: self.outbox.pending().map(|p| p.len()).unwrap_or(0),
                    reason: e.to_string(),
                })
            }
            Err(e) => return Err(e),
        };
        // The appliance refused data for good: the sync failed, whatever else went.
        if let Some(refusal) = delivery.refused.into_iter().next() {
            return Err(refusal.into());
        }
        Ok(match read {
            None => SyncReport::Unchanged,
            Some((months, balances)) => SyncReport::Delivered {
                sync_run_id: run.map(str::to_string),
                months,
                balances,
            },
        })
    }

    /// Tally's product and the company to read, noted for the heartbeat as they are learnt.
    async fn open_company(
        &self,
        report: &mut (dyn FnMut(&str, u8) + Send),
    ) -> Result<(String, TallyCompany), SyncFailure> {
        report("connecting to Tally", 2);
        let product = self.tally.product().await.map_err(|e| {
            let mut s = self.status();
            s.tally_reachable = Some(false);
            s.company_open = None;
            SyncFailure::Tally(e.into())
        })?;
        {
            let mut s = self.status();
            s.tally_reachable = Some(true);
            s.tally_product = Some(product.clone());
        }
        let open = self.tally.companies().await.map_err(ExtractError::from)?;
        let company = choose_company(&open, &self.cfg.tally_company)
            .inspect_err(|_| self.status().company_open = Some(false))?;
        let mut s = self.status();
        s.company_open = Some(true);
        s.tally_company = Some(company.name.clone());
        Ok((product, company))
    }

    /// Reads Tally and puts the payload in the outbox; `None` when Tally has not changed.
    async fn read_and_queue(
        &self,
        run: Option<&str>,
        part_limit: Option<u64>,
        force_full: bool,
        report: &mut (dyn FnMut(&str, u8) + Send),
    ) -> Result<Option<(usize, u64)>, SyncFailure> {
        let (product, company) = self.open_company(report).await?;
        let today = local_today();
        let last = self.state().last_sync.clone().unwrap_or_default();
        let held = held_markers(&last, &company, today).filter(|_| !force_full);
        let mut closed = closed_months(today, &company, self.cfg.closed_months);
        let changes = changes_since(&self.tally, &company, held).await?;
        match &changes {
            Changes::None => {
                report(
                    "unchanged: nothing was altered in Tally since the last sync",
                    100,
                );
                return Ok(None);
            }
            // Only the month-ends a change can reach; the appliance keeps the others.
            Changes::Since(from) => closed.retain(|m| from.is_some_and(|f| *m >= f)),
            Changes::All => {}
        }
        report(&format!("reading `{}` from {product}", company.name), 5);
        let older = self.outbox.pending().unwrap_or_default();
        let extraction = extract(
            &self.tally,
            company,
            today,
            &closed,
            (Some(&self.cfg.company_id), run),
            part_limit,
            &self.outbox,
            report,
        )
        .await?;
        report("saving the data for sending", 92);
        let months = closed.len() + 1;
        let balances = extraction.counts.balances.unwrap_or(0);
        self.drop_superseded(older, &extraction.queued);
        // What Tally said travels with the payload; it becomes "delivered" only on acceptance.
        let markers = TallyMarkers {
            tally_company: extraction.company.name.clone(),
            alt_mst_id: extraction.company.alt_mst_id,
            alt_vch_id: extraction.company.alt_vch_id,
            // A partial read stands on the last full one: its time and month stay, so that the
            // daily full read still comes.
            read_at: match changes {
                Changes::All => unix_now(),
                _ => last.full_sync_at.unwrap_or(0),
            },
            month: MonthKey::of(today).to_string(),
        };
        if let Err(e) = self.outbox.set_markers(&extraction.queued, &markers) {
            // Delivered without them, the next sync simply reads Tally in full again.
            log::warn!("cannot keep Tally's change markers beside the payload: {e}");
        }
        log::debug!("queued {}", extraction.queued.path.display());
        report("sending to the appliance", 95);
        Ok(Some((months, balances)))
    }

    /// Older payloads whose months `newest` carries too are superseded: sending them would
    /// only be overwritten by it.
    fn drop_superseded(&self, older: Vec<Pending>, newest: &Pending) {
        let carried = self.outbox.months_of(newest).unwrap_or_default();
        for p in older {
            if self
                .outbox
                .months_of(&p)
                .is_ok_and(|m| m.iter().all(|k| carried.contains(k)))
            {
                log::info!("dropping an older undelivered payload that this sync supersedes");
                if let Err(e) = self.outbox.delivered(&p) {
                    log::error!("cannot remove {}: {e}", p.path.display());
                }
            }
        }
    }

    /// Delivers waiting payloads, oldest first. Stops at the first failure that is not the
    /// appliance refusing a payload for good (those are set aside with the reason); a payload
    /// this PC cannot read stays where it is, for the next try.
    pub async fn deliver_outbox(&self) -> Result<Delivery, SyncFailure> {
        let current = self
            .current_run
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone();
        let pending = self.outbox.pending().map_err(|e| {
            SyncFailure::Local(format!(
                "cannot read the outbox {}: {e}",
                self.outbox.dir().display()
            ))
        })?;
        let mut delivery = Delivery::default();
        // Runs whose parts were dropped or set aside: their other parts go the same way.
        let mut given_up: Vec<String> = Vec::new();
        for p in pending {
            if p.part.is_some() {
                let run = p.sync_run_id.clone().unwrap_or_default();
                if given_up.contains(&run) {
                    continue;
                }
                match self
                    .deliver_part(&p, current.as_deref(), &mut delivery)
                    .await?
                {
                    true => delivery.delivered += 1,
                    false => given_up.push(run),
                }
                continue;
            }
            match self.send_payload(&p).await {
                Ok(accepted) => {
                    self.accepted(&p, &accepted, current.as_deref()).await;
                    delivery.delivered += 1;
                }
                Err(e) if e.refuses_payload() => {
                    self.set_aside(&p, &e);
                    delivery.refused.push(e);
                }
                Err(e @ ApplianceError::Local { .. }) => {
                    return Err(SyncFailure::Local(e.to_string()))
                }
                Err(e) => return Err(e.into()),
            }
        }
        Ok(delivery)
    }

    /// Sends one part; false when its run's parts are given up (the run is over at the
    /// appliance, or it refused the part for good). Errors that stop the delivery are returned.
    async fn deliver_part(
        &self,
        p: &Pending,
        current: Option<&str>,
        delivery: &mut Delivery,
    ) -> Result<bool, SyncFailure> {
        let sent = self
            .appliance
            .sync_part(Body::GzipJsonFile(p.path.clone()))
            .await;
        match sent {
            Ok(answer) => {
                if let Some(stored) = &answer.stored {
                    self.accepted(p, stored, current).await;
                } else if answer.received >= answer.count {
                    // The last part, sent again: its run was stored the first time.
                    self.accepted(p, &SyncAccepted::nothing(), current).await;
                } else if let Err(e) = self.outbox.delivered(p) {
                    log::error!("delivered, but cannot remove {}: {e}", p.path.display());
                }
                Ok(true)
            }
            Err(e) if e.run_is_over() => {
                // The appliance dropped what arrived of that run; the rest is of no use alone.
                log::warn!("the run of waiting parts is over at the appliance ({e}); they are dropped and the next sync reads Tally in full");
                self.drop_run_parts(p, None);
                Ok(false)
            }
            Err(e) if e.refuses_payload() => {
                self.drop_run_parts(p, Some(&e));
                delivery.refused.push(e);
                Ok(false)
            }
            Err(e @ ApplianceError::Local { .. }) => Err(SyncFailure::Local(e.to_string())),
            Err(e) => Err(e.into()),
        }
    }

    /// Removes every waiting part of `p`'s run (set aside with the reason when refused); the
    /// next sync reads Tally in full.
    fn drop_run_parts(&self, p: &Pending, refusal: Option<&ApplianceError>) {
        let pending = self.outbox.pending().unwrap_or_default();
        let same_run = pending
            .iter()
            .filter(|q| q.part.is_some() && q.sync_run_id == p.sync_run_id);
        for q in same_run {
            match refusal {
                Some(r) => self.set_aside(q, r),
                None => {
                    if let Err(e) = self.outbox.delivered(q) {
                        log::error!("cannot remove {}: {e}", q.path.display());
                    }
                }
            }
        }
        self.update_last_sync(LastSyncState::forget_markers);
    }

    async fn send_payload(&self, p: &Pending) -> Result<SyncAccepted, ApplianceError> {
        let sent = self
            .appliance
            .sync_payload(Body::GzipJsonFile(p.path.clone()))
            .await;
        match sent {
            // The run it was read in has ended meanwhile: deliver it on its own.
            Err(e) if e.run_is_over() => {
                let path = p.path.clone();
                let body = tokio::task::spawn_blocking(move || {
                    std::fs::read(&path).and_then(|b| without_run_id(&b))
                })
                .await
                .map_err(std::io::Error::other)
                .and_then(|r| r);
                match body {
                    Ok(b) => self.appliance.sync_payload(Body::GzipJson(b)).await,
                    Err(e) => Err(ApplianceError::Local {
                        detail: format!("cannot read {}: {e}", p.path.display()),
                    }),
                }
            }
            other => other,
        }
    }

    /// The appliance holds the payload: what it was read from becomes the last delivered
    /// state, and the run it was read in (if not the one going on) is completed.
    async fn accepted(&self, p: &Pending, accepted: &SyncAccepted, current: Option<&str>) {
        log::info!(
            "delivered {} balances for {} month(s){}",
            accepted.balances,
            accepted.months.len(),
            if accepted.unbalanced_months.is_empty() {
                String::new()
            } else {
                format!(
                    "; {} month(s) do not balance in Tally",
                    accepted.unbalanced_months.len()
                )
            }
        );
        if let Some(markers) = self.outbox.markers_of(p) {
            self.update_last_sync(|last| last.delivered(markers));
        }
        if let Err(e) = self.outbox.delivered(p) {
            log::error!("delivered, but cannot remove {}: {e}", p.path.display());
        }
        let Some(run) = p.sync_run_id.as_deref().filter(|r| Some(*r) != current) else {
            return;
        };
        let req = SyncCompleteRequest {
            sync_run_id: run.to_string(),
            status: SyncOutcome::Succeeded,
            error: None,
            counts: None,
        };
        match self.appliance.sync_complete(&req).await {
            Ok(_) => log::info!("sync run {run} completed: its data was delivered"),
            Err(e) => log::debug!("sync run {run} not completed: {e}"),
        }
    }

    /// A payload the appliance will never accept goes to `rejected/`; the next sync reads
    /// Tally in full rather than trusting that the appliance holds what was read.
    fn set_aside(&self, p: &Pending, refusal: &ApplianceError) {
        log::error!(
            "the appliance refused a payload for good ({refusal}); it is set aside in {}",
            self.outbox.dir().join("rejected").display()
        );
        if let Err(e) = self.outbox.reject(p, &format!("{refusal:?}")) {
            log::error!("cannot set {} aside: {e}", p.path.display());
        }
        self.update_last_sync(LastSyncState::forget_markers);
    }

    /// One heartbeat with the agent's state and the last update attempt not yet reported;
    /// the answer's update instruction goes to the updater.
    pub async fn heartbeat_once(&self) -> Result<HeartbeatResponse, ApplianceError> {
        let mut body = self.status().clone();
        body.last_update = self.updater.unreported();
        let answer = self.appliance.heartbeat(&body).await?;
        self.updater.heartbeat_accepted(body.last_update.as_ref());
        self.updater.offer(answer.update.clone());
        self.take_orders(&answer);
        Ok(answer)
    }

    /// Waits for an update the appliance asks for, then installs it between syncs (holding
    /// the sync lock). Returns once a new program is in place.
    async fn update_loop(&self) -> Swapped {
        loop {
            let ins = self.updater.next_due().await;
            let wait = self.updater.jitter(&ins);
            log::info!(
                "version {} is due; installing it in {} s (spread, so the office's PCs do not all download at once)",
                ins.version,
                wait.as_secs()
            );
            tokio::time::sleep(wait).await;
            let _between_syncs = self.sync_lock.lock().await;
            if !self.updater.still_due(&ins) {
                continue;
            }
            self.status().state = Some(format!("updating to {}", ins.version));
            if let Some(swapped) = self.updater.install(&self.appliance, &ins).await {
                return swapped;
            }
            self.status().state = Some("idle".into());
        }
    }

    /// Runs until `stop` resolves or a new version is in place: heartbeats, syncs and updates
    /// on their own timers.
    pub async fn run(self: Arc<Self>, stop: impl std::future::Future<Output = ()>) -> RunEnd {
        let hb_agent = self.clone();
        let heartbeats = tokio::spawn(async move { hb_agent.heartbeat_loop().await });
        let syncs = self.clone().schedule_loop();
        let end = tokio::select! {
            _ = syncs => RunEnd::Stopped,
            swapped = self.update_loop() => RunEnd::Updated(swapped),
            _ = stop => {
                log::info!("stopping");
                RunEnd::Stopped
            }
        };
        heartbeats.abort();
        // A sync cut short is reported as such, not left to be found abandoned.
        let interrupted = self
            .current_run
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .take();
        if let Some(run) = interrupted {
            let req = SyncCompleteRequest {
                sync_run_id: run.clone(),
                status: SyncOutcome::Failed,
                error: Some("the connector was stopped during the sync".into()),
                counts: None,
            };
            let _ =
                tokio::time::timeout(Duration::from_secs(5), self.appliance.sync_complete(&req))
                    .await;
            log::warn!("sync run {run} was stopped before it finished");
        }
        self.status().state = Some(match &end {
            RunEnd::Stopped => "stopped".into(),
            RunEnd::Updated(s) => format!("restarting as version {}", s.version),
        });
        let _ = tokio::time::timeout(Duration::from_secs(3), self.heartbeat_once()).await;
        end
    }

    /// Keeps what the answer says about when to sync; wakes the scheduler when it changed.
    fn take_orders(&self, answer: &HeartbeatResponse) {
        let new = Orders {
            schedule: answer.schedule.clone(),
            request: answer.sync_request.clone(),
        };
        let mut orders = self.orders.lock().unwrap_or_else(|p| p.into_inner());
        // The scheduler waits for the first answer at start, whatever it says.
        let first = !self
            .answered
            .swap(true, std::sync::atomic::Ordering::SeqCst);
        if *orders != new || first {
            *orders = new;
            self.orders_changed.notify_one();
        }
    }

    /// The plan to follow: the appliance's schedule, else config.json's interval.
    fn plan(&self) -> (Plan, Option<SyncOrder>) {
        let orders = self.orders.lock().unwrap_or_else(|p| p.into_inner());
        let given = orders.schedule.as_ref().and_then(|s| match s.plan() {
            Ok(plan) => Some(plan),
            Err(problems) => {
                log::warn!("the appliance's sync schedule is unusable ({problems:?}); following config.json");
                None
            }
        });
        let plan = given.unwrap_or_else(|| Plan::fallback(self.cfg.sync_interval_minutes));
        (plan, orders.request.clone())
    }

    /// A "sync now" whose run the appliance did not open (it was away) is not carried out yet:
    /// forgotten until a heartbeat answer brings it again, which wakes the scheduler to retry.
    fn retry_request_at_next_answer(&self, id: &str) {
        let mut orders = self.orders.lock().unwrap_or_else(|p| p.into_inner());
        if orders.request.as_ref().is_some_and(|r| r.id == id) {
            orders.request = None;
        }
    }

    /// When the last full read the appliance accepted was, in local time.
    fn last_full_read(&self) -> Option<PrimitiveDateTime> {
        let at = self.state().last_sync.as_ref()?.full_sync_at?;
        let t = time::OffsetDateTime::from_unix_timestamp(at).ok()?;
        Some(to_local(t))
    }

    /// Starts syncs when the scheduler says (see `schedule::next`), waking early when a
    /// heartbeat answer brings a new schedule or a "sync now".
    async fn schedule_loop(self: Arc<Self>) {
        // The first heartbeat's answer says whether it is quiet now; not waiting long for it.
        let _ = tokio::time::timeout(Duration::from_secs(10), self.orders_changed.notified()).await;
        let mut last_start = None;
        let mut last_full = self.last_full_read();
        let mut handled: Option<String> = None;
        // A full read that failed (Tally closed for the night, say) is owed again an interval
        // later: not at once, in a tight loop, and not only at tomorrow's time.
        let mut full_failed_at = None;
        loop {
            let (plan, request) = self.plan();
            let now = local_now();
            let full_as_planned = match full_failed_at {
                Some(at) if now < at + plan.interval => Some(at),
                _ => last_full,
            };
            let decision = schedule::next(&Situation {
                now,
                plan: &plan,
                last_start,
                last_full: full_as_planned,
                request: request.as_ref(),
                handled_request: handled.as_deref(),
            });
            match decision {
                Next::Sync(start) => {
                    last_start = Some(now);
                    let request = start.request_id.as_deref();
                    let (opened, result) = self.sync_for(start.trigger, start.full, request).await;
                    let taken = matches!(result, Ok(SyncReport::TakenElsewhere));
                    if start.full && !taken {
                        if result.is_ok() {
                            (last_full, full_failed_at) = (Some(now), None);
                        } else {
                            full_failed_at = Some(now);
                        }
                    }
                    if let Some(id) = start.request_id {
                        if opened.is_some() || taken {
                            handled = Some(id);
                        } else {
                            self.retry_request_at_next_answer(&id);
                        }
                    }
                }
                Next::WaitUntil(at) => {
                    // Re-asked at least every minute: the PC's clock may jump.
                    let secs = (at - now).whole_seconds().clamp(1, 60);
                    tokio::select! {
                        _ = tokio::time::sleep(Duration::from_secs(secs as u64)) => {}
                        _ = self.orders_changed.notified() => {}
                    }
                }
            }
        }
    }

    async fn heartbeat_loop(self: Arc<Self>) {
        let mut tick = tokio::time::interval(Duration::from_secs(u64::from(
            self.cfg.heartbeat_interval_seconds,
        )));
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut was_ok = true;
        loop {
            tick.tick().await;
            match self.heartbeat_once().await {
                Ok(_) => {
                    if !was_ok {
                        log::info!("the appliance answers heartbeats again");
                    }
                    was_ok = true;
                    // The appliance is back: deliver what waits, unless a sync is doing it.
                    if self.outbox.pending().is_ok_and(|p| !p.is_empty()) {
                        if let Ok(guard) = self.sync_lock.clone().try_lock_owned() {
                            let agent = self.clone();
                            tokio::spawn(async move {
                                let _guard = guard;
                                match agent.deliver_outbox().await {
                                    Ok(d) if d.delivered > 0 => {
                                        log::info!("delivered {} waiting payload(s)", d.delivered)
                                    }
                                    Ok(_) => {}
                                    Err(e) => log::warn!("waiting payloads not delivered yet: {e}"),
                                }
                            });
                        }
                    }
                }
                Err(e) => {
                    if was_ok {
                        log::error!("heartbeat failed: {e}");
                    } else {
                        log::debug!("heartbeat failed again: {e}");
                    }
                    was_ok = false;
                }
            }
        }
    }
}
