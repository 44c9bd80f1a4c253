//! Tally parser benchmark: throughput (MB/s of Tally's bytes) on a 20,000-ledger answer in both
//! encodings, and the heap the parser needs as answers grow. Prints figures; asserts nothing.
//!
//! Targets (issue 3): at least 150 MB/s, and memory that does not grow with the answer.

use std::time::Instant;

use peak_alloc::PeakAlloc;

use aicfo::sim::respond::{answer, parse_request};
use aicfo::sim::{generate, Books, GenSpec};
use aicfo::tally::encoding::{utf8_reader, TextEncoding};
use aicfo::tally::records::TallyLedger;
use aicfo::tally::request::{build, Query};
use aicfo::tally::xml::read_answer;

#[global_allocator]
static HEAP: PeakAlloc = PeakAlloc;

/// The simulator's answer to the connector's balance request, for a company of `ledgers` ledgers.
fn ledger_answer(ledgers: usize) -> String {
    let books = Books::new(generate(&GenSpec {
        name: "Bench".into(),
        seed: 1,
        ledgers,
        vouchers: ledgers * 2,
        years: 1,
        first_year: 2025,
    }))
    .unwrap();
    let d = |s| aicfo::protocol::calendar::parse_date(s).unwrap();
    let request = build(
        &Query::Balances {
            from: d("2025-04-01"),
            at: d("2026-03-31"),
            scope: aicfo::tally::request::Scope::All,
        },
        Some("Bench"),
    );
    let mut req = parse_request(request.as_bytes(), None).unwrap();
    // Everything a ledger master carries, as the connector's first read of a company asks.
    req.fetch = vec![
        "GUID".into(),
        "PARENT".into(),
        "OPENINGBALANCE".into(),
        "CLOSINGBALANCE".into(),
    ];
    answer(&req, &[std::sync::Arc::new(books)])
}

/// Parses and types every ledger, keeping none: the parser's own cost.
fn parse(bytes: &[u8]) -> usize {
    let mut n = 0;
    read_answer(utf8_reader(bytes, None).unwrap(), &mut |e| {
        TallyLedger::from_element(&e).unwrap();
        n += 1;
        Ok(())
    })
    .unwrap();
    n
}

fn main() {
    let text = ledger_answer(20_000);
    for (label, bytes) in [
        ("UTF-8", TextEncoding::Utf8.encode(&text)),
        ("UTF-16LE", TextEncoding::Utf16Le.encode(&text)),
    ] {
        // The generated ledgers, the proprietor's capital, and Profit & Loss A/c.
        assert_eq!(parse(&bytes), 20_002);
        let rounds = 10;
        let start = Instant::now();
        for _ in 0..rounds {
            parse(&bytes);
        }
        let secs = start.elapsed().as_secs_f64() / rounds as f64;
        println!(
            "{label}: 20,000-ledger answer, {:.1} MB: {:.1} ms per parse, {:.0} MB/s (target >= 150)",
            bytes.len() as f64 / 1e6,
            secs * 1000.0,
            bytes.len() as f64 / 1e6 / secs
        );
    }
    println!("--- heap used while parsing (the answer itself is allocated before and not counted)");
    for ledgers in [5_000, 20_000, 80_000] {
        let bytes = TextEncoding::Utf16Le.encode(&ledger_answer(ledgers));
        let before = HEAP.current_usage();
        HEAP.reset_peak_usage();
        parse(&bytes);
        let peak = HEAP.peak_usage().saturating_sub(before);
        println!(
            "{ledgers:>6} ledgers ({:>5.1} MB UTF-16LE): parser peak {:>6.1} KiB",
            bytes.len() as f64 / 1e6,
            peak as f64 / 1024.0
        );
    }
}
