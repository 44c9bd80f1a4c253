//! The endpoints the web page reads, over real HTTP against the real server: the overview and a
//! month's trial balance as a group tree.

mod common;
mod web_fixture;

use common::TestServer;
use serde_json::{json, Value};
use web_fixture::firm;

fn company<'a>(overview: &'a Value, id: &str) -> &'a Value {
    overview["companies"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["id"] == id)
        .unwrap_or_else(|| panic!("{id} on the overview: {overview}"))
}

#[tokio::test]
async fn the_overview_shows_each_company_health_and_freshness_in_one_call() {
    let dir = tempfile::tempdir().unwrap();
    let srv = TestServer::start(dir.path()).await;
    let f = firm(&srv).await;

    let (s, ov) = srv.get("/overview", Some(&f.admin)).await;
    assert_eq!(s, 200, "{ov}");
    assert_eq!(ov["companies"].as_array().unwrap().len(), 2, "{ov}");
    // Other's connector never sent a heartbeat.
    assert_eq!(ov["offlineConnectors"], 1, "{ov}");

    let sharma = company(&ov, "sharma");
    assert_eq!(sharma["name"], "Sharma & Sons");
    let k = &sharma["connectors"][0];
    assert_eq!(k["online"], true, "{k}");
    assert_eq!(k["tallyReachable"], true, "{k}");
    assert_eq!(k["companyOpen"], true, "{k}");
    assert!(k["lastHeartbeat"].as_str().unwrap().ends_with('Z'), "{k}");
    let run = &sharma["lastSyncRun"];
    assert_eq!(run["status"], "succeeded", "{run}");
    assert!(run["durationMs"].as_i64().is_some(), "{run}");
    assert_eq!(sharma["latestMonth"]["monthKey"], "2026-03");
    assert_eq!(sharma["latestMonth"]["asOfDate"], "2026-03-15");
    assert_eq!(sharma["monthsHeld"], 3);
    assert_eq!(sharma["unbalancedMonths"], json!([]));
    assert_eq!(sharma["financialYearFrom"], "2025-04-01");

    let other = company(&ov, "other");
    assert_eq!(other["connectors"][0]["online"], false);
    assert_eq!(other["connectors"][0]["tallyReachable"], Value::Null);
    assert_eq!(other["unbalancedMonths"], json!(["2026-02"]));
    srv.stop().await;
}

#[tokio::test]
async fn staff_see_only_their_companies_on_the_overview() {
    let dir = tempfile::tempdir().unwrap();
    let srv = TestServer::start(dir.path()).await;
    let f = firm(&srv).await;
    let (s, ov) = srv.get("/overview", Some(&f.ravi)).await;
    assert_eq!(s, 200, "{ov}");
    let ids: Vec<&str> = ov["companies"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, ["sharma"]);
    assert_eq!(
        ov["offlineConnectors"], 0,
        "Other's connector is not Ravi's concern"
    );
    let (s, b) = srv.get("/overview", None).await;
    assert_eq!(s, 401, "{b}");
    srv.stop().await;
}

fn amount(v: &Value) -> String {
    v.to_string()
}

#[tokio::test]
async fn the_trial_balance_tree_adds_up_to_the_snapshot_totals() {
    let dir = tempfile::tempdir().unwrap();
    let srv = TestServer::start(dir.path()).await;
    let f = firm(&srv).await;
    let (s, tree) = srv
        .get(
            "/companies/sharma/reports/2026-03/trial-balance",
            Some(&f.ravi),
        )
        .await;
    assert_eq!(s, 200, "{tree}");
    let (_, flat) = srv
        .get("/companies/sharma/snapshots/2026-03", Some(&f.ravi))
        .await;
    assert_eq!(amount(&tree["debitTotal"]), amount(&flat["debitTotal"]));

    let groups = tree["groups"].as_array().unwrap();
    let names: Vec<&str> = groups.iter().map(|g| g["name"].as_str().unwrap()).collect();
    // Tally's order: liabilities, assets, then revenue.
    assert_eq!(
        names,
        ["Capital Account", "Current Assets", "Sales Accounts"]
    );
    let assets = &groups[1];
    assert_eq!(amount(&assets["debit"]), "350000.50");
    assert_eq!(amount(&assets["credit"]), "0.00");
    let sub: Vec<&str> = assets["groups"]
        .as_array()
        .unwrap()
        .iter()
        .map(|g| g["name"].as_str().unwrap())
        .collect();
    assert_eq!(sub, ["Cash-in-Hand", "Sundry Debtors"]);
    let mumbai = &assets["groups"][1]["groups"][0];
    assert_eq!(mumbai["name"], "Mumbai Debtors");
    assert_eq!(mumbai["ledgers"][0]["ledgerName"], "ABC Ltd");
    assert_eq!(amount(&mumbai["debit"]), "150000.50");
    assert_eq!(amount(&groups[2]["credit"]), "250000.50");
    assert_eq!(amount(&groups[2]["balance"]), "-250000.50");

    let debit: i64 = groups.iter().map(|g| paise(&g["debit"])).sum();
    let credit: i64 = groups.iter().map(|g| paise(&g["credit"])).sum();
    assert_eq!(debit, paise(&tree["debitTotal"]));
    assert_eq!(credit, paise(&tree["creditTotal"]));
    srv.stop().await;
}

fn paise(v: &Value) -> i64 {
    let text = v.to_string();
    let (whole, frac) = text.split_once('.').unwrap_or((&text, "0"));
    let sign = if whole.starts_with('-') { -1 } else { 1 };
    let frac: i64 = format!("{frac:0<2}").parse().unwrap();
    whole.parse::<i64>().unwrap() * 100 + sign * frac
}

#[tokio::test]
async fn a_bad_or_missing_month_is_refused_with_a_sentence() {
    let dir = tempfile::tempdir().unwrap();
    let srv = TestServer::start(dir.path()).await;
    let f = firm(&srv).await;
    let (s, b) = srv
        .get(
            "/companies/sharma/reports/2026-13/trial-balance",
            Some(&f.ravi),
        )
        .await;
    assert_eq!(s, 422, "{b}");
    assert!(b["message"].as_str().unwrap().contains("month"), "{b}");
    let (s, b) = srv
        .get(
            "/companies/sharma/reports/2024-01/trial-balance",
            Some(&f.ravi),
        )
        .await;
    assert_eq!(s, 404, "{b}");
    assert_eq!(b["error"], "snapshot_not_found");
    let (s, b) = srv
        .get(
            "/companies/other/reports/2026-02/trial-balance",
            Some(&f.ravi),
        )
        .await;
    assert_eq!(s, 403, "{b}");
    srv.stop().await;
}

#[tokio::test]
async fn the_page_is_served_whole_from_the_appliance_with_a_strict_policy() {
    let dir = tempfile::tempdir().unwrap();
    let srv = TestServer::start(dir.path()).await;
    let res = srv.http.get(format!("{}/", srv.url)).send().await.unwrap();
    assert_eq!(res.status(), 200);
    let csp = res.headers()["content-security-policy"]
        .to_str()
        .unwrap()
        .to_string();
    assert!(csp.starts_with("default-src 'self'"), "{csp}");
    assert!(!csp.contains("unsafe-inline"), "{csp}");
    let html = res.text().await.unwrap();
    // Every script is a file of the appliance's own: no inline code, nothing from elsewhere.
    for tag in html.split("<script").skip(1) {
        let tag = tag.split('>').next().unwrap();
        assert!(
            tag.contains("src=\"/"),
            "an inline or foreign script: <script{tag}>"
        );
    }
    assert!(
        !html.contains("http://") && !html.contains("https://"),
        "{html}"
    );
    let scripts = [
        "/app.js",
        "/books.js",
        "/admin.js",
        "/company.js",
        "/updates.js",
    ];
    let files = scripts.iter().map(|p| (*p, "javascript"));
    for (path, kind) in files.chain([("/app.css", "text/css")]) {
        let res = srv
            .http
            .get(format!("{}{path}", srv.url))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 200, "{path}");
        let ct = res.headers()["content-type"].to_str().unwrap().to_string();
        assert!(ct.contains(kind), "{path}: {ct}");
        assert!(
            res.headers().contains_key("content-security-policy"),
            "{path}"
        );
        // The SVG namespace is a name, not an address anything is fetched from.
        let text = res
            .text()
            .await
            .unwrap()
            .replace("http://www.w3.org/2000/svg", "");
        assert!(
            !text.contains("https://") && !text.contains("http://"),
            "{path} fetches from outside"
        );
    }
    srv.stop().await;
}

#[tokio::test]
async fn a_company_lists_its_recent_sync_runs_newest_first() {
    let dir = tempfile::tempdir().unwrap();
    let srv = TestServer::start(dir.path()).await;
    let f = firm(&srv).await;
    web_fixture::sync(&srv, &f.sharma_connector.0, &common::balanced_payload()).await;
    let (s, runs) = srv.get("/companies/sharma/sync-runs", Some(&f.ravi)).await;
    assert_eq!(s, 200, "{runs}");
    let runs = runs.as_array().unwrap();
    assert_eq!(runs.len(), 2, "{runs:?}");
    assert!(runs.iter().all(|r| r["status"] == "succeeded"));
    assert!(runs[0]["startedAt"].as_str() >= runs[1]["startedAt"].as_str());
    let (s, one) = srv
        .get("/companies/sharma/sync-runs?limit=1", Some(&f.ravi))
        .await;
    assert_eq!(s, 200);
    assert_eq!(one.as_array().unwrap().len(), 1);
    let (s, b) = srv
        .get("/companies/sharma/sync-runs?limit=0", Some(&f.ravi))
        .await;
    assert_eq!(s, 422, "{b}");
    let (s, _) = srv.get("/companies/other/sync-runs", Some(&f.ravi)).await;
    assert_eq!(s, 403);
    srv.stop().await;
}

/// The body as sent (no decoding) and its Content-Encoding, asking with `accept` as
/// Accept-Encoding (none when `None`).
async fn raw(
    url: &str,
    token: Option<&str>,
    accept: Option<&str>,
) -> (Option<String>, Option<String>, Vec<u8>) {
    let client = reqwest::Client::builder().no_gzip().build().unwrap();
    let mut req = client.get(url);
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    if let Some(a) = accept {
        req = req.header("Accept-Encoding", a);
    }
    let res = req.send().await.unwrap();
    assert_eq!(res.status(), 200, "{url}");
    let header = |name: &str| {
        res.headers()
            .get(name)
            .map(|v| v.to_str().unwrap().to_string())
    };
    let (encoding, vary) = (header("content-encoding"), header("vary"));
    (encoding, vary, res.bytes().await.unwrap().to_vec())
}

fn gunzip(bytes: &[u8]) -> Vec<u8> {
    use std::io::Read;
    let mut out = Vec::new();
    flate2::read::GzDecoder::new(bytes)
        .read_to_end(&mut out)
        .unwrap();
    out
}

#[tokio::test]
async fn the_page_and_its_json_come_gzipped_to_a_browser_that_takes_gzip() {
    let dir = tempfile::tempdir().unwrap();
    let srv = TestServer::start(dir.path()).await;
    let f = firm(&srv).await;
    let tb = srv.api("/companies/sharma/reports/2026-03/trial-balance");
    let page = format!("{}/app.js", srv.url);
    for (url, token) in [(page.as_str(), None), (tb.as_str(), Some(f.admin.as_str()))] {
        let (encoding, vary, plain) = raw(url, token, None).await;
        assert_eq!(encoding, None, "{url} compressed unasked");
        assert!(plain.len() > 1024, "{url} is too small to tell");
        let (encoding, vary_gz, packed) = raw(url, token, Some("gzip, deflate, br")).await;
        assert_eq!(encoding.as_deref(), Some("gzip"), "{url}");
        assert!(
            packed.len() < plain.len() / 2,
            "{url}: {} bytes",
            packed.len()
        );
        assert_eq!(
            gunzip(&packed),
            plain,
            "{url}: gzip decodes to the plain bytes"
        );
        for v in [vary, vary_gz] {
            assert_eq!(v.as_deref(), Some("Accept-Encoding"), "{url}");
        }
        // A client refusing gzip gets the plain bytes.
        let (encoding, _, body) = raw(url, token, Some("gzip;q=0, identity")).await;
        assert_eq!((encoding, body), (None, plain), "{url}");
    }
    // A small answer is not worth compressing.
    let (encoding, _, _) = raw(&srv.api("/health"), None, Some("gzip")).await;
    assert_eq!(encoding, None);
    srv.stop().await;
}

/// A gzipped answer to the browser origin CORS allows must vary on both: a cache that kept only
/// one would hand gzip to a client without it, or one origin's answer to another.
#[tokio::test]
async fn a_gzipped_answer_to_the_allowed_origin_varies_on_both() {
    let dir = tempfile::tempdir().unwrap();
    let origin = "https://cfo.example.in";
    let srv = TestServer::start_with(dir.path(), &[("cors_origin", json!(origin))]).await;
    let f = firm(&srv).await;
    let tb = srv.api("/companies/sharma/reports/2026-03/trial-balance");
    let res = reqwest::Client::builder()
        .no_gzip()
        .build()
        .unwrap()
        .get(&tb)
        .bearer_auth(&f.admin)
        .header("Accept-Encoding", "gzip")
        .header("Origin", origin)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let headers = res.headers();
    assert_eq!(headers["content-encoding"], "gzip");
    assert_eq!(headers["access-control-allow-origin"], origin);
    let vary: Vec<&str> = headers
        .get_all("vary")
        .iter()
        .flat_map(|v| v.to_str().unwrap().split(','))
        .map(str::trim)
        .collect();
    assert_eq!(vary.len(), 2, "{vary:?}");
    assert!(vary.contains(&"Origin"), "{vary:?}");
    assert!(vary.contains(&"Accept-Encoding"), "{vary:?}");
    srv.stop().await;
}
