//! The `tally-sim` program: generate a data file, print the expected trial balance, serve it.

use std::path::Path;
use std::process::{Command, Output};

use aicfo::protocol::Amount;

const SIM: &str = env!("CARGO_BIN_EXE_tally-sim");

/// `tally-sim generate` of the same small company (seed 5) into `out`.
fn generate_into(out: &Path) -> Output {
    Command::new(SIM)
        .args(["generate", "--seed", "5", "--ledgers", "60"])
        .args(["--vouchers", "900", "--out"])
        .arg(out)
        .output()
        .unwrap()
}

/// Fails the test with tally-sim's own words unless it succeeded.
fn assert_succeeded(out: &Output) {
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn generate_then_expected_gives_a_trial_balance_that_sums_to_zero() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("books.json");
    assert_succeeded(&generate_into(&data));
    for date in ["2024-03-31", "2024-04-30", "2025-11-15"] {
        let out = Command::new(SIM)
            .args(["expected", "--date", date, "--data"])
            .arg(&data)
            .output()
            .unwrap();
        assert_succeeded(&out);
        let csv = String::from_utf8(out.stdout).unwrap();
        let lines: Vec<&str> = csv.lines().collect();
        assert_eq!(lines[0], "ledger_guid,balance,ledger_name");
        // 60 generated ledgers, the proprietor's capital and Profit & Loss A/c.
        assert_eq!(lines.len() - 1, 62);
        let total: Amount = lines[1..]
            .iter()
            .map(|l| l.split(',').nth(1).unwrap().parse::<Amount>().unwrap())
            .sum();
        assert_eq!(total, Amount::ZERO, "{date}");
    }
    // The same seed gives the same books.
    let again = dir.path().join("again.json");
    assert_succeeded(&generate_into(&again));
    assert_eq!(
        std::fs::read(&data).unwrap(),
        std::fs::read(&again).unwrap()
    );
}

#[test]
fn bad_input_is_a_clear_error() {
    let out = Command::new(SIM)
        .args(["expected", "--seed", "1", "--date", "2025-02-30"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("`2025-02-30` is not a date"));
    let out = Command::new(SIM)
        .args(["serve", "--data", "/no/such/file.json"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("cannot read /no/such/file.json"));
    let out = Command::new(SIM)
        .args(["serve", "--seed", "1", "--fault", "sometimes"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let said = String::from_utf8_lossy(&out.stderr);
    assert!(
        said.contains("is not a fault") && said.contains("ignore-todate-all"),
        "{said}"
    );
}

#[test]
fn every_documented_fault_is_understood() {
    for fault in aicfo::sim::server::FAULTS
        .split([',', ' '])
        .filter(|f| !f.is_empty() && *f != "or")
    {
        let fault = fault.replace("<ms>", "10");
        assert!(
            fault.parse::<aicfo::sim::Fault>().is_ok(),
            "`{fault}` is listed but not understood"
        );
    }
}

#[test]
fn an_inventory_company_s_expected_trial_balance_lists_its_opening_stock() {
    let out = Command::new(SIM)
        .args([
            "expected",
            "--seed",
            "5",
            "--ledgers",
            "40",
            "--vouchers",
            "600",
        ])
        .args(["--stock-items", "4", "--date", "2024-06-30"])
        .output()
        .unwrap();
    assert_succeeded(&out);
    let csv = String::from_utf8(out.stdout).unwrap();
    let stock = csv
        .lines()
        .find(|l| l.ends_with("\"Opening Stock\""))
        .expect("an Opening Stock line");
    assert!(stock.starts_with(','), "no GUID: {stock}");
    let column = |l: &str| l.split(',').nth(1).unwrap().parse::<Amount>().unwrap();
    let ledgers: Amount = csv
        .lines()
        .skip(1)
        .filter(|l| !l.starts_with(','))
        .map(column)
        .sum();
    assert_ne!(ledgers, Amount::ZERO, "the ledgers alone do not tally");
    let all: Amount = csv.lines().skip(1).map(column).sum();
    assert_eq!(all, Amount::ZERO, "with the opening stock they do:\n{csv}");
}
