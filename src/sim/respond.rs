//! Answers Tally XML requests from the books, the way Tally writes its answers: `&#4; Primary`,
//! numbers with a leading space, empty amounts for zero, and the request's own encoding.

use std::fmt::Write;

use quick_xml::events::Event;
use quick_xml::Reader;
use time::Date;

use super::books::Books;
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
    pub company: Option<String>,
    pub to_date: Option<String>,
    pub child_of: Option<String>,
    pub fetch: Vec<String>,
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
                    ("STATICVARIABLES", "SVCURRENTCOMPANY") => req.company = Some(value),
                    ("STATICVARIABLES", "SVTODATE") => req.to_date = Some(value),
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

fn envelope(objects: &str) -> String {
    format!(
        "<ENVELOPE>\r\n <HEADER>\r\n  <VERSION>1</VERSION>\r\n  <STATUS>1</STATUS>\r\n </HEADER>\r\n <BODY>\r\n  <DESC>\r\n  </DESC>\r\n  <DATA>\r\n   <COLLECTION>\r\n{objects}   </COLLECTION>\r\n  </DATA>\r\n </BODY>\r\n</ENVELOPE>\r\n"
    )
}

fn wants(req: &SimRequest, field: &str) -> bool {
    req.fetch.is_empty() || req.fetch.iter().any(|f| f == field || f == "*")
}

/// The answer for a parsed request against the open companies.
pub fn answer(req: &SimRequest, companies: &[std::sync::Arc<Books>]) -> String {
    if !req.tally_request.eq_ignore_ascii_case("Export")
        || !req.header_type.eq_ignore_ascii_case("Collection")
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
        return envelope(&out);
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
    match kind.as_str() {
        "group" => envelope(&groups_xml(req, books)),
        "ledger" => {
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
            envelope(&ledgers_xml(req, books, at))
        }
        _ => UNKNOWN_REQUEST.to_string(),
    }
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

fn ledgers_xml(req: &SimRequest, b: &Books, at: Option<Date>) -> String {
    let wanted = b.ledgers_under(req.child_of.as_deref());
    let closing = if wants(req, "CLOSINGBALANCE") {
        Some(b.closing_balances(at.unwrap_or_else(|| time::OffsetDateTime::now_utc().date())))
    } else {
        None
    };
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
                tally_amount(Amount::from_paise(l.opening))
            );
        }
        if let Some(c) = &closing {
            let _ = write!(
                out,
                "     <CLOSINGBALANCE TYPE=\"Amount\">{}</CLOSINGBALANCE>\r\n",
                tally_amount(c[i])
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
