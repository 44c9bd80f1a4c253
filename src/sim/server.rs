//! The simulator on HTTP, as Tally's port behaves: GET greets, POST answers XML. A fault can be
//! switched on to make it slow, answer "company not open", or answer garbage; refusing
//! connections is simply the simulator not running ([`SimServer::stop`]).

use std::str::FromStr;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, RwLock};
use std::time::Duration;

use rocket::fairing::AdHoc;
use rocket::figment::providers::Serialized;
use rocket::http::{ContentType, Status};
use rocket::request::{FromRequest, Outcome, Request};
use rocket::{get, post, routes, State};

use super::books::Books;
use super::respond::{answer_with, company_not_open, encode_like, parse_request, UNKNOWN_REQUEST};

/// What the simulator names itself as, wherever Tally names its product: it must never pass
/// for real books.
pub const PRODUCT: &str = "tally-sim (aicfo Tally simulator, NOT real Tally data)";

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Fault {
    None,
    /// Wait this long before every answer.
    Slow(Duration),
    /// Wait this long before answering a request for every ledger's balance at once (a big
    /// company's answer); requests for one group's ledgers answer at once.
    SlowWhole(Duration),
    /// XML requests from the `from`th answered since start on wait `delay`: a bookkeeper
    /// starts working while a sync reads.
    SlowFrom {
        from: u64,
        delay: Duration,
    },
    /// Answer every company request as Tally does when the company is not open.
    CompanyNotOpen,
    /// Answer bytes that are not XML.
    Garbage,
    /// Ledger collections ignore SVTODATE: balances, and the computed `##SVToDate`, are the
    /// simulator's today. Reports still take the period.
    IgnoreToDate,
    /// `IgnoreToDate` and `SlowWhole` together: a big company on a Tally whose collections do
    /// not take the period.
    IgnoreToDateSlow(Duration),
    /// As `IgnoreToDate`, and reports ignore the period too: no form confirms a date.
    IgnoreToDateAll,
    /// As `IgnoreToDate`, and reports name the date asked but give the balances of 31 days
    /// earlier: the cross-check between the two forms must catch it.
    ReportMisreads,
    /// Ledger collections carry no CLOSINGBALANCE element at all.
    DropClosing,
    /// Ledger collections leave CLOSINGBALANCE out on some ledgers.
    BlankClosing,
    /// A balance answer stops with a LINEERROR after half its ledgers.
    LineErrorMidway,
    /// Amounts in every form Tally writes them: `(-)1,20,000.00`, `15000.00 Dr`, `-₹ 5.00`,
    /// ` 4500.50`, and foreign-currency amounts with `?` for `₹`
    /// (`-$ 100.00 @ ? 82.58/$ = -? 8,258.00`), as field reports show in UTF-8 and UTF-16.
    AmountForms,
    /// The company is listed, but every other request answers a bare
    /// `<ERRORMSG>Could not find Company:…!</ERRORMSG>`, as Tally does with no company loaded.
    ErrorMsg,
    /// A ledger collection carrying SVFROMDATE freezes the XML server: that request and every
    /// later one (greetings too) hang until the fault is switched (Tally restarted). Field
    /// report, TallyPrime 7.0.
    FreezeOnFromDate,
    /// Ledger collections write every CLOSINGBALANCE empty, whatever the balance: peers report
    /// blank closing balances from Tallies that did not compute them.
    BlankAll,
    /// `BlankAll` and, as in `ReportMisreads`, reports that name the date asked but give the
    /// balances of 31 days earlier: with no number from the collection, nothing cross-checks
    /// the report.
    BlankAllReportMisreads,
    /// `TYPE Data` requests (the inline reports) answer `Unknown Request, cannot be
    /// processed`, as a Tally that does not take inline report TDL would.
    RefuseReports,
}

pub const FAULTS: &str = "none, slow:<ms>, slow-whole:<ms>, company-not-open, garbage, ignore-todate, ignore-todate-slow:<ms>, ignore-todate-all, report-misreads, drop-closing, blank-closing, lineerror-midway, amount-forms, no-company-errormsg, freeze-on-fromdate, blank-all, blank-all+report-misreads or refuse-reports";

impl FromStr for Fault {
    type Err = String;
    fn from_str(s: &str) -> Result<Fault, String> {
        let s = s.trim();
        let ms = |prefix: &str| {
            s.strip_prefix(prefix)
                .and_then(|v| v.parse::<u64>().ok())
                .map(Duration::from_millis)
        };
        Ok(match s {
            "" | "none" => Fault::None,
            "company-not-open" => Fault::CompanyNotOpen,
            "garbage" => Fault::Garbage,
            "ignore-todate" => Fault::IgnoreToDate,
            "ignore-todate-all" => Fault::IgnoreToDateAll,
            "report-misreads" => Fault::ReportMisreads,
            "drop-closing" => Fault::DropClosing,
            "blank-closing" => Fault::BlankClosing,
            "lineerror-midway" => Fault::LineErrorMidway,
            "amount-forms" => Fault::AmountForms,
            "no-company-errormsg" => Fault::ErrorMsg,
            "freeze-on-fromdate" => Fault::FreezeOnFromDate,
            "blank-all" => Fault::BlankAll,
            "blank-all+report-misreads" => Fault::BlankAllReportMisreads,
            "refuse-reports" => Fault::RefuseReports,
            _ => match (ms("slow:"), ms("slow-whole:"), ms("ignore-todate-slow:")) {
                (Some(d), _, _) => Fault::Slow(d),
                (_, Some(d), _) => Fault::SlowWhole(d),
                (_, _, Some(d)) => Fault::IgnoreToDateSlow(d),
                _ => return Err(format!("`{s}` is not a fault; use {FAULTS}")),
            },
        })
    }
}

pub struct SimState {
    companies: RwLock<Vec<Arc<Books>>>,
    fault: RwLock<Fault>,
    /// Time spent building and encoding answers, so benchmarks can take "Tally's" share out.
    busy_micros: AtomicU64,
    /// XML requests being answered now, the most ever at once, and how many in all.
    in_flight: AtomicUsize,
    max_in_flight: AtomicUsize,
    requests: AtomicU64,
    /// Frozen by [`Fault::FreezeOnFromDate`] until the fault is switched.
    frozen: AtomicBool,
}

/// Counts a request in flight for as long as it lives.
struct InFlight<'a>(&'a SimState);

impl<'a> InFlight<'a> {
    fn enter(state: &'a SimState) -> InFlight<'a> {
        let now = state.in_flight.fetch_add(1, Ordering::SeqCst) + 1;
        state.max_in_flight.fetch_max(now, Ordering::SeqCst);
        InFlight(state)
    }
}

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        self.0.in_flight.fetch_sub(1, Ordering::SeqCst);
    }
}

impl SimState {
    pub fn new(companies: Vec<Books>) -> SimState {
        SimState {
            companies: RwLock::new(companies.into_iter().map(Arc::new).collect()),
            fault: RwLock::new(Fault::None),
            busy_micros: AtomicU64::new(0),
            in_flight: AtomicUsize::new(0),
            max_in_flight: AtomicUsize::new(0),
            requests: AtomicU64::new(0),
            frozen: AtomicBool::new(false),
        }
    }

    /// Switching the fault is also restarting Tally: a frozen server answers again.
    pub fn set_fault(&self, f: Fault) {
        *self.fault.write().unwrap_or_else(|p| p.into_inner()) = f;
        self.frozen.store(false, Ordering::SeqCst);
    }

    /// A frozen XML server answers nothing until it is restarted.
    async fn hang_while_frozen(&self) {
        while self.frozen.load(Ordering::SeqCst) {
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// The books change while Tally runs (a voucher entered, a ledger created): later requests
    /// answer from these.
    pub fn set_companies(&self, companies: Vec<Books>) {
        *self.companies.write().unwrap_or_else(|p| p.into_inner()) =
            companies.into_iter().map(Arc::new).collect();
    }

    fn fault(&self) -> Fault {
        self.fault.read().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// The most requests (greetings included) that were ever being answered at once.
    pub fn max_in_flight(&self) -> usize {
        self.max_in_flight.load(Ordering::SeqCst)
    }

    /// XML requests answered so far (greetings not counted).
    pub fn requests(&self) -> u64 {
        self.requests.load(Ordering::SeqCst)
    }

    /// Total time spent answering (building and encoding), faults' delays excluded.
    pub fn busy(&self) -> Duration {
        Duration::from_micros(self.busy_micros.load(Ordering::Relaxed))
    }
}

struct RequestContentType(Option<String>);

#[rocket::async_trait]
impl<'r> FromRequest<'r> for RequestContentType {
    type Error = ();
    async fn from_request(req: &'r Request<'_>) -> Outcome<Self, ()> {
        Outcome::Success(RequestContentType(
            req.headers().get_one("Content-Type").map(str::to_string),
        ))
    }
}

#[get("/")]
async fn greeting(state: &State<Arc<SimState>>) -> (ContentType, String) {
    let _counted = InFlight::enter(state);
    state.hang_while_frozen().await;
    if let Fault::Slow(d) = state.fault() {
        tokio::time::sleep(d).await;
    }
    (
        ContentType::XML,
        format!("<RESPONSE>{PRODUCT} Server is Running</RESPONSE>"),
    )
}

#[post("/", data = "<body>")]
async fn export(
    state: &State<Arc<SimState>>,
    ct: RequestContentType,
    body: Vec<u8>,
) -> (ContentType, Vec<u8>) {
    let _counted = InFlight::enter(state);
    let number = state.requests.fetch_add(1, Ordering::SeqCst) + 1;
    state.hang_while_frozen().await;
    let fault = state.fault();
    match fault {
        Fault::Slow(d) => tokio::time::sleep(d).await,
        Fault::SlowFrom { from, delay } if number >= from => tokio::time::sleep(delay).await,
        _ => {}
    }
    if fault == Fault::Garbage {
        return (
            ContentType::XML,
            b"\x00\x01\x02 this is not <XML at all &&& \xff\xfe".to_vec(),
        );
    }
    let started = std::time::Instant::now();
    let text = match parse_request(&body, ct.0.as_deref()) {
        Err(_) => UNKNOWN_REQUEST.to_string(),
        Ok(req) => {
            if fault == Fault::FreezeOnFromDate && req.is_ledger_collection_from_date() {
                state.frozen.store(true, Ordering::SeqCst);
                state.hang_while_frozen().await;
            }
            if let Fault::SlowWhole(d) | Fault::IgnoreToDateSlow(d) = fault {
                if req.is_whole_balance_request() {
                    tokio::time::sleep(d).await;
                }
            }
            if fault == Fault::CompanyNotOpen
                && !req.collection_type.eq_ignore_ascii_case("company")
            {
                company_not_open(req.company.as_deref().unwrap_or(""))
            } else if fault == Fault::CompanyNotOpen {
                super::respond::answer(&req, &[])
            } else {
                let companies = state
                    .companies
                    .read()
                    .unwrap_or_else(|p| p.into_inner())
                    .clone();
                // Big answers are built off the async workers.
                tokio::task::spawn_blocking(move || answer_with(&req, &companies, &fault))
                    .await
                    .unwrap_or_default()
            }
        }
    };
    let (enc, bytes) = encode_like(&body, ct.0.as_deref(), &text);
    state
        .busy_micros
        .fetch_add(started.elapsed().as_micros() as u64, Ordering::Relaxed);
    let ct = ContentType::parse_flexible(enc.content_type()).unwrap_or(ContentType::XML);
    (ct, bytes)
}

/// Switches a fault on a running simulator: the body is one of [`FAULTS`].
#[post("/_sim/fault", data = "<body>")]
fn set_fault(state: &State<Arc<SimState>>, body: String) -> Result<String, (Status, String)> {
    let f: Fault = body.parse().map_err(|e| (Status::BadRequest, e))?;
    state.set_fault(f.clone());
    Ok(format!("{f:?}\n"))
}

pub struct SimServer {
    pub url: String,
    pub port: u16,
    pub state: Arc<SimState>,
    shutdown: rocket::Shutdown,
    task: tokio::task::JoinHandle<()>,
}

impl SimServer {
    /// Starts on `address:port` (port 0 picks a free one) and returns once it listens.
    pub async fn start(
        state: Arc<SimState>,
        address: &str,
        port: u16,
        log: bool,
    ) -> Result<SimServer, String> {
        let figment = rocket::Config::figment()
            .merge(Serialized::global("address", address))
            .merge(Serialized::global("port", port))
            .merge(Serialized::global(
                "log_level",
                if log { "normal" } else { "off" },
            ))
            .merge(Serialized::global("ident", "tally-sim"))
            .merge(Serialized::global("limits.bytes", "1 MiB"))
            .merge(Serialized::global("shutdown.grace", 0))
            .merge(Serialized::global("shutdown.mercy", 0))
            .merge(Serialized::global("shutdown.ctrlc", log));
        let (tx, rx) = tokio::sync::oneshot::channel::<u16>();
        let tx = std::sync::Mutex::new(Some(tx));
        let rocket = rocket::custom(figment)
            .manage(state.clone())
            .mount("/", routes![greeting, export, set_fault])
            .attach(AdHoc::on_liftoff("report port", move |r| {
                let port = r.config().port;
                if let Some(tx) = tx.lock().ok().and_then(|mut t| t.take()) {
                    let _ = tx.send(port);
                }
                Box::pin(async {})
            }))
            .ignite()
            .await
            .map_err(|e| format!("tally-sim cannot start: {e}"))?;
        let shutdown = rocket.shutdown();
        let task = tokio::spawn(async move {
            if let Err(e) = rocket.launch().await {
                eprintln!("tally-sim stopped: {e}");
            }
        });
        let port = rx
            .await
            .map_err(|_| format!("tally-sim could not listen on {address}:{port}"))?;
        Ok(SimServer {
            url: format!("http://{address}:{port}"),
            port,
            state,
            shutdown,
            task,
        })
    }

    pub fn set_fault(&self, f: Fault) {
        self.state.set_fault(f);
    }

    /// Stops listening: from now on connections are refused, as when Tally is closed.
    pub async fn stop(self) {
        self.shutdown.notify();
        let _ = self.task.await;
    }

    /// Waits until the simulator is stopped from outside (Ctrl+C).
    pub async fn wait(self) {
        let _ = self.task.await;
    }
}
