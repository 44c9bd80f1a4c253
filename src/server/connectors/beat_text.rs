//! A heartbeat's free text, held to the appliance's text rules without refusing the heartbeat
//! (a refused heartbeat makes a PC look offline): control characters (ANSI escapes, line breaks
//! that would forge a log line) and bidi controls are taken out of every text field that is
//! stored or shown. Lengths are bounded by `check_heartbeat`, which refuses.

use crate::protocol::text::is_bidi_control;
use crate::protocol::HeartbeatRequest;

fn hidden(c: char) -> bool {
    c.is_control() || is_bidi_control(c)
}

/// `value` without control or bidi characters; a line break or tab becomes a space.
pub fn plain(value: &str) -> String {
    value
        .chars()
        .filter_map(|c| match c {
            '\n' | '\r' | '\t' => Some(' '),
            c if hidden(c) => None,
            c => Some(c),
        })
        .collect()
}

fn clean(value: &mut String) {
    if value.chars().any(hidden) {
        *value = plain(value);
    }
}

fn clean_some(value: &mut Option<String>) {
    if let Some(v) = value {
        clean(v);
    }
}

/// The heartbeat with every text field made plain.
pub fn plain_heartbeat(hb: &HeartbeatRequest) -> HeartbeatRequest {
    let mut hb = hb.clone();
    for value in [
        &mut hb.company_id,
        &mut hb.app_version,
        &mut hb.tally_company,
        &mut hb.tally_product,
        &mut hb.state,
    ] {
        clean_some(value);
    }
    if let Some(last) = &mut hb.last_sync {
        clean(&mut last.at);
        clean(&mut last.outcome);
        clean_some(&mut last.sync_run_id);
        clean_some(&mut last.error);
    }
    if let Some(attempt) = &mut hb.last_update {
        clean(&mut attempt.version);
        clean(&mut attempt.message);
        clean(&mut attempt.at);
    }
    hb
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_line_breaks_and_bidi_controls_are_taken_out() {
        assert_eq!(
            plain("\u{1b}[31mred\u{202E}txt\r\nnext\u{7}"),
            "[31mredtxt  next"
        );
        assert_eq!(plain("Tally.ERP 9 – शर्मा"), "Tally.ERP 9 – शर्मा");
    }
}
