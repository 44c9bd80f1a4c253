//! What free text the appliance accepts. Names end up in trial balances, CSV files and web pages:
//! control characters and bidi overrides there hide or disguise what a reader sees, and no field
//! may be long enough to weigh on memory or logs.

/// Longest ledger, group or company name accepted (Tally's own limit is far below).
pub const NAME_MAX_CHARS: usize = 512;
/// Longest identifier (company, device, sync run, GUID) accepted.
pub const ID_MAX_CHARS: usize = 200;
/// Longest short label (versions, stages, triggers, outcomes, times).
pub const LABEL_MAX_CHARS: usize = 100;
/// Longest message (progress messages, errors).
pub const MESSAGE_MAX_CHARS: usize = 4000;

/// Explicit bidi embeddings, overrides and isolates (U+202A..U+202E, U+2066..U+2069): they make
/// text display in another order than it is stored.
pub fn is_bidi_control(c: char) -> bool {
    matches!(c, '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}')
}

/// Why `value` is too long to accept, if it is.
pub fn length_fault(value: &str, max_chars: usize) -> Option<String> {
    // Bytes bound chars from above: most values need no counting.
    (value.len() > max_chars && value.chars().count() > max_chars)
        .then(|| format!("must be at most {max_chars} characters"))
}

/// The first `max_chars` characters of `value` (all of it when shorter), cut on a character
/// boundary: for keeping or logging a bounded part of a client's text.
pub fn first_chars(value: &str, max_chars: usize) -> &str {
    match value.char_indices().nth(max_chars) {
        Some((at, _)) => &value[..at],
        None => value,
    }
}

/// Why `value` is no acceptable name: too long, or holding a control character (NUL, tab,
/// line breaks, Tally's U+0004 marker, which the connector removes) or a bidi control.
pub fn name_fault(value: &str, max_chars: usize) -> Option<String> {
    if let Some(fault) = length_fault(value, max_chars) {
        return Some(fault);
    }
    if let Some(c) = value.chars().find(|c| c.is_control()) {
        return Some(format!(
            "must not contain control characters (found U+{:04X})",
            c as u32
        ));
    }
    if let Some(c) = value.chars().find(|&c| is_bidi_control(c)) {
        return Some(format!(
            "must not contain bidi control characters (found U+{:04X})",
            c as u32
        ));
    }
    None
}

/// Why `value` is no acceptable device id: a name that is also safe as a file or path segment.
pub fn device_id_fault(value: &str) -> Option<String> {
    if let Some(fault) = name_fault(value, ID_MAX_CHARS) {
        return Some(fault);
    }
    if value.contains(['/', '\\']) {
        return Some("must not contain `/` or `\\`".into());
    }
    if value.contains("..") {
        return Some("must not contain `..`".into());
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn first_chars_cuts_on_a_character_not_a_byte() {
        assert_eq!(first_chars("₹ 1,00,000", 3), "₹ 1");
        assert_eq!(first_chars("ok", 80), "ok");
        assert_eq!(first_chars("", 0), "");
    }

    #[test]
    fn names_with_hidden_characters_are_refused_and_plain_ones_pass() {
        assert_eq!(name_fault("Sundry Debtors – ₹ शर्मा", 512), None);
        assert!(name_fault("Cash\0", 512).unwrap().contains("U+0000"));
        assert!(name_fault("\u{4} Primary", 512).unwrap().contains("U+0004"));
        assert!(name_fault("abc\u{202E}fdp.exe", 512)
            .unwrap()
            .contains("U+202E"));
        assert!(name_fault(&"x".repeat(513), 512).is_some());
        assert_eq!(name_fault(&"अ".repeat(512), 512), None);
    }

    #[test]
    fn device_ids_are_safe_path_segments() {
        assert_eq!(device_id_fault("OFFICE-PC-2"), None);
        for bad in ["a/b", "a\\b", "../etc", "pc\0"] {
            assert!(device_id_fault(bad).is_some(), "{bad}");
        }
    }
}
