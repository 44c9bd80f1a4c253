//! Any bytes as a Tally answer: the parser and every record type must return a value or an
//! error, never panic, whatever the encoding, nesting or amounts.
#![no_main]

use libfuzzer_sys::fuzz_target;

use aicfo::tally::amount::{parse_tally_amount, parse_tally_date};
use aicfo::tally::encoding::utf8_reader;
use aicfo::tally::records::{TallyCompany, TallyGroup, TallyLedger, TallyVoucher};
use aicfo::tally::xml::read_answer;

fuzz_target!(|data: &[u8]| {
    let Ok(reader) = utf8_reader(data, None) else { return };
    let _ = read_answer(reader, &mut |e| {
        let _ = TallyCompany::from_element(&e);
        let _ = TallyGroup::from_element(&e);
        let _ = TallyLedger::from_element(&e);
        let _ = TallyVoucher::from_element(&e);
        Ok(())
    });
    if let Ok(text) = std::str::from_utf8(data) {
        let _ = parse_tally_amount(text);
        let _ = parse_tally_date(text);
    }
});
