//! Scale benchmark (issue 14): one appliance holding N companies x 24 months x 5,000 ledgers,
//! filled through the real `POST /api/connector/sync` (gzip, as the connector sends it) of the
//! real server binary, then read back through the real endpoints, warm and cold.
//!
//! `cargo bench --bench scale -- --quick` fills 50 companies (CI); without it, 1,000 (120 million
//! balances). `--companies N` picks another size; `--keep DIR` fills DIR and leaves it behind.
//! Prints figures; asserts only that every request succeeds. Linux only (reads /proc, uses dd).
//!
//! Goals (issue 14): month trial balance p99 < 50 ms, overview of 1,000 companies < 200 ms,
//! series of one ledger over 24 months < 20 ms, <= 16 bytes per stored balance, server memory
//! < 300 MB, online backup < 60 s.

mod common;

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use aicfo::protocol::{
    Amount, BalanceItem, Balances, ChartOfAccounts, CompanyFacts, GroupRecord, LedgerRecord,
    MonthBalances, SyncPayload,
};
use common::{aicfo_server, rss_mb, spawn_listening};
use serde_json::{json, Value};

const LEDGERS: usize = 5_000;
const MONTHS: usize = 24;
/// Balance-sheet ledgers that move in a month (parties paying, banks); the rest keep last
/// month's balance.
const MOVERS: usize = 250;
/// Income and expense ledgers: Tally reports them cumulative from the financial year's start.
const REVENUE: usize = 300;
const ADMIN_PASSWORD: &str = "scale-bench-admin-password";
/// Companies sampled for each measured request.
const SAMPLES: usize = 40;

/// A primary group's flags as Tally sends them: (deemed positive, revenue, affects gross profit).
type Flags = (bool, bool, bool);

/// (name, parent) of the groups every company carries: the reserved groups a ledger hangs from
/// and a few of the firm's own.
const GROUPS: &[(&str, Option<&str>, Option<Flags>)] = &[
    ("Capital Account", None, Some((false, false, false))),
    ("Current Assets", None, Some((true, false, false))),
    ("Current Liabilities", None, Some((false, false, false))),
    ("Sundry Debtors", Some("Current Assets"), None),
    ("Bank Accounts", Some("Current Assets"), None),
    ("Sundry Creditors", Some("Current Liabilities"), None),
    ("Sales Accounts", None, Some((false, true, true))),
    ("Purchase Accounts", None, Some((true, true, true))),
    ("Indirect Expenses", None, Some((true, true, false))),
    ("Debtors North", Some("Sundry Debtors"), None),
    ("Debtors South", Some("Sundry Debtors"), None),
    ("Creditors Local", Some("Sundry Creditors"), None),
];

/// The parent group of ledger `l`: 0 is the capital that balances the books, then banks,
/// income and expense ledgers, creditors and debtors.
fn parent_of(l: usize) -> &'static str {
    match l {
        0 => "Capital Account",
        1..=20 => "Bank Accounts",
        21..=60 => "Sales Accounts",
        61..=100 => "Purchase Accounts",
        101..=320 => "Indirect Expenses",
        _ if l < 1_500 => "Creditors Local",
        _ if l.is_multiple_of(2) => "Debtors North",
        _ => "Debtors South",
    }
}

fn is_revenue_ledger(l: usize) -> bool {
    (21..21 + REVENUE).contains(&l)
}

fn guid(company: usize, l: usize) -> String {
    format!("c{company:05}-l{l:05}-4000-8000-000000000000")
}

fn ledger_name(l: usize) -> String {
    format!(
        "{} {l:05}",
        ["Party", "Vendor", "Expense", "Account"][l % 4]
    )
}

/// A small deterministic generator (xorshift64*): the same company is the same every run.
struct Rng(u64);

impl Rng {
    fn new(seed: u64) -> Rng {
        Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
    /// Paise between -max and max rupees.
    fn paise(&mut self, max_rupees: i64) -> i64 {
        (self.below(2 * max_rupees as u64 * 100) as i64) - max_rupees * 100
    }
}

/// The month `m` months after 2024-11 (the 24th is 2026-10, the open month).
fn month_key(m: usize) -> (i32, u32) {
    let n = 2024 * 12 + 10 + m;
    ((n / 12) as i32, (n % 12) as u32 + 1)
}

/// Every month's balances of one company: most ledgers unchanged from the month before, a few
/// hundred moving, revenue cumulative within the financial year (April to March).
fn company_balances(company: usize) -> Vec<Vec<i64>> {
    let mut rng = Rng::new(company as u64 + 1);
    let mut bal: Vec<i64> = (0..LEDGERS)
        .map(|l| {
            if is_revenue_ledger(l) {
                0
            } else {
                rng.paise(500_000)
            }
        })
        .collect();
    let mut months = Vec::with_capacity(MONTHS);
    for m in 0..MONTHS {
        if month_key(m).1 == 4 {
            for (l, b) in bal.iter_mut().enumerate() {
                if is_revenue_ledger(l) {
                    *b = 0;
                }
            }
        }
        for _ in 0..MOVERS {
            let l = 1 + REVENUE + 20 + rng.below((LEDGERS - REVENUE - 21) as u64) as usize;
            bal[l] = rng.paise(500_000);
        }
        for (l, b) in bal.iter_mut().enumerate().skip(21).take(REVENUE) {
            // Sales and purchases move every month, most expense ledgers most months.
            if l >= 100 && rng.below(10) >= 8 {
                continue;
            }
            let sign = if l < 61 { -1 } else { 1 };
            *b += sign * rng.below(20_000_000) as i64;
        }
        for b in bal.iter_mut().skip(1).take(20) {
            *b = rng.paise(2_000_000);
        }
        let rest: i64 = bal[1..].iter().sum();
        bal[0] = -rest;
        months.push(bal.clone());
    }
    months
}

fn month_balances(company: usize, m: usize, balances: &[i64]) -> MonthBalances {
    let (y, mo) = month_key(m);
    let key = format!("{y}-{mo:02}");
    let day = if m == MONTHS - 1 {
        15
    } else {
        time::Month::try_from(mo as u8).map_or(28, |x| x.length(y))
    };
    MonthBalances {
        month_key: key.clone(),
        as_of_date: format!("{key}-{day:02}"),
        // Tally leaves out a ledger with a zero balance; so does the connector.
        items: balances
            .iter()
            .enumerate()
            .filter(|(_, b)| **b != 0)
            .map(|(l, b)| BalanceItem {
                ledger_guid: guid(company, l),
                balance: Amount::from_paise(*b),
            })
            .collect(),
        stock: None,
    }
}

/// The gzip-compressed JSON the connector would post for `company`, and how many balances it
/// carries.
fn payload(company: usize) -> (Vec<u8>, usize) {
    let groups = GROUPS
        .iter()
        .enumerate()
        .map(|(i, (name, parent, flags))| GroupRecord {
            name: (*name).into(),
            parent: parent.map(Into::into),
            guid: format!("c{company:05}-g{i:03}"),
            kind: None,
            is_deemed_positive: flags.map(|f| f.0),
            is_revenue: flags.map(|f| f.1),
            affects_gross_profit: flags.map(|f| f.2),
            reserved_name: None,
        })
        .collect();
    let ledgers = (0..LEDGERS)
        .map(|l| LedgerRecord {
            guid: guid(company, l),
            name: ledger_name(l),
            parent: Some(parent_of(l).into()),
            group_name: None,
            kind: None,
        })
        .collect();
    let all = company_balances(company);
    let mut months: Vec<MonthBalances> = all
        .iter()
        .enumerate()
        .map(|(m, b)| month_balances(company, m, b))
        .collect();
    let rows = months.iter().map(|m| m.items.len()).sum();
    let current = months.pop().expect("24 months");
    let p = SyncPayload {
        as_of_date: Some(current.as_of_date.clone()),
        chart_of_accounts: ChartOfAccounts {
            source: Some("tally".into()),
            generated_at: None,
            company: Some(CompanyFacts {
                tally_company_name: Some(format!("Client {company:05}")),
                books_from: Some("2024-04-01".into()),
                financial_year_from: Some("2026-04-01".into()),
                opening_difference: None,
            }),
            groups,
            ledgers,
            balances: Balances {
                current,
                closed_months: months,
            },
        },
        company_id: Some(company_id(company)),
        sync_run_id: None,
    };
    let json = serde_json::to_vec(&p).expect("payload serialises");
    let mut gz = flate2::write::GzEncoder::new(
        Vec::with_capacity(json.len() / 6),
        flate2::Compression::fast(),
    );
    gz.write_all(&json).expect("gzip in memory");
    (gz.finish().expect("gzip in memory"), rows)
}

fn company_id(company: usize) -> String {
    format!("client-{company:05}")
}

/// The real server binary on a data folder, until dropped.
struct Server {
    child: Child,
    url: String,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Server {
    fn start(data_dir: &Path) -> Server {
        let (child, url) = spawn_listening(
            aicfo_server()
                .current_dir(data_dir.parent().expect("data dir has a parent"))
                .env("AICFO_DATA_DIR", data_dir)
                .env("AICFO_ADMIN_PASSWORD", ADMIN_PASSWORD)
                .env("AICFO_CONNECTOR_RATE_PER_SEC", "1000000")
                .env("AICFO_CONNECTOR_RATE_BURST", "1000000"),
        );
        Server { child, url }
    }

    fn api(&self, path: &str) -> String {
        format!("{}/api{path}", self.url)
    }

    /// (current, peak) resident memory in MB.
    fn rss_mb(&self) -> (f64, f64) {
        rss_mb(self.child.id())
    }
}

fn http() -> reqwest::blocking::Client {
    reqwest::blocking::Client::builder()
        .timeout(Duration::from_secs(600))
        .build()
        .expect("HTTP client")
}

fn post(http: &reqwest::blocking::Client, url: &str, token: Option<&str>, body: &Value) -> Value {
    let mut req = http.post(url).json(body);
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    let res = req.send().expect("request sent");
    let status = res.status();
    let text = res.text().expect("answer read");
    assert!(status.is_success(), "{url}: {status} {text}");
    serde_json::from_str(&text).unwrap_or(Value::Null)
}

fn admin_token(srv: &Server, http: &reqwest::blocking::Client) -> String {
    let login = json!({"username": "admin", "password": ADMIN_PASSWORD});
    post(http, &srv.api("/auth/login"), None, &login)["token"]
        .as_str()
        .expect("a token")
        .to_string()
}

/// Creates the companies, enrols one connector each, and posts every company's payload while
/// a thread builds the next ones. Returns (balances stored, fill time).
fn fill(srv: &Server, admin: &str, companies: usize) -> (usize, Duration) {
    let http = http();
    let (tx, rx) = mpsc::sync_channel::<(usize, Vec<u8>, usize)>(2);
    let maker = std::thread::spawn(move || {
        for c in 0..companies {
            let (body, rows) = payload(c);
            if tx.send((c, body, rows)).is_err() {
                return;
            }
        }
    });
    let started = Instant::now();
    let (mut rows, mut wire) = (0usize, 0usize);
    for (c, body, n) in rx {
        let id = company_id(c);
        let company = json!({"name": format!("Client {c:05}"), "id": id});
        post(&http, &srv.api("/companies"), Some(admin), &company);
        let enrol = json!({"companyId": id, "deviceId": format!("pc-{c}"), "deviceName": "Accounts PC",
            "os": "Windows 10", "appVersion": "1.0.0", "userJwt": admin});
        let token = post(&http, &srv.api("/connector/auth"), None, &enrol)["connectorToken"]
            .as_str()
            .expect("a connector token")
            .to_string();
        wire += body.len();
        let res = http
            .post(srv.api("/connector/sync"))
            .bearer_auth(&token)
            .header("Content-Type", "application/json")
            .header("Content-Encoding", "gzip")
            .body(body)
            .send()
            .expect("sync sent");
        let status = res.status();
        assert!(
            status.is_success(),
            "sync {c}: {status} {}",
            res.text().unwrap_or_default()
        );
        rows += n;
        if (c + 1) % 50 == 0 {
            let s = started.elapsed().as_secs_f64();
            println!(
                "  filled {:>5} companies, {:>11} balances, {:.0} s, {:.0} balances/s, RSS {:.0} MB",
                c + 1,
                rows,
                s,
                rows as f64 / s,
                srv.rss_mb().0
            );
        }
    }
    maker.join().expect("payload maker");
    println!(
        "  gzip on the wire: {:.1} MB per company on average",
        wire as f64 / companies as f64 / 1e6
    );
    (rows, started.elapsed())
}

/// p50 and p99 in ms of `f` run once for each of `samples`.
fn timed<T>(samples: &[T], mut f: impl FnMut(&T)) -> (f64, f64) {
    let mut ms: Vec<f64> = samples
        .iter()
        .map(|s| {
            let t = Instant::now();
            f(s);
            t.elapsed().as_secs_f64() * 1000.0
        })
        .collect();
    ms.sort_by(f64::total_cmp);
    let at = |p: f64| ms[((ms.len() as f64 * p) as usize).min(ms.len() - 1)];
    (at(0.50), at(0.99))
}

fn get(http: &reqwest::blocking::Client, url: &str, token: &str) -> usize {
    let res = http
        .get(url)
        .bearer_auth(token)
        .send()
        .expect("request sent");
    let status = res.status();
    let body = res.bytes().expect("answer read");
    assert!(
        status.is_success(),
        "{url}: {status} {}",
        String::from_utf8_lossy(&body)
    );
    body.len()
}

/// The requests measured, for one company (a person's token reads them all): (label, path).
fn requests(company: usize) -> Vec<(&'static str, String)> {
    let id = company_id(company);
    let (y, m) = month_key(MONTHS - 3);
    let month = format!("{y}-{m:02}");
    let base = format!("/companies/{id}");
    vec![
        (
            "month trial balance JSON",
            format!("{base}/snapshots/{month}"),
        ),
        (
            "month trial balance CSV",
            format!("{base}/snapshots/{month}?format=csv"),
        ),
        ("months list", format!("{base}/snapshots")),
        (
            "connector status",
            format!("/connector/status?companyId={id}"),
        ),
        (
            "trial-balance tree",
            format!("{base}/reports/{month}/trial-balance"),
        ),
        (
            "profit and loss",
            format!("{base}/reports/{month}/profit-and-loss"),
        ),
        (
            "balance sheet",
            format!("{base}/reports/{month}/balance-sheet"),
        ),
        (
            "series of one ledger",
            format!("{base}/series?ledger={}", ledger_name(1_234)),
        ),
    ]
}

/// Every request on `sample` companies. `spread`: each kind of request on other companies
/// (shifted by up to `spread`), so that on a fresh server every request reads a cold company.
fn measure(
    srv: &Server,
    admin: &str,
    companies: usize,
    sample: &[usize],
    spread: usize,
    label: &str,
) {
    let http = http();
    println!("--- {label}: p50 / p99 ms over {} companies", sample.len());
    let kinds = requests(0).len();
    for k in 0..kinds {
        let mut bytes = 0;
        let shift = spread * (k + 1) / (kinds + 1);
        let shifted: Vec<usize> = sample
            .iter()
            .map(|c| (c + shift).min(companies - 1))
            .collect();
        let (p50, p99) = timed(&shifted, |&c| {
            bytes = get(&http, &srv.api(&requests(c)[k].1), admin);
        });
        println!(
            "  {:<26} {p50:>8.1} {p99:>8.1}   ({} KB)",
            requests(0)[k].0,
            bytes / 1024
        );
    }
    let overview: Vec<usize> = (0..5).collect();
    let (p50, p99) = timed(&overview, |_| {
        get(&http, &srv.api("/overview"), admin);
    });
    println!(
        "  {:<26} {p50:>8.1} {p99:>8.1}   (5 calls)",
        "overview of all companies"
    );
}

/// Drops the page cache of the database files (GNU dd's nocache), so reads go to the disk.
fn drop_file_cache(data_dir: &Path) {
    for name in ["aicfo.sqlite3", "aicfo.sqlite3-wal"] {
        let file = data_dir.join(name);
        if file.exists() {
            let _ = Command::new("dd")
                .arg(format!("of={}", file.display()))
                .args([
                    "oflag=nocache",
                    "conv=notrunc,fdatasync",
                    "count=0",
                    "status=none",
                ])
                .status();
        }
    }
}

fn file_mb(path: &Path) -> f64 {
    std::fs::metadata(path).map_or(0.0, |m| m.len() as f64 / 1e6)
}

fn args() -> (usize, Option<PathBuf>) {
    let argv: Vec<String> = std::env::args().collect();
    let mut companies = 1_000;
    let mut keep = None;
    for (i, a) in argv.iter().enumerate() {
        match a.as_str() {
            "--quick" => companies = 50,
            "--companies" => {
                companies = argv
                    .get(i + 1)
                    .and_then(|n| n.parse().ok())
                    .unwrap_or(companies)
            }
            "--keep" => keep = argv.get(i + 1).map(PathBuf::from),
            _ => {}
        }
    }
    (companies, keep)
}

fn main() {
    let (companies, keep) = args();
    let scratch =
        tempfile::tempdir_in(std::env::var("AICFO_SCALE_DIR").unwrap_or_else(|_| ".".into()))
            .expect("a scratch folder");
    let data_dir = keep.unwrap_or_else(|| scratch.path().join("data"));
    std::fs::create_dir_all(&data_dir).expect("data folder");
    let db_file = data_dir.join("aicfo.sqlite3");
    println!(
        "scale: {companies} companies x {MONTHS} months x {LEDGERS} ledgers ({} cores); data in {}",
        std::thread::available_parallelism().map_or(0, |n| n.get()),
        data_dir.display()
    );

    let srv = Server::start(&data_dir);
    let admin = admin_token(&srv, &http());
    let (rows, took) = fill(&srv, &admin, companies);
    let secs = took.as_secs_f64();
    println!("--- fill");
    println!(
        "  {rows} balances in {secs:.0} s: {:.0} balances/s, {:.2} s per company",
        rows as f64 / secs,
        secs / companies as f64
    );
    let logical = companies * MONTHS * LEDGERS;
    let mb = file_mb(&db_file) + file_mb(&data_dir.join("aicfo.sqlite3-wal"));
    println!(
        "  database {mb:.0} MB: {:.1} bytes per balance sent, {:.1} per ledger-month",
        mb * 1e6 / rows as f64,
        mb * 1e6 / logical as f64
    );
    let (rss, peak) = srv.rss_mb();
    println!("  server RSS after the fill {rss:.0} MB (peak {peak:.0} MB)");

    let step = (companies / SAMPLES).max(1);
    let sample: Vec<usize> = (0..companies).step_by(step).take(SAMPLES).collect();
    measure(&srv, &admin, companies, &sample, 0, "warm (first pass)");
    measure(&srv, &admin, companies, &sample, 0, "warm");
    let (rss, peak) = srv.rss_mb();
    println!("  server RSS after the reads {rss:.0} MB (peak {peak:.0} MB)");

    let backup = scratch.path().join("backup.sqlite3");
    let t = Instant::now();
    let ok = Command::new(env!("CARGO_BIN_EXE_aicfo-server"))
        .args(["backup", "--to"])
        .arg(&backup)
        .env("AICFO_DATA_DIR", &data_dir)
        .stdout(Stdio::null())
        .status()
        .expect("aicfo-server backup runs");
    println!(
        "--- online backup (server running): {:.1} s, {:.0} MB, {ok}",
        t.elapsed().as_secs_f64(),
        file_mb(&backup)
    );
    let _ = std::fs::remove_file(&backup);
    drop(srv);

    drop_file_cache(&data_dir);
    let srv = Server::start(&data_dir);
    let admin = admin_token(&srv, &http());
    // Companies the warm passes did not read, a different one for each kind of request.
    measure(
        &srv,
        &admin,
        companies,
        &sample,
        step,
        "cold (fresh process, file cache dropped)",
    );
    let (rss, peak) = srv.rss_mb();
    println!("  server RSS {rss:.0} MB (peak {peak:.0} MB)");
    drop(srv);
}
