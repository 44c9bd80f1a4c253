//! Test harness: the real appliance, in-process on a free port, driven over real HTTP.
#![allow(dead_code)]

pub mod updates;
pub mod wine;

use std::path::{Path, PathBuf};
use std::process::Output;

use aicfo::server::{ADMIN_PASSWORD_FILE, DATABASE_FILE};

use rocket::fairing::AdHoc;
use rocket::figment::providers::Serialized;
use rocket::figment::Figment;
use serde_json::{json, Value};

pub struct TestServer {
    pub url: String,
    pub data_dir: PathBuf,
    shutdown: rocket::Shutdown,
    task: tokio::task::JoinHandle<()>,
    pub http: reqwest::Client,
}

/// Settings every test server gets; `extra` overrides them (e.g. `("connector_rate_burst", 2)`).
pub fn figment(data_dir: &Path, extra: &[(&str, Value)]) -> Figment {
    let mut f = aicfo::server::config::figment()
        .merge(Serialized::global("address", "127.0.0.1"))
        .merge(Serialized::global("port", 0))
        .merge(Serialized::global("log_level", "off"))
        .merge(Serialized::global("data_dir", data_dir))
        // In-process servers stop without waiting on idle keep-alive connections; the process
        // tests exercise the real shutdown.
        .merge(Serialized::global("shutdown.grace", 0))
        .merge(Serialized::global("shutdown.mercy", 0));
    for (k, v) in extra {
        // With serde_json's arbitrary_precision a Number serializes as a map; hand figment an integer.
        f = match v.as_i64() {
            Some(n) => f.merge(Serialized::global(k, n)),
            None => f.merge(Serialized::global(k, v.clone())),
        };
    }
    f
}

impl TestServer {
    pub async fn start(data_dir: &Path) -> TestServer {
        Self::start_with(data_dir, &[]).await
    }

    pub async fn start_with(data_dir: &Path, extra: &[(&str, Value)]) -> TestServer {
        let (tx, rx) = tokio::sync::oneshot::channel::<u16>();
        let tx = std::sync::Mutex::new(Some(tx));
        let rocket = aicfo::server::build(figment(data_dir, extra))
            .expect("server builds")
            .attach(AdHoc::on_liftoff("report port", move |r| {
                let port = r.config().port;
                if let Some(tx) = tx.lock().unwrap().take() {
                    let _ = tx.send(port);
                }
                Box::pin(async {})
            }))
            .ignite()
            .await
            .expect("server ignites");
        let shutdown = rocket.shutdown();
        let task = tokio::spawn(async move {
            let _ = rocket.launch().await;
        });
        let port = rx.await.expect("server reports its port");
        TestServer {
            url: format!("http://127.0.0.1:{port}"),
            data_dir: data_dir.to_path_buf(),
            shutdown,
            task,
            http: reqwest::Client::new(),
        }
    }

    pub async fn stop(self) {
        // Close our keep-alive connections first, or Rocket waits out its shutdown grace for them.
        drop(self.http);
        self.shutdown.notify();
        let _ = self.task.await;
    }

    pub fn api(&self, path: &str) -> String {
        format!("{}/api{}", self.url, path)
    }

    pub fn admin_password(&self) -> String {
        std::fs::read_to_string(self.data_dir.join(ADMIN_PASSWORD_FILE))
            .expect("generated admin password file")
            .trim()
            .to_string()
    }

    pub async fn login(&self, username: &str, password: &str) -> String {
        let res = self
            .http
            .post(self.api("/auth/login"))
            .json(&json!({"username": username, "password": password}))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 200, "login as {username}");
        res.json::<Value>().await.unwrap()["token"]
            .as_str()
            .unwrap()
            .to_string()
    }

    pub async fn admin_token(&self) -> String {
        self.login("admin", &self.admin_password()).await
    }

    pub async fn post(&self, path: &str, token: Option<&str>, body: &Value) -> (u16, Value) {
        Self::send(self.http.post(self.api(path)).json(body), token).await
    }

    pub async fn get(&self, path: &str, token: Option<&str>) -> (u16, Value) {
        Self::send(self.http.get(self.api(path)), token).await
    }

    /// Status and body (JSON when it is JSON, else the text as a JSON string).
    async fn send(mut req: reqwest::RequestBuilder, token: Option<&str>) -> (u16, Value) {
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        let res = req.send().await.unwrap();
        let status = res.status().as_u16();
        let text = res.text().await.unwrap();
        (
            status,
            serde_json::from_str(&text).unwrap_or(Value::String(text)),
        )
    }

    pub async fn create_company(&self, admin: &str, name: &str, id: &str) {
        let (s, b) = self
            .post("/companies", Some(admin), &json!({"name": name, "id": id}))
            .await;
        assert_eq!(s, 201, "{b}");
    }

    /// Creates a staff user with access to `companies` and signs them in; returns their token.
    pub async fn create_staff(
        &self,
        admin: &str,
        username: &str,
        password: &str,
        companies: &[&str],
    ) -> String {
        let (s, b) = self
            .post(
                "/users",
                Some(admin),
                &json!({"username": username, "password": password, "role": "staff", "companyIds": companies}),
            )
            .await;
        assert_eq!(s, 201, "{b}");
        self.login(username, password).await
    }

    /// Enrols a device the way the guide's curl does; returns (connectorToken, refreshToken, connectorId).
    pub async fn enrol(
        &self,
        user_jwt: &str,
        company: &str,
        device: &str,
    ) -> (String, String, String) {
        let (s, b) = self
            .post(
                "/connector/auth",
                None,
                &json!({
                    "companyId": company, "deviceId": device, "deviceName": "Test Connector",
                    "os": "Windows 10", "appVersion": "1.0.0", "userJwt": user_jwt
                }),
            )
            .await;
        assert_eq!(s, 200, "{b}");
        (
            b["connectorToken"].as_str().unwrap().to_string(),
            b["refreshToken"].as_str().unwrap().to_string(),
            b["connectorId"].as_str().unwrap().to_string(),
        )
    }

    /// Every row of every table, as text: equal before and after means nothing changed.
    pub fn fingerprint(&self) -> String {
        let conn = self.db();
        let mut tables: Vec<String> = conn
            .prepare("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")
            .unwrap()
            .query_map([], |r| r.get(0))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        tables.retain(|t| !t.starts_with("sqlite_"));
        let mut out = String::new();
        for t in tables {
            let mut stmt = conn
                .prepare(&format!("SELECT * FROM \"{t}\" ORDER BY 1"))
                .unwrap();
            let n = stmt.column_count();
            let mut rows = stmt.query([]).unwrap();
            out.push_str(&format!("== {t}\n"));
            while let Some(r) = rows.next().unwrap() {
                for i in 0..n {
                    let v: rusqlite::types::Value = r.get(i).unwrap();
                    out.push_str(&format!("{v:?}|"));
                }
                out.push('\n');
            }
        }
        out
    }

    /// A connection of the test's own to the server's database, for looking behind the API.
    pub fn db(&self) -> rusqlite::Connection {
        rusqlite::Connection::open(self.data_dir.join(DATABASE_FILE)).unwrap()
    }

    /// A connector token that expired a while ago, signed with this appliance's real secret.
    pub fn expired_connector_token(&self, connector_id: &str, company_id: &str) -> String {
        expired_connector_token(&self.data_dir, connector_id, company_id)
    }

    pub fn count(&self, sql: &str) -> i64 {
        let conn = self.db();
        conn.query_row(sql, [], |r| r.get(0)).unwrap()
    }
}

/// The guide's example payload, verbatim.
pub fn guide_payload() -> Value {
    json!({
      "chartOfAccounts": {
        "source": "tally",
        "generatedAt": "2026-02-10T10:00:00.000Z",
        "groups": [
          { "name": "Sundry Debtors", "parent": "Current Assets", "guid": "group-001", "type": "Group" }
        ],
        "ledgers": [
          { "guid": "ledger-001", "name": "ABC Ltd", "parent": "Sundry Debtors", "groupName": "Sundry Debtors", "type": "Ledger" }
        ],
        "balances": {
          "current": {
            "monthKey": "2026-02",
            "asOfDate": "2026-02-10",
            "items": [ { "ledgerGuid": "ledger-001", "balance": 12345.67 } ]
          },
          "closedMonths": []
        }
      },
      "asOfDate": "2026-02-10"
    })
}

/// A small consistent company: two closed months and a current one, each summing to zero,
/// with the extra fields the connector sends.
pub fn balanced_payload() -> Value {
    json!({
      "chartOfAccounts": {
        "source": "tally",
        "generatedAt": "2026-03-15T10:00:00Z",
        "company": { "tallyCompanyName": "Sharma & Sons", "booksFrom": "2025-04-01", "financialYearFrom": "2025-04-01" },
        "groups": [
          { "name": "Sundry Debtors", "parent": "Current Assets", "guid": "g-sd", "isRevenue": false,
            "isDeemedPositive": true, "affectsGrossProfit": false, "reservedName": "Sundry Debtors" },
          { "name": "Mumbai Debtors", "parent": "Sundry Debtors", "guid": "g-mum" },
          { "name": "Sales Accounts", "parent": "\u{4} Primary", "guid": "g-sales", "isRevenue": true,
            "isDeemedPositive": false, "affectsGrossProfit": true, "reservedName": "Sales Accounts" },
          { "name": "Capital Account", "parent": "Primary", "guid": "g-cap" }
        ],
        "ledgers": [
          { "guid": "l-abc", "name": "ABC Ltd", "parent": "Mumbai Debtors" },
          { "guid": "l-sales", "name": "Sales", "parent": "Sales Accounts" },
          { "guid": "l-cap", "name": "Capital", "parent": "Capital Account" },
          { "guid": "l-cash", "name": "Cash", "parent": "Cash-in-Hand" }
        ],
        "balances": {
          "current": { "monthKey": "2026-03", "asOfDate": "2026-03-15", "items": [
            { "ledgerGuid": "l-abc", "balance": 150000.50 },
            { "ledgerGuid": "l-sales", "balance": -250000.50 },
            { "ledgerGuid": "l-cap", "balance": -100000 },
            { "ledgerGuid": "l-cash", "balance": 200000 }
          ]},
          "closedMonths": [
            { "monthKey": "2026-01", "asOfDate": "2026-01-31", "items": [
              { "ledgerGuid": "l-abc", "balance": 1000.10 },
              { "ledgerGuid": "l-sales", "balance": -1000.10 }
            ]},
            { "monthKey": "2026-02", "asOfDate": "2026-02-28", "items": [
              { "ledgerGuid": "l-abc", "balance": 99999999999.99 },
              { "ledgerGuid": "l-sales", "balance": -99999999999.99 }
            ]}
          ]
        }
      },
      "asOfDate": "2026-03-15"
    })
}

/// A connector token that expired a while ago, signed with the secret the appliance on
/// `data_dir` uses (read through the appliance's own loader, not the file's layout).
pub fn expired_connector_token(data_dir: &Path, connector_id: &str, company_id: &str) -> String {
    let secrets = aicfo::server::secrets::Secrets::load_or_create(data_dir).unwrap();
    let keys = aicfo::server::auth::tokens::TokenKeys::new(&secrets.jwt, &secrets.connector);
    let now = time::OffsetDateTime::now_utc().unix_timestamp() as u64;
    keys.issue_connector_expiring_at(connector_id, company_id, now - 2000, now - 1000)
        .unwrap()
}

/// A finished process's exit code and output, for assertion messages.
pub fn text(o: &Output) -> String {
    format!(
        "exit {:?}\nstdout:\n{}\nstderr:\n{}",
        o.status.code(),
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

/// Runs the real connector binary with `--home home` to the end, in a blocking thread so the
/// servers in this process keep serving; `stdin` is written to it, then closed.
pub async fn connector(home: &Path, args: &[&str], stdin: Option<&str>) -> Output {
    use std::io::Write;
    use std::process::{Command, Stdio};
    let (home, args, stdin) = (
        home.to_path_buf(),
        args.iter().map(|s| s.to_string()).collect::<Vec<_>>(),
        stdin.map(str::to_string),
    );
    tokio::task::spawn_blocking(move || {
        let mut child = Command::new(env!("CARGO_BIN_EXE_aicfo-connector"))
            .arg("--home")
            .arg(&home)
            .args(&args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        if let Some(text) = stdin {
            // A connector that stops before reading all of it is the test's to judge, not a
            // broken pipe here.
            let _ = child.stdin.take().unwrap().write_all(text.as_bytes());
        }
        drop(child.stdin.take());
        child.wait_with_output().unwrap()
    })
    .await
    .unwrap()
}

/// tally-sim serving `company` on a free loopback port, as the tests' stand-in for Tally. The
/// books it serves are in `sim.state` (for a test that changes them, or asks what Tally would
/// show).
pub async fn tally_serving(company: aicfo::sim::SimCompany) -> aicfo::sim::SimServer {
    use aicfo::sim::{Books, SimServer, SimState};
    let state = std::sync::Arc::new(SimState::new(vec![Books::new(company).unwrap()]));
    SimServer::start(state, "127.0.0.1", 0, false)
        .await
        .unwrap()
}

/// `aicfo-connector setup` in `home`, signing in as `admin` with the password on stdin (as a
/// person types it) for `company_id`, reading Tally at `tally_url`: how most connector tests
/// begin, before the part they are about.
pub async fn connector_setup(
    home: &Path,
    api_url: &str,
    admin_password: &str,
    company_id: &str,
    tally_url: &str,
) -> Output {
    let args = [
        "setup",
        "--api-url",
        api_url,
        "--username",
        "admin",
        "--password-stdin",
        "--company-id",
        company_id,
        "--tally-url",
        tally_url,
    ];
    connector(home, &args, Some(&format!("{admin_password}\n"))).await
}

impl TestServer {
    /// [`connector_setup`] against this appliance, as its administrator.
    pub async fn setup_connector(&self, home: &Path, company_id: &str, tally_url: &str) -> Output {
        let api = format!("{}/api", self.url);
        connector_setup(home, &api, &self.admin_password(), company_id, tally_url).await
    }
}

/// Changes the connector's `config.json` in `home` as `f` says, the way a person edits it.
pub fn edit_connector_config(home: &Path, f: impl FnOnce(&mut Value)) {
    let path = home.join("config.json");
    let mut c: Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    f(&mut c);
    std::fs::write(path, serde_json::to_string_pretty(&c).unwrap()).unwrap();
}

/// Asserts that every ledger of Tally's trial balance (`expected`, from tally-sim) is in `tb`, a
/// month as the appliance answers `/companies/<id>/snapshots/<month>`, at Tally's balance;
/// `month` names it in a failure.
pub fn assert_ledgers_as_in_tally(
    tb: &Value,
    expected: &[aicfo::sim::ExpectedBalance],
    month: &str,
) {
    let ledgers = tb["ledgers"].as_array().expect("the month's ledgers");
    for e in expected {
        let held = ledgers
            .iter()
            .find(|l| l["ledgerGuid"] == e.ledger_guid.as_str())
            .map(|l| l["balance"].to_string().parse::<aicfo::protocol::Amount>());
        assert_eq!(
            held.map(Result::unwrap),
            Some(e.balance),
            "{month}: {} ({})",
            e.ledger_name,
            e.ledger_guid
        );
    }
}

/// One retry a second later instead of the real back-off, so that a test of a fault is over in
/// seconds.
pub fn fast_connector_retries(home: &Path) {
    edit_connector_config(home, |c| {
        c["retry_delay_seconds"] = json!(1);
        c["max_retry_attempts"] = json!(1);
    });
}

/// The `config.json` inside a connector ZIP the appliance handed out.
pub fn config_in_zip(zip: &[u8]) -> Value {
    use std::io::Read;
    let mut archive = zip::ZipArchive::new(std::io::Cursor::new(zip)).unwrap();
    let mut text = String::new();
    archive
        .by_name("config.json")
        .unwrap()
        .read_to_string(&mut text)
        .unwrap();
    serde_json::from_str(&text).unwrap()
}

/// A client whose connections come from `from` (any 127.x address reaches the server on Linux).
pub fn client_from(from: &str) -> reqwest::Client {
    reqwest::Client::builder()
        .local_address(from.parse::<std::net::IpAddr>().ok())
        .build()
        .unwrap()
}
