//! The `tally` client against `tally-sim` over real HTTP: the balances read equal the
//! simulator's expected trial balance, and every fault becomes the right error.

use std::sync::Arc;
use std::time::Duration;

use aicfo::protocol::calendar::parse_date;
use aicfo::protocol::{Amount, MonthKey};
use aicfo::sim::{
    expected_trial_balance, generate, Books, Fault, GenSpec, SimCompany, SimServer, SimState,
};
use aicfo::tally::convert::to_wire_sign;
use aicfo::tally::encoding::TextEncoding;
use aicfo::tally::{TallyClient, TallyError};

fn big_company() -> SimCompany {
    generate(&GenSpec {
        name: "Sharma & Sons <Mumbai>".into(),
        seed: 42,
        ledgers: 300,
        vouchers: 6000,
        years: 3,
        first_year: 2023,
    })
}

async fn serve(companies: Vec<SimCompany>) -> SimServer {
    let books = companies
        .into_iter()
        .map(|c| Books::new(c).unwrap())
        .collect();
    SimServer::start(Arc::new(SimState::new(books)), "127.0.0.1", 0, false)
        .await
        .unwrap()
}

/// What tally-sim answers to `body`, as text (no client in between).
async fn post_raw(url: &str, body: String) -> String {
    reqwest::Client::new()
        .post(url)
        .body(body)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap()
}

fn d(s: &str) -> time::Date {
    parse_date(s).unwrap()
}

#[tokio::test]
async fn balances_read_through_the_client_equal_the_expected_trial_balance() {
    let company = big_company();
    let books = Books::new(company.clone()).unwrap();
    let sim = serve(vec![company]).await;
    for encoding in [TextEncoding::Utf16Le, TextEncoding::Utf8] {
        let client = TallyClient::new(&sim.url, Duration::from_secs(30))
            .unwrap()
            .with_encoding(encoding);
        let companies = client.companies().await.unwrap();
        assert_eq!(companies.len(), 1);
        let name = &companies[0].name;
        assert_eq!(name, "Sharma & Sons <Mumbai>");
        assert_eq!(companies[0].books_from, Some(d("2023-04-01")));
        // Month-ends on both sides of two financial-year boundaries, and a mid-month day.
        for at in [
            "2024-03-31",
            "2024-04-30",
            "2025-03-31",
            "2025-04-30",
            "2025-11-15",
        ] {
            let at = d(at);
            let fy = books.fy_start(at);
            let read = client.balances(name, fy, at, None).await.unwrap();
            let expected = expected_trial_balance(&books, at);
            assert_eq!(read.len(), expected.len());
            let mut total = Amount::ZERO;
            for (r, e) in read.iter().zip(&expected) {
                assert_eq!(r.guid, e.ledger_guid);
                assert_eq!(r.name, e.ledger_name, "{encoding:?}");
                let wire = to_wire_sign(r.closing_balance.unwrap_or(Amount::ZERO));
                assert_eq!(wire, e.balance, "{} at {at} ({encoding:?})", r.name);
                total = total.checked_add(wire).unwrap();
            }
            assert_eq!(
                total,
                Amount::ZERO,
                "trial balance at {at} must sum to zero"
            );
        }
        // Groups and ledgers as masters.
        let groups = client.groups(name).await.unwrap();
        assert_eq!(
            groups.iter().filter(|g| g.reserved_name.is_some()).count(),
            28
        );
        assert!(groups
            .iter()
            .all(|g| g.guid.is_some() && g.is_revenue.is_some() && g.is_deemed_positive.is_some()));
        let ledgers = client.ledgers(name, None).await.unwrap();
        assert_eq!(ledgers.len(), books.ledgers.len());
        let pl = ledgers
            .iter()
            .find(|l| l.name == "Profit & Loss A/c")
            .unwrap();
        assert_eq!(pl.parent, None, "`&#4; Primary` reads as no parent");
    }
    sim.stop().await;
}

/// A company small enough to work out by hand.
fn hand_company() -> SimCompany {
    serde_json::from_value(serde_json::json!({
        "name": "Hand Books", "guid": "hb", "booksFrom": "2024-04-01", "financialYearFrom": "2024-04-01",
        "groups": [{"name": "Mumbai Debtors", "guid": "g1", "parent": "Sundry Debtors"}],
        "ledgers": [
            {"name": "Capital", "guid": "cap", "parent": "Capital Account", "openingBalance": -5000},
            {"name": "Cash", "guid": "cash", "parent": "Cash-in-Hand", "openingBalance": 5000},
            {"name": "ABC Ltd", "guid": "abc", "parent": "Mumbai Debtors"},
            {"name": "Sales", "guid": "sales", "parent": "Sales Accounts"},
            {"name": "Rent", "guid": "rent", "parent": "Indirect Expenses"}
        ],
        "vouchers": [
            {"date": "2024-05-10", "voucherType": "Sales", "entries": [{"ledger": "ABC Ltd", "amount": 1000}, {"ledger": "Sales", "amount": -1000}]},
            {"date": "2025-01-10", "voucherType": "Payment", "entries": [{"ledger": "Rent", "amount": 300}, {"ledger": "Cash", "amount": -300}]},
            {"date": "2025-04-15", "voucherType": "Sales", "entries": [{"ledger": "ABC Ltd", "amount": 500.25}, {"ledger": "Sales", "amount": -500.25}]}
        ]
    }))
    .unwrap()
}

#[test]
fn income_and_expense_restart_each_year_and_earlier_results_sit_in_profit_and_loss() {
    let books = Books::new(hand_company()).unwrap();
    let tb = |at: &str| -> Vec<(String, String)> {
        expected_trial_balance(&books, d(at))
            .into_iter()
            .map(|e| (e.ledger_name, e.balance.to_string()))
            .collect()
    };
    let s = |v: &[(&str, &str)]| {
        v.iter()
            .map(|(a, b)| (a.to_string(), b.to_string()))
            .collect::<Vec<_>>()
    };
    assert_eq!(
        tb("2025-03-31"),
        s(&[
            ("Capital", "-5000.00"),
            ("Cash", "4700.00"),
            ("ABC Ltd", "1000.00"),
            ("Sales", "-1000.00"),
            ("Rent", "300.00"),
            ("Profit & Loss A/c", "0.00")
        ])
    );
    // The new year: Sales and Rent start again; last year's profit of 700 is a credit in P&L.
    assert_eq!(
        tb("2025-04-30"),
        s(&[
            ("Capital", "-5000.00"),
            ("Cash", "4700.00"),
            ("ABC Ltd", "1500.25"),
            ("Sales", "-500.25"),
            ("Rent", "0.00"),
            ("Profit & Loss A/c", "-700.00")
        ])
    );
    // Before any voucher: the opening balances.
    assert_eq!(
        tb("2024-04-01")[1],
        ("Cash".to_string(), "5000.00".to_string())
    );
    assert_eq!(books.fy_start(d("2025-03-31")), d("2024-04-01"));
    assert_eq!(books.fy_start(d("2025-04-01")), d("2025-04-01"));
    let _ = MonthKey::of(d("2025-04-01"));
}

#[test]
fn inconsistent_books_are_refused_with_the_reason() {
    let mut c = hand_company();
    c.vouchers[0].entries[1].amount = "-999".parse().unwrap();
    assert!(Books::new(c)
        .err()
        .unwrap()
        .to_string()
        .contains("does not balance"));
    // Openings that do not tally are Tally's "Difference in opening balances", not an error.
    let mut c = hand_company();
    c.ledgers[0].opening_balance = "-4000".parse().unwrap();
    let books = Books::new(c).unwrap();
    assert_eq!(books.opening_difference, "1000.00".parse().unwrap());
    let mut c = hand_company();
    c.ledgers[2].parent = "Nowhere".into();
    assert!(Books::new(c)
        .err()
        .unwrap()
        .to_string()
        .contains("unknown group `Nowhere`"));
}

#[tokio::test]
async fn reading_in_parts_by_group() {
    let sim = serve(vec![hand_company()]).await;
    let client = TallyClient::new(&sim.url, Duration::from_secs(5)).unwrap();
    let debtors = client
        .balances(
            "Hand Books",
            d("2025-04-01"),
            d("2025-04-30"),
            Some("Sundry Debtors"),
        )
        .await
        .unwrap();
    assert_eq!(debtors.len(), 1);
    assert_eq!(debtors[0].name, "ABC Ltd");
    assert_eq!(
        debtors[0].closing_balance,
        Some("-1500.25".parse().unwrap()),
        "Tally's sign: a debit is negative"
    );
    let none = client
        .ledgers("Hand Books", Some("No Such Group"))
        .await
        .unwrap();
    assert!(none.is_empty());
    sim.stop().await;
}

#[tokio::test]
async fn every_fault_becomes_the_right_error() {
    let sim = serve(vec![hand_company()]).await;
    let url = sim.url.clone();
    let client = TallyClient::new(&url, Duration::from_millis(800)).unwrap();
    // The simulator never passes for real Tally.
    let product = client.product().await.unwrap();
    assert!(
        product.contains("tally-sim") && product.contains("NOT real Tally data"),
        "{product}"
    );

    let err = client.groups("Closed Company").await.unwrap_err();
    assert!(
        matches!(&err, TallyError::CompanyNotOpen { company, .. } if company == "Closed Company"),
        "{err:?}"
    );
    assert!(err.to_string().contains("is not open in Tally"));

    sim.set_fault(Fault::CompanyNotOpen);
    let err = client.groups("Hand Books").await.unwrap_err();
    assert_eq!(err.kind(), "company_not_open", "{err}");
    assert!(client.companies().await.unwrap().is_empty());

    sim.set_fault(Fault::Garbage);
    let err = client.groups("Hand Books").await.unwrap_err();
    assert_eq!(err.kind(), "tally_unreadable", "{err}");

    sim.set_fault(Fault::Slow(Duration::from_secs(3)));
    let err = client.groups("Hand Books").await.unwrap_err();
    assert!(matches!(err, TallyError::Timeout { .. }), "{err:?}");

    sim.set_fault(Fault::None);
    assert_eq!(client.ledgers("Hand Books", None).await.unwrap().len(), 6);

    // Tally closed: the port refuses connections.
    sim.stop().await;
    let err = client.companies().await.unwrap_err();
    assert!(
        matches!(&err, TallyError::NotRunning { url: u } if *u == url),
        "{err:?}"
    );
    assert!(err.to_string().contains("Tally is not answering"));
}

#[tokio::test]
async fn requests_tally_does_not_know_are_refused_with_its_message() {
    let sim = serve(vec![hand_company()]).await;
    let res = post_raw(
        &sim.url,
        "<ENVELOPE><HEADER><TALLYREQUEST>Import</TALLYREQUEST></HEADER></ENVELOPE>".into(),
    )
    .await;
    assert_eq!(
        res,
        "<RESPONSE>Unknown Request, cannot be processed</RESPONSE>"
    );
    sim.stop().await;
}

/// The two balance request forms against the simulator, honest and misbehaving: the collection
/// says the date it computed, the report form takes the period where the collection does not
/// (`ignore-todate`), and under `ignore-todate-all` neither does.
#[tokio::test]
async fn both_balance_forms_say_the_date_they_computed() {
    use aicfo::tally::request::{BalanceForm, Scope};
    let company = big_company();
    let books = Books::new(company.clone()).unwrap();
    let sim = serve(vec![company]).await;
    let client = TallyClient::new(&sim.url, Duration::from_secs(30)).unwrap();
    let name = "Sharma & Sons <Mumbai>";
    let (fy, at) = (d("2025-04-01"), d("2025-06-30"));
    let today = time::OffsetDateTime::now_utc().date();
    let expected = expected_trial_balance(&books, at);
    let as_expected = |read: &[aicfo::tally::LedgerBalance]| {
        assert_eq!(read.len(), expected.len());
        for (r, e) in read.iter().zip(&expected) {
            assert_eq!(r.guid, e.ledger_guid);
            assert_eq!(r.closing.map(to_wire_sign), Some(e.balance), "{}", r.name);
        }
    };
    let dates = |read: &[aicfo::tally::LedgerBalance]| {
        read.iter()
            .map(|b| b.computed_at)
            .collect::<std::collections::HashSet<_>>()
    };

    let collection = client
        .ledger_balances(name, BalanceForm::Collection, fy, at, Scope::All)
        .await
        .unwrap();
    as_expected(&collection);
    assert_eq!(dates(&collection), [Some(at)].into());
    let report = client
        .ledger_balances(name, BalanceForm::Report, fy, at, Scope::All)
        .await
        .unwrap();
    as_expected(&report);
    assert_eq!(dates(&report), [Some(at)].into());
    // Both forms read one group at a time, as the connector does when Tally is too slow.
    let debtors = client
        .ledger_balances(
            name,
            BalanceForm::Report,
            fy,
            at,
            Scope::Under("Sundry Debtors".into()),
        )
        .await
        .unwrap();
    let by_collection = client
        .ledger_balances(
            name,
            BalanceForm::Collection,
            fy,
            at,
            Scope::Under("Sundry Debtors".into()),
        )
        .await
        .unwrap();
    assert!(!debtors.is_empty() && debtors.len() < expected.len());
    assert_eq!(debtors, by_collection);
    // Only the reserved Profit & Loss A/c hangs directly under Primary.
    let top = client
        .ledger_balances(
            name,
            BalanceForm::Collection,
            fy,
            at,
            Scope::DirectlyUnderPrimary,
        )
        .await
        .unwrap();
    assert_eq!(
        top.iter().map(|b| b.name.as_str()).collect::<Vec<_>>(),
        ["Profit & Loss A/c"]
    );

    sim.set_fault(Fault::IgnoreToDate);
    let collection = client
        .ledger_balances(name, BalanceForm::Collection, fy, at, Scope::All)
        .await
        .unwrap();
    assert_eq!(dates(&collection), [Some(today)].into());
    let report = client
        .ledger_balances(name, BalanceForm::Report, fy, at, Scope::All)
        .await
        .unwrap();
    as_expected(&report);

    sim.set_fault(Fault::IgnoreToDateAll);
    let report = client
        .ledger_balances(name, BalanceForm::Report, fy, at, Scope::All)
        .await
        .unwrap();
    assert_eq!(dates(&report), [Some(today)].into());
}

/// A trader integrated with inventory: Tally's trial balance (ledgers + opening stock) tallies
/// at every month-end across three financial years although the ledgers alone do not, and the
/// stock form read through the client gives the simulator's stock at the dates it confirms.
#[tokio::test]
async fn an_inventory_company_tallies_with_its_opening_stock() {
    let mut company = big_company();
    aicfo::sim::add_inventory(&mut company, 42, 20);
    let books = Books::new(company.clone()).unwrap();
    assert!(
        books.opening_difference.is_zero(),
        "the capital took the opening stock"
    );
    let mut at = d("2023-04-30");
    let mut openings = std::collections::BTreeSet::new();
    while at < d("2026-04-01") {
        let tb = aicfo::sim::expected_month(&books, at);
        let ledgers: Amount = tb.ledgers.iter().map(|l| l.balance).sum();
        let stock = tb.stock.unwrap();
        assert!(tb.balanced, "{at}");
        assert_eq!(
            ledgers.checked_add(stock.opening).unwrap(),
            Amount::ZERO,
            "{at}"
        );
        openings.insert(stock.opening.paise());
        at = MonthKey::of(at).next().last_day();
    }
    assert_eq!(openings.len(), 3, "one opening stock per financial year");

    let sim = serve(vec![company]).await;
    let client = TallyClient::new(&sim.url, Duration::from_secs(30)).unwrap();
    let name = "Sharma & Sons <Mumbai>";
    for at in ["2023-06-30", "2024-04-30", "2025-12-31"] {
        let at = d(at);
        let from = books.fy_start(at);
        let read = aicfo::tally::stock::read_stock(&client, name, from, at)
            .await
            .unwrap();
        assert_eq!(read.opening, books.opening_stock(at), "{at}");
        assert_eq!(read.closing, books.closing_stock(at), "{at}");
    }
    // A Tally that takes no period is not believed.
    sim.set_fault(Fault::IgnoreToDateAll);
    let err = aicfo::tally::stock::read_stock(&client, name, d("2023-04-01"), d("2023-06-30"))
        .await
        .unwrap_err();
    assert!(
        matches!(&err, TallyError::DateUnconfirmed { detail, .. } if detail.contains("stock report")),
        "{err}"
    );
}

/// Amounts in every form real answers hold (`(-)1,20,000.00`, `15000.00 Dr`, `-₹ 5.00`, and
/// foreign-currency amounts with `?` for `₹`), in UTF-8 and in UTF-16: read to the paisa.
#[tokio::test]
async fn amounts_in_every_form_read_exactly_in_both_encodings() {
    let company = big_company();
    let books = Books::new(company.clone()).unwrap();
    let sim = serve(vec![company]).await;
    sim.set_fault(Fault::AmountForms);
    let at = d("2025-11-30");
    let expected = expected_trial_balance(&books, at);
    for encoding in [TextEncoding::Utf16Le, TextEncoding::Utf8] {
        let client = TallyClient::new(&sim.url, Duration::from_secs(30))
            .unwrap()
            .with_encoding(encoding);
        let name = "Sharma & Sons <Mumbai>";
        let read = client
            .balances(name, books.fy_start(at), at, None)
            .await
            .unwrap();
        assert_eq!(read.len(), expected.len());
        for (r, e) in read.iter().zip(&expected) {
            let wire = to_wire_sign(r.closing_balance.unwrap_or(Amount::ZERO));
            assert_eq!(wire, e.balance, "{} ({encoding:?})", r.name);
        }
        let openings = client.ledgers(name, None).await.unwrap();
        for (l, b) in openings.iter().zip(&books.ledgers) {
            let wire = to_wire_sign(l.opening_balance.unwrap_or(Amount::ZERO));
            assert_eq!(wire.paise(), b.opening, "{} ({encoding:?})", l.name);
        }
    }
    sim.stop().await;
}

/// Every answer carries CMPINFO counters named like objects (`<LEDGER>300</LEDGER>`); with no
/// company loaded Tally answers a bare `<ERRORMSG>`, which is "not open", not an empty list.
#[tokio::test]
async fn cmpinfo_is_no_object_and_a_bare_errormsg_is_company_not_open() {
    let company = big_company();
    let books = Books::new(company.clone()).unwrap();
    let sim = serve(vec![company]).await;
    let groups_request =
        aicfo::tally::request::build(&aicfo::tally::request::Query::Groups, Some(&books.name));
    let raw = post_raw(&sim.url, groups_request).await;
    assert!(
        raw.contains(&format!("<LEDGER>{}</LEDGER>", books.ledgers.len())),
        "{raw}"
    );
    let client = TallyClient::new(&sim.url, Duration::from_secs(30)).unwrap();
    let groups = client.groups(&books.name).await.unwrap();
    assert_eq!(groups.len(), books.groups.len(), "no phantom groups");
    let ledgers = client.ledgers(&books.name, None).await.unwrap();
    assert_eq!(ledgers.len(), books.ledgers.len(), "no phantom ledgers");

    sim.set_fault(Fault::ErrorMsg);
    let err = client.groups(&books.name).await.unwrap_err();
    assert_eq!(err.kind(), "company_not_open", "{err}");
    assert!(err.to_string().contains("Could not find Company"), "{err}");
    sim.stop().await;
}
