//! The web page in a real browser: Debian's headless Chromium driven over WebDriver
//! (chromedriver, started here) against the real appliance with books ingested through the API.
//! Needs `chromium` and `chromium-driver`; `.ci/run` installs them and runs these with
//! `--ignored`, so a plain `cargo test` on a machine without Chromium still passes.
//!
//! Screenshots land in `target/web-screenshots/` for a person to look at.

mod common;
mod web_fixture;

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use common::TestServer;
use fantoccini::{Client, ClientBuilder, Locator};
use serde_json::json;
use web_fixture::{firm, Firm, RAVI_PASSWORD};

const CHROMIUM: &str = "/usr/bin/chromium";
const CHROMEDRIVER: &str = "/usr/bin/chromedriver";
/// How long to wait for the page to show something before the test fails.
const PATIENCE: Duration = Duration::from_secs(30);

/// chromedriver and a browser session of a fresh profile; both end when this is dropped.
struct Browser {
    client: Client,
    driver: Child,
    _profile: tempfile::TempDir,
    /// Where the browser saves downloads.
    downloads: tempfile::TempDir,
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

impl Browser {
    async fn start() -> Browser {
        for tool in [CHROMIUM, CHROMEDRIVER] {
            assert!(
                Path::new(tool).exists(),
                "{tool} is missing: apt-get install -y chromium chromium-driver (as .ci/run does)"
            );
        }
        let port = free_port();
        let driver = Command::new(CHROMEDRIVER)
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("chromedriver starts");
        let profile = tempfile::tempdir().unwrap();
        let downloads = tempfile::tempdir().unwrap();
        let caps = json!({
            "goog:chromeOptions": {
                "binary": CHROMIUM,
                "prefs": {
                    "download.default_directory": downloads.path(),
                    "download.prompt_for_download": false
                },
                "args": [
                    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                    "--disable-background-networking", "--disable-component-update", "--disable-sync",
                    "--disable-dev-shm-usage", "--window-size=1280,900",
                    format!("--user-data-dir={}", profile.path().display()),
                ]
            }
        });
        let caps: fantoccini::wd::Capabilities = caps.as_object().unwrap().clone();
        let url = format!("http://127.0.0.1:{port}");
        let mut last_error = String::new();
        // chromedriver takes a moment to listen; ask until it answers.
        for _ in 0..100 {
            match ClientBuilder::new(hyper_util::client::legacy::connect::HttpConnector::new())
                .capabilities(caps.clone())
                .connect(&url)
                .await
            {
                Ok(client) => {
                    return Browser {
                        client,
                        driver,
                        _profile: profile,
                        downloads,
                    }
                }
                Err(e) => last_error = e.to_string(),
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        panic!("no WebDriver session from chromedriver: {last_error}");
    }

    async fn close(mut self) {
        let _ = self.client.clone().close().await;
        let _ = self.driver.kill();
        let _ = self.driver.wait();
    }

    async fn goto(&self, url: &str) {
        self.client.goto(url).await.unwrap();
    }

    /// The text of the first element matching `css`, once one exists.
    async fn text(&self, css: &str) -> String {
        let el = self
            .client
            .wait()
            .at_most(PATIENCE)
            .for_element(Locator::Css(css))
            .await
            .unwrap_or_else(|e| panic!("no `{css}` on the page: {e}"));
        el.text().await.unwrap()
    }

    /// Waits until the text of `css` satisfies `ok` (the page refreshes by itself).
    async fn wait_text(&self, css: &str, what: &str, ok: impl Fn(&str) -> bool) -> String {
        let mut last = String::new();
        for _ in 0..(PATIENCE.as_millis() / 250) {
            if let Ok(el) = self.client.find(Locator::Css(css)).await {
                last = el.text().await.unwrap_or_default();
                if ok(&last) {
                    return last;
                }
            }
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
        panic!("`{css}` never showed {what}; last text: {last:?}");
    }

    async fn title_becomes(&self, what: &str, ok: impl Fn(&str) -> bool) -> String {
        let mut last = String::new();
        for _ in 0..(PATIENCE.as_millis() / 250) {
            last = self.client.title().await.unwrap();
            if ok(&last) {
                return last;
            }
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
        panic!("the title never showed {what}; last: {last:?}");
    }

    async fn sign_in(&self, base: &str, username: &str, password: &str) {
        self.goto(&format!("{base}/")).await;
        self.type_into("#username", username).await;
        self.type_into("#password", password).await;
        self.client
            .find(Locator::Css("#signin"))
            .await
            .unwrap()
            .click()
            .await
            .unwrap();
    }

    async fn type_into(&self, css: &str, text: &str) {
        let el = self
            .client
            .wait()
            .at_most(PATIENCE)
            .for_element(Locator::Css(css))
            .await
            .unwrap();
        el.send_keys(text).await.unwrap();
    }

    async fn click(&self, css: &str) {
        self.client
            .wait()
            .at_most(PATIENCE)
            .for_element(Locator::Css(css))
            .await
            .unwrap_or_else(|e| panic!("no `{css}` to click: {e}"))
            .click()
            .await
            .unwrap();
    }

    async fn screenshot(&self, name: &str) {
        let png = self.client.screenshot().await.unwrap();
        let dir = screenshots();
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join(format!("{name}.png")), png).unwrap();
    }
}

fn screenshots() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("target/web-screenshots")
}

/// "350000.50" -> "3,50,000.50", as the page must print it.
fn indian(amount: &str) -> String {
    let (whole, frac) = amount.split_once('.').unwrap_or((amount, "00"));
    let whole = whole.trim_start_matches('-');
    let (head, tail) = whole.split_at(whole.len().saturating_sub(3));
    let mut groups: Vec<String> = Vec::new();
    let mut head = head.to_string();
    while head.len() > 2 {
        groups.insert(0, head.split_off(head.len() - 2));
    }
    if !head.is_empty() {
        groups.insert(0, head);
    }
    groups.push(tail.to_string());
    format!("{}.{frac:0<2}", groups.join(","))
}

async fn beat(srv: &TestServer, token: &str, company: &str, interval: u32) {
    let (s, b) = srv
        .post(
            "/connector/heartbeat",
            Some(token),
            &json!({"companyId": company, "tallyReachable": true, "companyOpen": true,
                    "intervalSeconds": interval}),
        )
        .await;
    assert_eq!(s, 200, "{b}");
}

async fn started() -> (tempfile::TempDir, TestServer, Firm) {
    let dir = tempfile::tempdir().unwrap();
    // No grace: a connector is offline two of its heartbeat intervals after its last beat.
    let srv = TestServer::start_with(dir.path(), &[("online_grace_secs", json!(0))]).await;
    let f = firm(&srv).await;
    (dir, srv, f)
}

#[test]
fn indian_grouping_as_a_bookkeeper_writes_it() {
    assert_eq!(indian("12345678.90"), "1,23,45,678.90");
    assert_eq!(indian("350000.50"), "3,50,000.50");
    assert_eq!(indian("999.5"), "999.50");
}

#[tokio::test]
#[ignore = "needs chromium and chromium-driver; .ci/run installs them and runs this"]
async fn a_bookkeeper_watches_the_fleet_and_reads_a_trial_balance() {
    let (_dir, srv, f) = started().await;
    let b = Browser::start().await;
    let admin_pw = srv.admin_password();
    b.sign_in(&srv.url, "admin", &admin_pw).await;

    // Other's connector has never been heard from: offline, and the tab says so.
    b.wait_text("li[data-company=other] .pills", "offline", |t| {
        t.contains("offline")
    })
    .await;
    b.title_becomes("one offline", |t| t.starts_with("(1 offline)"))
        .await;
    let sharma = b.text("li[data-company=sharma] .pills").await;
    assert!(sharma.contains("Tally reachable"), "{sharma}");
    assert!(sharma.contains("company open"), "{sharma}");
    assert!(sharma.contains("synced"), "{sharma}");
    assert!(
        sharma.contains("books to 15 Mar 2026 · FY 2025-26"),
        "{sharma}"
    );
    let other = b.text("li[data-company=other] .pills").await;
    assert!(other.contains("does not balance: Feb 2026"), "{other}");
    b.screenshot("overview").await;

    // A heartbeat arrives: the page turns Other online by itself; when beats stop, offline again.
    let other_token = f.other_connector.0.clone();
    beat(&srv, &other_token, "other", 30).await;
    b.wait_text("li[data-company=other] .pills", "online", |t| {
        t.contains("online · last seen")
    })
    .await;
    b.title_becomes("nothing offline", |t| !t.contains("offline"))
        .await;
    // The shortest interval the appliance accepts (5 s): offline two intervals later.
    beat(&srv, &other_token, "other", 5).await;
    b.wait_text("li[data-company=other] .pills", "offline again", |t| {
        t.contains("offline · last seen")
    })
    .await;

    // Reading the books: the company, then a month's trial balance.
    b.click("li[data-company=sharma] a.name").await;
    b.text("#months").await;
    b.wait_text("#connectors", "the connector", |t| t.contains("Windows 10"))
        .await;
    let runs = b.text("#runs").await;
    assert!(
        runs.contains("scheduled") && runs.contains("synced"),
        "{runs}"
    );
    b.screenshot("company").await;
    b.click("#months a[href$='/tb/2026-03']").await;
    let debit = b.text("#tb-debit").await;
    let credit = b.text("#tb-credit").await;
    let (_, api) = srv
        .get("/companies/sharma/snapshots/2026-03", Some(&f.admin))
        .await;
    assert_eq!(debit, indian(&api["debitTotal"].to_string()));
    assert_eq!(credit, indian(&api["creditTotal"].to_string()));
    assert_eq!(debit, "3,50,000.50");
    let tb = b.text("#trial-balance").await;
    assert!(
        tb.contains("Mumbai Debtors") && tb.contains("ABC Ltd"),
        "{tb}"
    );
    b.screenshot("trial-balance").await;

    // The CSV the page downloads is the API's, under the API's file name.
    b.click("#tb-csv").await;
    let saved = b.downloads.path().join("sharma-trial-balance-2026-03.csv");
    for _ in 0..(PATIENCE.as_millis() / 250) {
        if saved.exists() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    let csv = std::fs::read_to_string(&saved).expect("the page saved the CSV");
    assert!(
        csv.starts_with("kind,level,group_path,name,debit,credit,balance"),
        "{csv}"
    );
    assert!(
        csv.contains("total,,,TOTAL,350000.50,350000.50,0.00"),
        "{csv}"
    );

    // The session survives a reload.
    b.client.refresh().await.unwrap();
    assert_eq!(b.text("#tb-debit").await, "3,50,000.50");

    // A phone.
    b.client.set_window_size(390, 844).await.unwrap();
    b.goto(&format!("{}/#/", srv.url)).await;
    b.text("li[data-company=sharma] .pills").await;
    b.screenshot("overview-phone").await;
    b.client.set_window_size(1280, 900).await.unwrap();

    // Signing out ends the session, also after a reload.
    b.click("#signout").await;
    b.text("#login").await;
    b.client.refresh().await.unwrap();
    b.text("#login").await;
    b.close().await;
    srv.stop().await;
}

#[tokio::test]
#[ignore = "needs chromium and chromium-driver; .ci/run installs them and runs this"]
async fn staff_see_their_own_company_only_and_errors_read_as_sentences() {
    let (_dir, srv, _f) = started().await;
    let b = Browser::start().await;

    b.sign_in(&srv.url, "ravi", "not-the-password").await;
    let error = b
        .wait_text("#login-error", "the API's refusal", |t| !t.is_empty())
        .await;
    assert!(!error.contains('{'), "a sentence, not JSON: {error}");

    b.sign_in(&srv.url, "ravi", RAVI_PASSWORD).await;
    b.text("li[data-company=sharma]").await;

    // The page's own formatting, as a bookkeeper reads amounts and years.
    let formatted = b
        .client
        .execute(
            "return [indian(12345678.9), indian(0.05), indian(99999999999.99), drCr(-1234.5), \
             drCr(250), financialYear('2026-03'), financialYear('2026-04'), indianDate('2026-03-05')]",
            vec![],
        )
        .await
        .unwrap();
    assert_eq!(
        formatted,
        json!([
            "1,23,45,678.90",
            "0.05",
            "99,99,99,99,999.99",
            "1,234.50 Cr",
            "250.00 Dr",
            "FY 2025-26",
            "FY 2026-27",
            "5 Mar 2026"
        ])
    );
    let cards = b
        .client
        .find_all(Locator::Css("#companies li"))
        .await
        .unwrap();
    assert_eq!(cards.len(), 1, "Ravi sees Sharma only");

    b.goto(&format!("{}/#/c/other", srv.url)).await;
    let refusal = b.text("main .error").await;
    assert!(
        refusal.contains("not assigned to company `other`"),
        "{refusal}"
    );
    b.goto(&format!("{}/#/c/other/tb/2026-02", srv.url)).await;
    let refusal = b
        .wait_text("main .error", "a refusal", |t| t.contains("`other`"))
        .await;
    assert!(!refusal.contains('{'), "{refusal}");
    b.close().await;
    srv.stop().await;
}

#[tokio::test]
#[ignore = "needs chromium and chromium-driver; .ci/run installs them and runs this"]
async fn profit_and_loss_and_balance_sheet_show_the_figures_worked_by_hand() {
    let dir = tempfile::tempdir().unwrap();
    let srv = TestServer::start(dir.path()).await;
    let admin = srv.admin_token().await;
    web_fixture::trader(&srv, &admin).await;
    let b = Browser::start().await;
    b.sign_in(&srv.url, "admin", &srv.admin_password()).await;
    b.click("li[data-company=gupta] a.name").await;
    b.click("#months a[data-report=pl][href$='/2026-03']").await;
    // March 2026 (see tests/web_reports.rs): gross profit 30,000 in the month, 70,000 in the year.
    assert_eq!(b.text("#pl-gross-month").await, "30,000.00");
    assert_eq!(b.text("#pl-gross-ytd").await, "70,000.00");
    assert_eq!(b.text("#pl-net-month").await, "27,000.00");
    assert_eq!(b.text("#pl-net-ytd").await, "57,000.00");
    b.screenshot("profit-and-loss").await;
    b.click("nav.reports a[data-report=bs]").await;
    assert_eq!(b.text("#bs-liabilities-total").await, "1,57,000.00");
    assert_eq!(b.text("#bs-assets-total").await, "1,57,000.00");
    b.screenshot("balance-sheet").await;
    b.close().await;
    srv.stop().await;
}

/// The text of every cell of the table row whose first cell is `name`.
async fn row_of(b: &Browser, table: &str, name: &str) -> Vec<String> {
    let cells = b
        .client
        .execute(
            "const [table, name] = arguments; \
             const row = [...document.querySelectorAll(table + ' tbody tr')] \
               .find((r) => r.cells[0].textContent.trim() === name); \
             return row ? [...row.cells].map((c) => c.textContent) : null;",
            vec![json!(table), json!(name)],
        )
        .await
        .unwrap();
    serde_json::from_value(cells).unwrap_or_else(|_| panic!("no row `{name}` in {table}"))
}

async fn saved_download(b: &Browser, name: &str) -> String {
    let saved = b.downloads.path().join(name);
    for _ in 0..(PATIENCE.as_millis() / 250) {
        if saved.exists() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    std::fs::read_to_string(&saved).unwrap_or_else(|e| panic!("the page saved {name}: {e}"))
}

#[tokio::test]
#[ignore = "needs chromium and chromium-driver; .ci/run installs them and runs this"]
async fn a_cfo_compares_months_charts_a_ledger_and_sees_a_restated_month() {
    let dir = tempfile::tempdir().unwrap();
    let srv = TestServer::start(dir.path()).await;
    let admin = srv.admin_token().await;
    srv.create_company(&admin, "Gupta Traders", "gupta").await;
    let (token, _, _) = srv.enrol(&admin, "gupta", "pc-gupta").await;
    web_fixture::sync(&srv, &token, &web_fixture::trader_payload()).await;
    let b = Browser::start().await;
    b.sign_in(&srv.url, "admin", &srv.admin_password()).await;
    b.text("li[data-company=gupta]").await;

    // March against February (figures of tests/web_reports.rs): sales moved 60,000 on the credit side.
    b.goto(&format!("{}/#/c/gupta/tb/2026-03", srv.url)).await;
    b.click("nav.compare a[data-compare=previous]").await;
    b.wait_text("#trial-balance thead", "the compared month", |t| {
        t.contains("Feb 2026") && t.contains("Change")
    })
    .await;
    let sales = row_of(&b, "#trial-balance", "Sales").await;
    assert_eq!(
        sales[1..],
        ["", "1,60,000.00", "1,00,000.00 Cr", "−60,000.00"]
    );
    b.screenshot("trial-balance-compared").await;
    b.click("#tb-csv").await;
    let csv = saved_download(&b, "gupta-trial-balance-2026-03.csv").await;
    assert!(
        csv.starts_with(
            "kind,level,group_path,name,debit,credit,balance,balance_2026-02,change\r\n"
        ),
        "{csv}"
    );
    assert!(
        csv.contains(
            "\r\nledger,2,Sales Accounts,Sales,0.00,160000.00,-160000.00,-100000.00,-60000.00\r\n"
        ),
        "{csv}"
    );

    // A ledger's name opens its chart over every month held: revenue shows each month alone.
    b.click("#trial-balance a[href$='/chart/ledger/Sales']")
        .await;
    b.wait_text("#series", "the months held", |t| t.contains("Apr 2026"))
        .await;
    let bars = b
        .client
        .find_all(Locator::Css("#chart svg rect.bar"))
        .await
        .unwrap();
    assert_eq!(bars.len(), 2, "February alone is unknown: no bar");
    let march = row_of(&b, "#series", "Mar 2026").await;
    assert_eq!(march[2..], ["1,60,000.00 Cr", "60,000.00 Cr"]);
    b.screenshot("chart-sales").await;

    // April's P&L beside March's.
    b.goto(&format!("{}/#/c/gupta/pl/2026-04/previous", srv.url))
        .await;
    assert_eq!(b.text("#pl-net-compared").await, "27,000.00");
    assert_eq!(b.text("#pl-net-month").await, "15,000.00");
    b.screenshot("profit-and-loss-compared").await;
    b.click("#pl-csv").await;
    let csv = saved_download(&b, "gupta-profit-and-loss-2026-04.csv").await;
    assert!(
        csv.contains("\r\nNet Profit,,15000.00,15000.00,27000.00\r\n"),
        "{csv}"
    );

    // A back-dated rent of 20,000 in March: the overview and the company page say so.
    let mut restated = web_fixture::trader_payload();
    let march = &mut restated["chartOfAccounts"]["balances"]["closedMonths"][1]["items"];
    march[2]["balance"] = json!(35000.0);
    march[5]["balance"] = json!(137000.0);
    web_fixture::sync(&srv, &token, &restated).await;
    b.goto(&format!("{}/#/", srv.url)).await;
    let warning = b
        .wait_text("li[data-company=gupta] .pills", "the restated month", |t| {
            t.contains("Mar 2026 changed on")
        })
        .await;
    assert!(warning.contains("2 ledgers, ₹20,000.00"), "{warning}");
    b.screenshot("overview-restated").await;
    b.click("li[data-company=gupta] a.name").await;
    b.click("#restatements details summary").await;
    b.client
        .execute(
            "document.getElementById('restatements').scrollIntoView()",
            vec![],
        )
        .await
        .unwrap();
    let lines = b.text("#restatements table").await;
    assert!(
        lines.contains("Rent") && lines.contains("+20,000.00"),
        "{lines}"
    );
    assert!(
        lines.contains("1,57,000.00 Dr") && lines.contains("−20,000.00"),
        "{lines}"
    );
    b.screenshot("company-restated").await;
    b.close().await;
    srv.stop().await;
}

#[tokio::test]
#[ignore = "needs chromium and chromium-driver; .ci/run installs them and runs this"]
async fn a_stockists_profit_and_balance_sheet_count_the_stock() {
    let dir = tempfile::tempdir().unwrap();
    let srv = TestServer::start(dir.path()).await;
    let admin = srv.admin_token().await;
    srv.create_company(&admin, "Jain Stores", "jain").await;
    let (token, _, _) = srv.enrol(&admin, "jain", "pc-jain").await;
    web_fixture::sync(&srv, &token, &web_fixture::stockist_payload()).await;
    let b = Browser::start().await;
    b.sign_in(&srv.url, "admin", &srv.admin_password()).await;
    b.text("li[data-company=jain]").await;
    // Worked by hand in tests/web_books.rs: March's gross profit is 5,000, the year's 35,000.
    b.goto(&format!("{}/#/c/jain/pl/2026-03", srv.url)).await;
    assert_eq!(b.text("#pl-gross-month").await, "5,000.00");
    assert_eq!(b.text("#pl-gross-ytd").await, "35,000.00");
    let opening = row_of(&b, "#profit-and-loss", "Less: Opening stock").await;
    assert_eq!(opening[1..], ["60,000.00", "50,000.00"]);
    let closing = row_of(&b, "#profit-and-loss", "Add: Closing stock").await;
    assert_eq!(closing[1..], ["45,000.00", "45,000.00"]);
    b.screenshot("profit-and-loss-stock").await;
    b.click("nav.reports a[data-report=bs]").await;
    assert_eq!(b.text("#bs-assets-total").await, "1,85,000.00");
    assert_eq!(b.text("#bs-liabilities-total").await, "1,85,000.00");
    let stock = row_of(&b, "#bs-assets", "of which closing stock").await;
    assert_eq!(stock[1], "45,000.00");
    b.screenshot("balance-sheet-stock").await;
    b.close().await;
    srv.stop().await;
}
