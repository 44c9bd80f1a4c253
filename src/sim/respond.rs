//! Answers Tally XML requests from the books, the way Tally writes its answers: `&#4; Primary`,
//! numbers with a leading space, empty amounts for zero, and the request's own encoding.

use std::fmt::Write;

use quick_xml::events::Event;
use quick_xml::Reader;
use time::Date;

use super::books::Books;
use super::server::Fault;
use crate::protocol::Amount;
use crate::tally::amount::{format_tally_date, parse_tally_date};
use crate::tally::encoding::{utf8_reader, TextEncoding};
use crate::tally::request::escape;

/// What the simulator understood of a request.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct SimRequest {
    pub tally_request: String,
    pub header_type: String,
    pub collection_type: String,
    /// Exactly as sent (Tally matches the name character for character).
    pub company: Option<String>,
    pub from_date: Option<String>,
    pub to_date: Option<String>,
    pub child_of: Option<String>,
    pub fetch: Vec<String>,
    /// A collection's computed methods, `(name, formula)`.
    pub computes: Vec<(String, String)>,
    /// The formulae of `<SYSTEM TYPE="Formulae">` definitions a collection filters on.
    pub filters: Vec<String>,
    /// A `TYPE Data` report's fields, `(XMLTAG, SET formula)`, and its line and form tags.
    pub report_fields: Vec<(String, String)>,
    pub line_tag: Option<String>,
    pub form_tag: Option<String>,
}

impl SimRequest {
    /// A request for every ledger's closing balance at once (the big one on a big company).
    pub fn is_whole_balance_request(&self) -> bool {
        let balances = (self.collection_type.eq_ignore_ascii_case("ledger")
            && self.fetch.iter().any(|f| f == "CLOSINGBALANCE"))
            || self.header_type.eq_ignore_ascii_case("data");
        balances && self.child_of.is_none() && self.filters.is_empty() && !self.is_stock_report()
    }

    /// A ledger collection (not a report) that sets SVFROMDATE.
    pub fn is_ledger_collection_from_date(&self) -> bool {
        self.header_type.eq_ignore_ascii_case("collection")
            && self.collection_type.eq_ignore_ascii_case("ledger")
            && self.from_date.is_some()
    }

    /// A report of the Stock-in-Hand group's balances (the stock's value), one line.
    pub fn is_stock_report(&self) -> bool {
        self.report_fields
            .iter()
            .any(|(_, set)| set.to_ascii_lowercase().contains("$$groupstock"))
    }
}

/// Reads the few parts of a request envelope the simulator acts on.
pub fn parse_request(body: &[u8], content_type: Option<&str>) -> Result<SimRequest, String> {
    let text = utf8_reader(body, content_type).map_err(|e| e.to_string())?;
    let mut reader = Reader::from_reader(text);
    reader.config_mut().expand_empty_elements = true;
    let mut path: Vec<String> = Vec::new();
    let mut req = SimRequest::default();
    let mut buf = Vec::new();
    let mut text_buf = String::new();
    let mut field: (Option<String>, Option<String>) = (None, None);
    loop {
        match reader
            .read_event_into(&mut buf)
            .map_err(|e| format!("not XML: {e}"))?
        {
            Event::Start(e) => {
                path.push(String::from_utf8_lossy(e.name().as_ref()).to_uppercase());
                text_buf.clear();
            }
            Event::Text(t) => text_buf.push_str(&t.decode().map_err(|e| e.to_string())?),
            Event::GeneralRef(r) => {
                let name = r.decode().map_err(|e| e.to_string())?;
                match r.resolve_char_ref() {
                    Ok(Some(c)) => text_buf.push(c),
                    _ => text_buf.push_str(
                        quick_xml::escape::resolve_predefined_entity(&name).unwrap_or(""),
                    ),
                }
            }
            Event::End(_) => {
                let value = text_buf.trim().to_string();
                let name = path.pop().unwrap_or_default();
                let parent = path.last().map(String::as_str).unwrap_or("");
                match (parent, name.as_str()) {
                    ("HEADER", "TALLYREQUEST") => req.tally_request = value,
                    ("HEADER", "TYPE") => req.header_type = value,
                    ("STATICVARIABLES", "SVCURRENTCOMPANY") => req.company = Some(text_buf.clone()),
                    ("COLLECTION", "COMPUTE") => {
                        if let Some((n, f)) = value.split_once(':') {
                            req.computes
                                .push((n.trim().to_uppercase(), f.trim().to_string()));
                        }
                    }
                    ("TDLMESSAGE", "SYSTEM") => req.filters.push(value),
                    ("FIELD", "SET") => field.0 = Some(value),
                    ("FIELD", "XMLTAG") => field.1 = Some(value),
                    ("LINE", "XMLTAG") => req.line_tag = Some(value),
                    ("FORM", "XMLTAG") => req.form_tag = Some(value),
                    (_, "FIELD") => {
                        if let (Some(set), Some(tag)) = std::mem::take(&mut field) {
                            req.report_fields.push((tag, set));
                        }
                    }
                    ("STATICVARIABLES", "SVTODATE") => req.to_date = Some(value),
                    ("STATICVARIABLES", "SVFROMDATE") => req.from_date = Some(value),
                    ("COLLECTION", "TYPE") => req.collection_type = value,
                    ("COLLECTION", "CHILDOF") => req.child_of = Some(value),
                    ("COLLECTION", "FETCH") => req.fetch.extend(
                        value
                            .split(',')
                            .map(|f| f.trim().to_uppercase())
                            .filter(|f| !f.is_empty()),
                    ),
                    _ => {}
                }
                text_buf.clear();
            }
            Event::Eof => break,
            _ => {}
        }
        buf.clear();
    }
    Ok(req)
}

pub const UNKNOWN_REQUEST: &str = "<RESPONSE>Unknown Request, cannot be processed</RESPONSE>";

pub fn line_error(message: &str) -> String {
    format!(
        "<ENVELOPE>\r\n <HEADER>\r\n  <VERSION>1</VERSION>\r\n  <STATUS>0</STATUS>\r\n </HEADER>\r\n <BODY>\r\n  <DATA>\r\n   <LINEERROR>{}</LINEERROR>\r\n  </DATA>\r\n </BODY>\r\n</ENVELOPE>\r\n",
        escape(message)
    )
}

pub fn company_not_open(company: &str) -> String {
    line_error(&format!("Could not set 'SVCurrentCompany' to '{company}'"))
}

/// Tally's sign (a debit is negative); zero is written as nothing at all.
fn tally_amount(wire: Amount) -> String {
    if wire.is_zero() {
        String::new()
    } else {
        Amount::from_paise(-wire.paise()).to_string()
    }
}

/// Ledger `i`'s amount as Tally writes it: plainly, or under [`Fault::AmountForms`] in one of
/// the forms real answers hold, chosen by `i`.
fn amount_text(fault: &Fault, wire: Amount, i: usize) -> String {
    if *fault != Fault::AmountForms || wire.is_zero() {
        return tally_amount(wire);
    }
    // Tally's sign: a debit is negative.
    let debit = wire.paise() > 0;
    let minus = if debit { "-" } else { "" };
    let grouped = indian_grouping(wire.paise().unsigned_abs());
    match i % 5 {
        0 => format!(" {}", tally_amount(wire)),
        1 => format!("{}{grouped}", if debit { "(-)" } else { "" }),
        2 => format!("{grouped} {}", if debit { "Dr" } else { "Cr" }),
        3 => format!("{minus}$ 100.00 @ ? 82.58/$ = {minus}? {grouped}"),
        _ => format!("{minus}\u{20b9} {grouped}"),
    }
}

/// Paise as rupees with Indian digit grouping: `1,20,00,000.00`.
fn indian_grouping(paise: u64) -> String {
    let rupees = (paise / 100).to_string();
    let (head, last3) = rupees.split_at(rupees.len().saturating_sub(3));
    let mut groups: Vec<&str> = Vec::new();
    let mut rest = head;
    while rest.len() > 2 {
        let (h, t) = rest.split_at(rest.len() - 2);
        groups.insert(0, t);
        rest = h;
    }
    if !rest.is_empty() {
        groups.insert(0, rest);
    }
    groups.push(last3);
    format!("{}.{:02}", groups.join(","), paise % 100)
}

fn yes_no(b: bool) -> &'static str {
    if b {
        "Yes"
    } else {
        "No"
    }
}

fn parent_text(parent: &str) -> String {
    if crate::protocol::groups::is_primary_parent(Some(parent)) {
        "&#4; Primary".to_string()
    } else {
        escape(parent)
    }
}

/// The `CMPINFO` block every Tally answer carries: counters named like the objects
/// (`<LEDGER>59</LEDGER>`), which a reader must not take for objects.
fn cmpinfo(b: Option<&Books>) -> String {
    let (groups, ledgers, vouchers) = b.map_or((0, 0, 0), |b| {
        (b.groups.len(), b.ledgers.len(), b.voucher_dates.len())
    });
    let company = usize::from(b.is_some());
    format!(
        "   <CMPINFO>\r\n    <COMPANY>{company}</COMPANY>\r\n    <GROUP>{groups}</GROUP>\r\n    <LEDGER>{ledgers}</LEDGER>\r\n    <VOUCHER>{vouchers}</VOUCHER>\r\n   </CMPINFO>\r\n"
    )
}

fn envelope(b: Option<&Books>, objects: &str) -> String {
    format!(
        "<ENVELOPE>\r\n <HEADER>\r\n  <VERSION>1</VERSION>\r\n  <STATUS>1</STATUS>\r\n </HEADER>\r\n <BODY>\r\n  <DESC>\r\n{info}  </DESC>\r\n  <DATA>\r\n   <COLLECTION>\r\n{objects}   </COLLECTION>\r\n  </DATA>\r\n </BODY>\r\n</ENVELOPE>\r\n",
        info = cmpinfo(b)
    )
}

fn wants(req: &SimRequest, field: &str) -> bool {
    req.fetch.is_empty() || req.fetch.iter().any(|f| f == field || f == "*")
}

/// The answer for a parsed request against the open companies, Tally behaving.
pub fn answer(req: &SimRequest, companies: &[std::sync::Arc<Books>]) -> String {
    answer_with(req, companies, &Fault::None)
}

/// The answer for a parsed request, with the misbehaviour `fault` asks for.
pub fn answer_with(req: &SimRequest, companies: &[std::sync::Arc<Books>], fault: &Fault) -> String {
    let report = req.header_type.eq_ignore_ascii_case("Data") && !req.report_fields.is_empty();
    if report && *fault == Fault::RefuseReports {
        return UNKNOWN_REQUEST.to_string();
    }
    if !req.tally_request.eq_ignore_ascii_case("Export")
        || !(req.header_type.eq_ignore_ascii_case("Collection") || report)
    {
        return UNKNOWN_REQUEST.to_string();
    }
    let kind = req.collection_type.to_ascii_lowercase();
    if kind == "company" {
        let mut out = String::new();
        for b in companies {
            let _ = write!(
                out,
                "    <COMPANY NAME=\"{name}\" RESERVEDNAME=\"\">\r\n     <GUID TYPE=\"String\">{guid}</GUID>\r\n     <BOOKSFROM TYPE=\"Date\">{bf}</BOOKSFROM>\r\n     <STARTINGFROM TYPE=\"Date\">{sf}</STARTINGFROM>\r\n     <ALTMSTID TYPE=\"Number\"> {m}</ALTMSTID>\r\n     <ALTVCHID TYPE=\"Number\"> {v}</ALTVCHID>\r\n    </COMPANY>\r\n",
                name = escape(&b.name),
                guid = escape(&b.guid),
                bf = format_tally_date(b.books_from),
                sf = format_tally_date(b.fy_start(time::OffsetDateTime::now_utc().date()).max(b.books_from)),
                m = b.alt_mst_id,
                v = b.alt_vch_id,
            );
        }
        return envelope(companies.first().map(|b| &**b), &out);
    }
    if *fault == Fault::ErrorMsg {
        return format!(
            "<ERRORMSG>Could not find Company: {}!</ERRORMSG>\r\n",
            escape(req.company.as_deref().unwrap_or(""))
        );
    }
    // Without SVCURRENTCOMPANY Tally uses the active company: the first one.
    let books = match &req.company {
        Some(name) => match companies.iter().find(|b| b.name == *name) {
            Some(b) => b,
            None => return company_not_open(name),
        },
        None => match companies.first() {
            Some(b) => b,
            None => return line_error("No company is open"),
        },
    };
    let at = match req.to_date.as_deref().map(parse_tally_date) {
        Some(Some(d)) => Some(d),
        Some(None) => {
            return line_error(&format!(
                "Invalid date '{}'",
                req.to_date.as_deref().unwrap_or("")
            ))
        }
        None => None,
    };
    let today = time::OffsetDateTime::now_utc().date();
    if report && req.is_stock_report() {
        let from = match req.from_date.as_deref().map(parse_tally_date) {
            Some(Some(d)) => d,
            Some(None) => return line_error("Invalid date in SVFROMDATE"),
            None => books.fy_start(today),
        };
        let (from, at) = match fault {
            // A Tally that takes no period runs the report over its own current year.
            Fault::IgnoreToDateAll => (books.fy_start(today), today),
            _ => (from, at.unwrap_or(today)),
        };
        return stock_report_xml(req, books, from, at);
    }
    if report {
        // Reports take the period, unless the fault says even they do not.
        let at = match fault {
            Fault::IgnoreToDateAll => today,
            _ => at.unwrap_or(today),
        };
        let computed = match fault {
            Fault::ReportMisreads | Fault::BlankAllReportMisreads => at - time::Duration::days(31),
            _ => at,
        };
        return report_xml(req, books, at, computed);
    }
    match kind.as_str() {
        "group" => envelope(Some(books), &groups_xml(req, books)),
        "voucher" => envelope(Some(books), &vouchers_xml(req, books)),
        "ledger" => {
            // A Tally that does not take SVTODATE on a collection computes at its own today.
            let at = match fault {
                Fault::IgnoreToDate
                | Fault::IgnoreToDateSlow(_)
                | Fault::IgnoreToDateAll
                | Fault::ReportMisreads => today,
                _ => at.unwrap_or(today),
            };
            ledgers_answer(req, books, at, fault)
        }
        _ => UNKNOWN_REQUEST.to_string(),
    }
}

/// A ledger collection's answer, with a balance fault applied.
fn ledgers_answer(req: &SimRequest, b: &Books, at: Date, fault: &Fault) -> String {
    let objects = ledgers_xml(req, b, at, fault);
    if *fault == Fault::LineErrorMidway && wants_closing(req) {
        // Some objects, then Tally gives up: the answer must not be taken as the whole.
        let cut = objects
            .match_indices("    </LEDGER>\r\n")
            .nth(b.ledgers.len() / 2)
            .map_or(objects.len(), |(i, m)| i + m.len());
        return format!(
            "<ENVELOPE>\r\n <HEADER>\r\n  <VERSION>1</VERSION>\r\n  <STATUS>1</STATUS>\r\n </HEADER>\r\n <BODY>\r\n  <DATA>\r\n   <COLLECTION>\r\n{}   </COLLECTION>\r\n   <LINEERROR>Memory Access Violation while computing balances</LINEERROR>\r\n  </DATA>\r\n </BODY>\r\n</ENVELOPE>\r\n",
            &objects[..cut]
        );
    }
    envelope(Some(b), &objects)
}

fn wants_closing(req: &SimRequest) -> bool {
    req.fetch.iter().any(|f| f == "CLOSINGBALANCE")
}

/// The formula asks for the period's end date (`##SVToDate`, possibly through a function).
fn is_to_date(formula: &str) -> bool {
    formula.to_ascii_lowercase().contains("##svtodate")
}

/// A `TYPE Data` report over the ledgers: each line's fields by what their formula reads. It
/// says it ran at `at` and gives the balances at `computed` (the same day, unless a fault).
fn report_xml(req: &SimRequest, b: &Books, at: Date, computed: Date) -> String {
    let closing = b.closing_balances(computed);
    let line = req.line_tag.as_deref().unwrap_or("ROW");
    // The form's XMLTAG, when it has one, is the answer's root, as Tally writes reports.
    let root = req.form_tag.as_deref().unwrap_or("ENVELOPE");
    let mut out = String::with_capacity(b.ledgers.len() * 200);
    let _ = write!(out, "<{root}>\r\n");
    for i in ledgers_wanted(req, b) {
        let l = &b.ledgers[i];
        let _ = write!(out, "  <{line}>\r\n");
        for (tag, set) in &req.report_fields {
            let lower = set.to_ascii_lowercase();
            let value = if is_to_date(set) {
                at.to_string()
            } else if lower.contains("$closingbalance") {
                // Tally's sign (debit negative) as a plain number; zero as 0.
                Amount::from_paise(-closing[i].paise()).to_string()
            } else if lower == "$guid" {
                escape(&l.guid)
            } else if lower == "$name" {
                escape(&l.name)
            } else {
                String::new()
            };
            let _ = write!(out, "   <{tag}>{value}</{tag}>\r\n");
        }
        let _ = write!(out, "  </{line}>\r\n");
    }
    let _ = write!(out, "</{root}>\r\n");
    out
}

/// The stock report: one line, each field by what its formula reads: the Stock-in-Hand
/// group's opening balance (the stock at the start of `from`) or closing balance (at the end
/// of `at`), in Tally's sign, or the period's dates.
fn stock_report_xml(req: &SimRequest, b: &Books, from: Date, at: Date) -> String {
    let line = req.line_tag.as_deref().unwrap_or("ROW");
    let root = req.form_tag.as_deref().unwrap_or("ENVELOPE");
    let opening = b.closing_stock(from - time::Duration::days(1));
    let closing = b.closing_stock(at);
    let mut out = format!("<{root}>\r\n  <{line}>\r\n");
    for (tag, set) in &req.report_fields {
        let lower = set.to_ascii_lowercase();
        let value = if is_to_date(set) {
            at.to_string()
        } else if lower.contains("##svfromdate") {
            from.to_string()
        } else if lower.contains("$openingbalance") {
            Amount::from_paise(-opening.paise()).to_string()
        } else if lower.contains("$closingbalance") {
            Amount::from_paise(-closing.paise()).to_string()
        } else {
            String::new()
        };
        let _ = write!(out, "   <{tag}>{value}</{tag}>\r\n");
    }
    let _ = write!(out, "  </{line}>\r\n</{root}>\r\n");
    out
}

/// The `N` of a filter `$AlterID > N`, if the collection has one.
fn altered_after(req: &SimRequest) -> Option<u64> {
    req.filters.iter().find_map(|f| {
        let lower = f.to_ascii_lowercase();
        let (left, right) = lower.split_once('>')?;
        (left.trim() == "$alterid").then(|| right.trim().parse().ok())?
    })
}

/// Vouchers with their DATE and ALTERID, those altered after the filter's id (all without
/// one). Like the Tally of the field reports, the period variables are not applied.
fn vouchers_xml(req: &SimRequest, b: &Books) -> String {
    let after = altered_after(req).unwrap_or(0);
    let mut out = String::new();
    for (i, date) in b.voucher_dates.iter().enumerate() {
        let alter_id = i as u64 + 1;
        if alter_id <= after {
            continue;
        }
        let _ = write!(
            out,
            "    <VOUCHER REMOTEID=\"{}-v{alter_id}\" VCHTYPE=\"Journal\">\r\n",
            escape(&b.guid)
        );
        if wants(req, "DATE") {
            let _ = write!(
                out,
                "     <DATE TYPE=\"Date\">{}</DATE>\r\n",
                format_tally_date(*date)
            );
        }
        if wants(req, "ALTERID") {
            let _ = write!(
                out,
                "     <ALTERID TYPE=\"Number\"> {alter_id}</ALTERID>\r\n"
            );
        }
        out.push_str("    </VOUCHER>\r\n");
    }
    out
}

/// A master's opening tag and the GUID and PARENT fields every master carries.
fn open_master(
    out: &mut String,
    req: &SimRequest,
    tag: &str,
    name: &str,
    reserved: &str,
    guid: &str,
    parent: &str,
) {
    let _ = write!(
        out,
        "    <{tag} NAME=\"{}\" RESERVEDNAME=\"{}\">\r\n",
        escape(name),
        escape(reserved)
    );
    if wants(req, "GUID") {
        let _ = write!(
            out,
            "     <GUID TYPE=\"String\">{}</GUID>\r\n",
            escape(guid)
        );
    }
    if wants(req, "PARENT") {
        let _ = write!(
            out,
            "     <PARENT TYPE=\"String\">{}</PARENT>\r\n",
            parent_text(parent)
        );
    }
}

fn groups_xml(req: &SimRequest, b: &Books) -> String {
    let mut out = String::with_capacity(b.groups.len() * 400);
    for (i, g) in b.groups.iter().enumerate() {
        let reserved = crate::protocol::groups::reserved_group(&g.name)
            .map(|r| r.name)
            .unwrap_or("");
        open_master(
            &mut out, req, "GROUP", &g.name, reserved, &g.guid, &g.parent,
        );
        for (field, value) in [
            ("ISREVENUE", g.is_revenue),
            ("ISDEEMEDPOSITIVE", g.is_deemed_positive),
            ("AFFECTSGROSSPROFIT", g.affects_gross_profit),
        ] {
            if wants(req, field) {
                // A user group that sets no flag inherits its parent's, as Tally shows it.
                let value = value.or_else(|| inherited_flag(b, &g.parent, field));
                if let Some(v) = value {
                    let _ = write!(
                        out,
                        "     <{field} TYPE=\"Logical\">{}</{field}>\r\n",
                        yes_no(v)
                    );
                }
            }
        }
        if wants(req, "MASTERID") {
            let _ = write!(
                out,
                "     <MASTERID TYPE=\"Number\"> {}</MASTERID>\r\n",
                i + 1
            );
        }
        out.push_str("    </GROUP>\r\n");
    }
    out
}

fn inherited_flag(b: &Books, parent: &str, field: &str) -> Option<bool> {
    let mut at = parent.to_string();
    for _ in 0..64 {
        let g = b.groups.iter().find(|g| g.name.eq_ignore_ascii_case(&at))?;
        let v = match field {
            "ISREVENUE" => g.is_revenue,
            "ISDEEMEDPOSITIVE" => g.is_deemed_positive,
            _ => g.affects_gross_profit,
        };
        if v.is_some() {
            return v;
        }
        at = g.parent.clone();
    }
    None
}

/// The ledgers a collection covers: under its CHILDOF group, or those directly under Primary
/// when it filters on `$Parent` being Primary.
fn ledgers_wanted(req: &SimRequest, b: &Books) -> Vec<usize> {
    let at_primary = req.filters.iter().any(|f| {
        let f = f.to_ascii_lowercase();
        f.contains("$parent") && f.contains("primary")
    });
    let wanted = b.ledgers_under(req.child_of.as_deref());
    if at_primary {
        wanted
            .into_iter()
            .filter(|&i| crate::protocol::groups::is_primary_parent(Some(&b.ledgers[i].parent)))
            .collect()
    } else {
        wanted
    }
}

/// Whether the fault leaves out ledger `i`'s closing balance.
fn closing_left_out(fault: &Fault, i: usize) -> bool {
    match fault {
        Fault::DropClosing => true,
        Fault::BlankClosing => i % 7 == 3,
        _ => false,
    }
}

fn ledgers_xml(req: &SimRequest, b: &Books, at: Date, fault: &Fault) -> String {
    let wanted = ledgers_wanted(req, b);
    let closing = if wants(req, "CLOSINGBALANCE") {
        Some(b.closing_balances(at))
    } else {
        None
    };
    let to_date_fields: Vec<&str> = req
        .computes
        .iter()
        .filter(|(_, f)| is_to_date(f))
        .map(|(n, _)| n.as_str())
        .collect();
    let mut out = String::with_capacity(wanted.len() * 300);
    for i in wanted {
        let l = &b.ledgers[i];
        let reserved = if l.name == super::model::PROFIT_AND_LOSS {
            l.name.as_str()
        } else {
            ""
        };
        open_master(
            &mut out, req, "LEDGER", &l.name, reserved, &l.guid, &l.parent,
        );
        if wants(req, "OPENINGBALANCE") {
            let _ = write!(
                out,
                "     <OPENINGBALANCE TYPE=\"Amount\">{}</OPENINGBALANCE>\r\n",
                amount_text(fault, Amount::from_paise(l.opening), i)
            );
        }
        if let Some(c) = closing.as_ref().filter(|_| !closing_left_out(fault, i)) {
            let text = match fault {
                Fault::BlankAll | Fault::BlankAllReportMisreads => String::new(),
                _ => amount_text(fault, c[i], i),
            };
            let _ = write!(
                out,
                "     <CLOSINGBALANCE TYPE=\"Amount\">{text}</CLOSINGBALANCE>\r\n"
            );
        }
        for name in &to_date_fields {
            let _ = write!(
                out,
                "     <{name} TYPE=\"Date\">{}</{name}>\r\n",
                format_tally_date(at)
            );
        }
        out.push_str("    </LEDGER>\r\n");
    }
    out
}

/// Encodes an answer as the request was encoded.
pub fn encode_like(
    request_body: &[u8],
    request_content_type: Option<&str>,
    answer: &str,
) -> (TextEncoding, Vec<u8>) {
    let enc = TextEncoding::sniff(
        &request_body[..request_body.len().min(4)],
        request_content_type,
    );
    (enc, enc.encode(answer))
}
