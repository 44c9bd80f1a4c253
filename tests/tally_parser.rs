//! The Tally parser on real captures and on a hand-written answer for each quirk.

use std::path::PathBuf;

use aicfo::protocol::Amount;
use aicfo::tally::encoding::{utf8_reader, TextEncoding};
use aicfo::tally::records::{LedgerBalance, TallyCompany, TallyGroup, TallyLedger, TallyVoucher};
use aicfo::tally::xml::{read_answer, AnswerError, Element};

fn fixture(name: &str) -> Vec<u8> {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/tally")
        .join(name);
    std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn objects(bytes: &[u8]) -> Result<Vec<Element>, AnswerError> {
    let mut out = Vec::new();
    read_answer(utf8_reader(bytes, None).unwrap(), &mut |e| {
        out.push(e);
        Ok(())
    })?;
    Ok(out)
}

fn rupees(s: &str) -> Amount {
    s.parse().unwrap()
}

#[test]
fn groups_capture_gives_the_28_predefined_groups() {
    let groups: Vec<TallyGroup> = objects(&fixture("groups-collection.xml"))
        .unwrap()
        .iter()
        .map(|e| TallyGroup::from_element(e).unwrap())
        .collect();
    assert_eq!(groups.len(), 28);
    let by = |n: &str| {
        groups
            .iter()
            .find(|g| g.name == n)
            .unwrap_or_else(|| panic!("{n}"))
    };
    // `&#4; Primary` is no parent at all.
    assert_eq!(groups.iter().filter(|g| g.parent.is_none()).count(), 15);
    assert_eq!(by("Capital Account").parent, None);
    assert_eq!(
        by("Bank Accounts").parent.as_deref(),
        Some("Current Assets")
    );
    assert_eq!(
        by("Duties & Taxes").parent.as_deref(),
        Some("Current Liabilities")
    );
    assert_eq!(
        by("Reserves & Surplus").reserved_name.as_deref(),
        Some("Reserves & Surplus")
    );
    // The leading space of ` 22` is not part of the number.
    assert_eq!(by("Bank Accounts").master_id, Some(22));
    assert_eq!(by("Capital Account").master_id, Some(1));
    assert_eq!(by("Bank OD A/c").aliases, ["Bank OCC A/c"]);
    let gross: Vec<&str> = groups
        .iter()
        .filter(|g| g.affects_gross_profit == Some(true))
        .map(|g| g.name.as_str())
        .collect();
    assert_eq!(
        gross,
        [
            "Direct Expenses",
            "Direct Incomes",
            "Purchase Accounts",
            "Sales Accounts"
        ]
    );
    // The capture did not fetch GUIDs: the group reads, and the wire conversion says what is missing.
    assert_eq!(by("Sundry Debtors").guid, None);
    let err = aicfo::tally::convert::wire_group(by("Sundry Debtors")).unwrap_err();
    assert_eq!(
        err.to_string(),
        "group `Sundry Debtors` has no GUID in Tally's answer"
    );
    // Every predefined group the appliance knows is in the real answer, with the same parent.
    for r in aicfo::protocol::groups::RESERVED_GROUPS {
        assert_eq!(by(r.name).parent.as_deref(), r.parent, "{}", r.name);
        assert_eq!(
            by(r.name).affects_gross_profit,
            Some(r.affects_gross_profit),
            "{}",
            r.name
        );
    }
}

fn payment_voucher() -> TallyVoucher {
    let d = time::Date::from_calendar_date(2025, time::Month::August, 2).unwrap();
    TallyVoucher {
        guid: "6693b1a4-8c69-4689-bb16-fc9f21b79993-00000012".into(),
        date: d,
        voucher_type: "Payment".into(),
        number: Some("8".into()),
        narration: Some("Annual insurance premium paid".into()),
        entries: vec![
            aicfo::tally::records::VoucherEntry {
                ledger: "Insurance Expense".into(),
                amount: rupees("-12000.00"),
            },
            aicfo::tally::records::VoucherEntry {
                ledger: "HDFC Current A/c".into(),
                amount: rupees("12000.00"),
            },
        ],
    }
}

#[test]
fn daybook_capture_in_utf16le_and_utf8_gives_the_same_voucher() {
    for name in ["daybook-utf16le.xml", "daybook-utf8.xml"] {
        let objs = objects(&fixture(name)).unwrap();
        assert_eq!(objs.len(), 1, "{name}");
        assert_eq!(objs[0].name, "VOUCHER");
        let v = TallyVoucher::from_element(&objs[0]).unwrap();
        assert_eq!(v, payment_voucher(), "{name}");
        // `&#4; Not Applicable` keeps its real text.
        assert_eq!(objs[0].child_text("VCHGSTCLASS"), Some("Not Applicable"));
        // The debit line is negative in Tally's sign: Insurance Expense is debited.
        assert!(v.entries[0].amount.paise() < 0);
    }
}

#[test]
fn all_masters_capture_reads_every_object() {
    let objs = objects(&fixture("all-masters-utf16le.xml")).unwrap();
    let seen: Vec<(String, String)> = objs
        .iter()
        .map(|o| (o.name.clone(), o.attr("NAME").unwrap().to_string()))
        .collect();
    let expect = [
        ("CURRENCY", "₹"),
        ("CURRENCY", "₹"),
        ("STOCKCATEGORY", "Candies"),
        ("STOCKGROUP", "Candies"),
        ("STOCKGROUP", "Choco"),
        ("STOCKGROUP", "Chocolates"),
        ("GODOWN", "Main Location"),
        ("STOCKITEM", "5 Star"),
        ("STOCKITEM", "Dairy Milk"),
    ];
    assert_eq!(seen, expect.map(|(a, b)| (a.to_string(), b.to_string())));
    assert_eq!(
        objs[0].child_text("GUID"),
        Some("6693b1a4-8c69-4689-bb16-fc9f21b79993-0000001d")
    );
    assert_eq!(objs[0].child_text("ALTERID"), Some("267"));
    assert_eq!(objs[0].child_text("MAILINGNAME"), Some("INR"));
    // `<PARENT/>` is empty, not missing.
    assert!(objs[2].child("PARENT").is_some());
    assert_eq!(objs[2].child_text("PARENT"), None);
}

fn expected_ledgers() -> Vec<(&'static str, &'static str, Option<&'static str>, Amount)> {
    vec![
        (
            "Plain Debit",
            "aaaa-0001",
            Some("Sundry Debtors"),
            rupees("-12000.00"),
        ),
        (
            "Leading Space",
            "aaaa-0002",
            Some("Sundry Creditors"),
            rupees("4500.50"),
        ),
        (
            "Indian Grouping",
            "aaaa-0003",
            Some("Fixed Assets"),
            rupees("-12000000.00"),
        ),
        (
            "Dr Suffix",
            "aaaa-0004",
            Some("Cash-in-Hand"),
            rupees("-15000.00"),
        ),
        (
            "Cr Suffix",
            "aaaa-0005",
            Some("Capital Account"),
            rupees("2500.00"),
        ),
        (
            "Empty Amount",
            "aaaa-0006",
            Some("Suspense A/c"),
            Amount::ZERO,
        ),
        (
            "US Customer",
            "aaaa-0007",
            Some("Sundry Debtors"),
            rupees("-425000.00"),
        ),
        ("Profit & Loss A/c", "aaaa-0008", None, rupees("-399999.50")),
        (
            "ControlChar Ledger",
            "aaaa-0009",
            Some("Indirect Expenses"),
            Amount::ZERO,
        ),
    ]
}

fn read_ledgers(bytes: &[u8]) -> Vec<TallyLedger> {
    objects(bytes)
        .unwrap()
        .iter()
        .map(|e| TallyLedger::from_element(e).unwrap())
        .collect()
}

#[test]
fn every_amount_form_and_name_quirk() {
    for (label, bytes) in [
        ("utf-8", fixture("quirks/ledgers-amounts.xml")),
        (
            "utf-16le with bom",
            TextEncoding::Utf16Le
                .encode(&String::from_utf8(fixture("quirks/ledgers-amounts.xml")).unwrap()),
        ),
        (
            "utf-16le without bom",
            TextEncoding::Utf16Le
                .encode(&String::from_utf8(fixture("quirks/ledgers-amounts.xml")).unwrap())[2..]
                .to_vec(),
        ),
    ] {
        let ledgers = read_ledgers(&bytes);
        let got: Vec<_> = ledgers
            .iter()
            .map(|l| {
                (
                    l.name.as_str(),
                    l.guid.as_str(),
                    l.parent.as_deref(),
                    l.closing_balance.unwrap(),
                )
            })
            .collect();
        assert_eq!(got, expected_ledgers(), "{label}");
        assert_eq!(ledgers[8].aliases, ["राम एंड कंपनी"], "{label}");
    }
    // On the wire a debit is positive, and a zero balance is left out.
    let balances: Vec<LedgerBalance> = objects(&fixture("quirks/ledgers-amounts.xml"))
        .unwrap()
        .iter()
        .map(|e| LedgerBalance::from_element(e).unwrap())
        .collect();
    let wire: Vec<_> = balances
        .iter()
        .filter_map(aicfo::tally::convert::wire_balance)
        .collect();
    assert_eq!(wire.len(), 7);
    assert_eq!(wire[0], ("aaaa-0001", rupees("12000.00")));
    assert_eq!(wire[4].1, rupees("-2500.00"));
    let ledgers = read_ledgers(&fixture("quirks/ledgers-amounts.xml"));
    // Exact to the paisa in Tally's sign:
    // -12000 + 4500.50 - 1,20,00,000 - 15000 + 2500 + 0 - 4,25,000 - 3,99,999.50 + 0.
    let total: Amount = ledgers.iter().map(|l| l.closing_balance.unwrap()).sum();
    assert_eq!(total, rupees("-12844999.00"));
}

#[test]
fn companies_answer() {
    let companies: Vec<TallyCompany> = objects(&fixture("quirks/companies.xml"))
        .unwrap()
        .iter()
        .map(|e| TallyCompany::from_element(e).unwrap())
        .collect();
    assert_eq!(companies.len(), 2);
    let c = &companies[0];
    assert_eq!(c.name, "Sharma & Sons (2025-26)");
    assert_eq!(c.books_from.unwrap().to_string(), "2023-04-01");
    assert_eq!(c.financial_year_from.unwrap().to_string(), "2025-04-01");
    assert_eq!((c.alt_mst_id, c.alt_vch_id), (Some(267), Some(1042)));
}

#[test]
fn tally_error_answers_carry_tallys_message() {
    assert_eq!(
        objects(&fixture("quirks/error-company-not-open.xml")),
        Err(AnswerError::LineError(
            "Could not set 'SVCurrentCompany' to 'Closed Co'".into()
        ))
    );
    assert_eq!(
        objects(&fixture("quirks/error-unknown-request.xml")),
        Err(AnswerError::Response(
            "Unknown Request, cannot be processed".into()
        ))
    );
    assert_eq!(
        objects(&fixture("quirks/error-exception.xml")),
        Err(AnswerError::Exception("Could not find TDL object".into()))
    );
    let utf16 = TextEncoding::Utf16Le
        .encode(&String::from_utf8(fixture("quirks/error-unknown-request.xml")).unwrap());
    assert_eq!(
        objects(&utf16),
        Err(AnswerError::Response(
            "Unknown Request, cannot be processed".into()
        ))
    );
}

#[test]
fn unreadable_amounts_name_the_ledger() {
    let xml = "<ENVELOPE><BODY><DATA><COLLECTION><LEDGER NAME=\"Odd\"><GUID>g</GUID>\
               <CLOSINGBALANCE>12.345</CLOSINGBALANCE></LEDGER></COLLECTION></DATA></BODY></ENVELOPE>";
    let objs = objects(xml.as_bytes()).unwrap();
    let err = TallyLedger::from_element(&objs[0]).unwrap_err().to_string();
    assert!(
        err.contains("ledger `Odd`") && err.contains("12.345"),
        "{err}"
    );
}

/// A balance in a foreign currency without its value in rupees, or with a `?` glued to the number
/// (a character the encoding lost, perhaps a minus), is refused naming the ledger and the text:
/// never stored as that many rupees.
#[test]
fn amounts_that_are_not_surely_rupees_are_refused_naming_the_ledger() {
    for (closing, says) in [
        ("-$ 1,200.00", "foreign-currency"),
        ("$ 1,200.00 @ &#8377; 83.25/$", "foreign-currency"),
        ("?1000.00", "lost a character"),
    ] {
        let xml = format!(
            "<ENVELOPE><BODY><DATA><COLLECTION><LEDGER NAME=\"Acme Inc (USD)\"><GUID>g</GUID>\
             <CLOSINGBALANCE TYPE=\"Amount\">{closing}</CLOSINGBALANCE></LEDGER></COLLECTION></DATA></BODY></ENVELOPE>"
        );
        for bytes in [xml.as_bytes().to_vec(), TextEncoding::Utf16Le.encode(&xml)] {
            let objs = objects(&bytes).unwrap();
            let err = LedgerBalance::from_element(&objs[0])
                .unwrap_err()
                .to_string();
            assert!(
                err.contains("ledger `Acme Inc (USD)`")
                    && err.contains(&closing.replace("&#8377;", "\u{20b9}"))
                    && err.contains(says),
                "{err}"
            );
        }
    }
}

#[test]
fn a_three_decimal_base_currency_is_named_as_such_with_the_ledger() {
    let xml = "<ENVELOPE><BODY><DATA><COLLECTION><LEDGER NAME=\"Kuwait Branch\"><GUID>g</GUID>\
               <CLOSINGBALANCE>-1250.125</CLOSINGBALANCE></LEDGER></COLLECTION></DATA></BODY></ENVELOPE>";
    let objs = objects(xml.as_bytes()).unwrap();
    let err = LedgerBalance::from_element(&objs[0])
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("ledger `Kuwait Branch`")
            && err.contains("-1250.125")
            && err.contains("three"),
        "{err}"
    );
}

#[test]
fn a_missing_closing_balance_is_not_zero_and_an_empty_one_is() {
    let xml = "<ENVELOPE><BODY><DATA><COLLECTION>\
               <LEDGER NAME=\"Empty\"><GUID>a</GUID><CLOSINGBALANCE TYPE=\"Amount\"></CLOSINGBALANCE>\
               <AICFOTODATE TYPE=\"Date\">20260131</AICFOTODATE></LEDGER>\
               <LEDGER NAME=\"Absent\"><GUID>b</GUID></LEDGER>\
               </COLLECTION></DATA></BODY></ENVELOPE>";
    let b: Vec<LedgerBalance> = objects(xml.as_bytes())
        .unwrap()
        .iter()
        .map(|e| LedgerBalance::from_element(e).unwrap())
        .collect();
    assert_eq!(b[0].closing, Some(Amount::ZERO));
    assert_eq!(b[0].computed_at.unwrap().to_string(), "2026-01-31");
    assert_eq!((b[1].closing, b[1].computed_at), (None, None));
}

#[test]
fn a_company_name_keeps_what_tally_wrote() {
    let xml = "<ENVELOPE><BODY><DATA><COLLECTION>\
               <COMPANY NAME=\" Odd&#4; Co \"><GUID>c</GUID></COMPANY>\
               </COLLECTION></DATA></BODY></ENVELOPE>";
    let objs = objects(xml.as_bytes()).unwrap();
    assert_eq!(objs[0].attr("NAME"), Some("Odd Co"));
    assert_eq!(
        TallyCompany::from_element(&objs[0]).unwrap().name,
        " Odd\u{4} Co "
    );
}

#[test]
fn tally_unreachable_names_both_products_setup_paths() {
    let msg = aicfo::tally::TallyError::NotRunning {
        url: "http://localhost:9000".into(),
    }
    .to_string();
    assert!(
        msg.contains("TallyPrime, F1 Help > Settings > Connectivity")
            && msg.contains("Tally.ERP 9, F12 Configure > Advanced Configuration"),
        "{msg}"
    );
}

#[test]
fn the_report_form_answer_reads_as_balances_with_their_date() {
    let rows: Vec<LedgerBalance> = objects(&fixture("quirks/balance-report.xml"))
        .unwrap()
        .iter()
        .map(|e| LedgerBalance::from_row(e).unwrap())
        .collect();
    assert_eq!(rows.len(), 3);
    assert_eq!(rows[0].name, "Sharma & Sons");
    assert_eq!(rows[0].closing, Some(rupees("-12000.50")));
    assert_eq!(rows[1].closing, Some(Amount::ZERO));
    assert!(rows
        .iter()
        .all(|r| r.computed_at.map(|d| d.to_string()).as_deref() == Some("2026-01-31")));
}

/// Field reports: an invoice-style voucher keeps its sales line only inside the inventory
/// entries; a Collection answer lists it at the top and again inside. Both read as the same
/// three balanced lines, and the CMPINFO counters are no vouchers.
#[test]
fn both_voucher_shapes_read_as_the_same_balanced_lines() {
    let objs = objects(&fixture("quirks/voucher-shapes.xml")).unwrap();
    assert_eq!(
        objs.len(),
        2,
        "CMPINFO's <VOUCHER>2</VOUCHER> is no voucher"
    );
    let mut shapes = Vec::new();
    for o in &objs {
        let v = TallyVoucher::from_element(o).unwrap();
        let total: Amount = v.entries.iter().map(|e| e.amount).sum();
        assert_eq!(total, Amount::ZERO, "{} balances", v.guid);
        let mut lines: Vec<(String, Amount)> = v
            .entries
            .iter()
            .map(|e| (e.ledger.clone(), e.amount))
            .collect();
        lines.sort();
        shapes.push(lines);
    }
    assert_eq!(shapes[0].len(), 3, "{:?}", shapes[0]);
    assert_eq!(shapes[0], shapes[1]);
    assert!(shapes[0].contains(&("Sales - GST 18%".to_string(), rupees("10000.00"))));
}

/// A later Tally release may add reserved names and enum values the connector has never seen:
/// they read as unknown (a flag `None`, the name kept as written), never as an error or a guess.
#[test]
fn enum_values_tally_adds_later_read_as_unknown_not_as_errors() {
    let xml = "<ENVELOPE><BODY><DATA><COLLECTION>\
               <GROUP NAME=\"E-Invoice Clearing\" RESERVEDNAME=\"E-Invoice Clearing\"><GUID>g1</GUID>\
               <PARENT TYPE=\"String\">&#4; Primary</PARENT>\
               <ISREVENUE TYPE=\"Logical\">Not Applicable</ISREVENUE>\
               <ISDEEMEDPOSITIVE TYPE=\"Logical\">Yes</ISDEEMEDPOSITIVE>\
               <AFFECTSGROSSPROFIT TYPE=\"Logical\">&#4; Undefined</AFFECTSGROSSPROFIT>\
               </GROUP></COLLECTION></DATA></BODY></ENVELOPE>";
    let objs = objects(xml.as_bytes()).unwrap();
    let g = TallyGroup::from_element(&objs[0]).unwrap();
    assert_eq!(
        (g.is_revenue, g.is_deemed_positive, g.affects_gross_profit),
        (None, Some(true), None)
    );
    let wire = aicfo::tally::convert::wire_group(&g).unwrap();
    assert_eq!(wire.reserved_name.as_deref(), Some("E-Invoice Clearing"));
    assert_eq!(wire.parent, None);
}
