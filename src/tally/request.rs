//! Requests to Tally: Export/Collection envelopes with an inline TDL collection, and the
//! Export/Data report form used to confirm balances at a date.
//!
//! How the balance requests confirm their date (sources, read before choosing):
//! - A collection can carry a computed method, `<COMPUTE>NAME : formula</COMPUTE>`, which Tally
//!   writes into each object of the answer like a fetched field; public integrations use it to
//!   read `##SVFROMDATE`/`##SVTODATE` back from Tally (e.g. a `CurrentPeriod` collection with
//!   `<COMPUTE>TODATE : $$String:##SVTODATE</COMPUTE>`). Ours asks for `##SVToDate` itself, so
//!   the date comes back as a Date-typed field (`YYYYMMDD`).
//! - The second form is a `TYPE Data` report defined inline (REPORT / FORM / PART with
//!   `REPEAT line : collection` / LINE / FIELD with `SET` and `XMLTAG`), as tally-database-loader
//!   (`generateXMLfromYAML` in src/tally.mts, its amount formula with `$$IsDebit`/`$$NumValue`
//!   and its date formula `$$PyrlYYYYMMDDFormat`) and tally-mcp-server (`pull/ledger-balance.xml`,
//!   `pull/trial-balance.xml`, which both set `SVTODATE` on such a report) read balances.
//!   Field reports say reports honour the period where a plain collection may not.
//! - Ledgers directly under Primary: tally-mcp-server's trial balance tests
//!   `$$IsEqual:$Parent:$$SysName:Primary`; we filter a collection on the same formula.

use time::Date;

use super::amount::format_tally_date;
use super::records::{COMPUTED_FROM_DATE, COMPUTED_TO_DATE, STOCK_CLOSING, STOCK_OPENING};

/// Which ledgers a balance request covers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Scope {
    All,
    /// Those under one group, at any depth (`CHILDOF` with `BELONGSTO`).
    Under(String),
    /// Those whose parent is Tally's root itself (the reserved `Profit & Loss A/c`, mostly).
    DirectlyUnderPrimary,
}

/// The two ways of asking Tally for balances at a date.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BalanceForm {
    /// A ledger collection with SVFROMDATE/SVTODATE and a computed `##SVToDate`
    /// ([`Query::Balances`]).
    Collection,
    /// A `TYPE Data` report over the ledgers with the same period ([`Query::BalanceReport`]).
    Report,
}

/// What to ask Tally for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Query {
    /// The companies open in Tally.
    Companies,
    /// All groups of the company.
    Groups,
    /// Ledgers (name, GUID, parent, opening balance), all or those under one group.
    Ledgers { under: Option<String> },
    /// Every ledger's closing balance at `at` (`from` is the start of that financial year),
    /// with the date Tally computed them at.
    Balances { from: Date, at: Date, scope: Scope },
    /// The same through a `TYPE Data` report: the second form, for a Tally whose collections
    /// do not take the period.
    BalanceReport { from: Date, at: Date, scope: Scope },
    /// The stock's value at `from` (opening) and `at` (closing), with both dates as Tally took
    /// them: one line of a `TYPE Data` report.
    StockReport { from: Date, at: Date },
    /// The DATE of every voucher whose ALTERID is above `after`: what changed since then, and
    /// so which month-ends to read again. Filtered on the id, not on dates: field reports say
    /// voucher collections may not take SVFROMDATE/SVTODATE. tally-database-loader's
    /// incremental sync likewise keys on AlterID.
    AlteredVouchers { after: u64 },
}

/// The collection id the request names; the simulator keys on the TDL, not on this.
impl Query {
    fn id(&self) -> &'static str {
        match self {
            Query::Companies => "AicfoCompanies",
            Query::Groups => "AicfoGroups",
            Query::Ledgers { .. } => "AicfoLedgers",
            Query::Balances { .. } => "AicfoBalances",
            Query::BalanceReport { .. } => "AicfoBalanceReport",
            Query::StockReport { .. } => "AicfoStockReport",
            Query::AlteredVouchers { .. } => "AicfoAlteredVouchers",
        }
    }

    fn object_type(&self) -> &'static str {
        match self {
            Query::Companies => "Company",
            Query::Groups => "Group",
            Query::AlteredVouchers { .. } => "Voucher",
            _ => "Ledger",
        }
    }

    fn fetch(&self) -> &'static str {
        match self {
            Query::Companies => "NAME, GUID, BOOKSFROM, STARTINGFROM, ALTMSTID, ALTVCHID",
            Query::Groups => "NAME, GUID, PARENT, RESERVEDNAME, ISREVENUE, ISDEEMEDPOSITIVE, AFFECTSGROSSPROFIT, MASTERID",
            Query::Ledgers { .. } => "NAME, GUID, PARENT, OPENINGBALANCE",
            Query::AlteredVouchers { .. } => "DATE, ALTERID",
            _ => "GUID, CLOSINGBALANCE, AICFOTODATE",
        }
    }
}

/// XML-escapes text for an element body (a bare `&` in a company name breaks Tally's parser).
/// Control characters, which Tally itself writes as character references (`&#4;`), are sent
/// the same way, so a name goes back exactly as Tally gave it.
pub fn escape(text: &str) -> String {
    let escaped = quick_xml::escape::escape(text);
    if !escaped.chars().any(|c| c.is_control()) {
        return escaped.into_owned();
    }
    escaped
        .chars()
        .map(|c| {
            if c.is_control() && !matches!(c, '\t' | '\n' | '\r') {
                format!("&#{};", c as u32)
            } else {
                c.to_string()
            }
        })
        .collect()
}

fn period(from: Date, at: Date) -> String {
    format!(
        "<SVFROMDATE TYPE=\"Date\">{}</SVFROMDATE><SVTODATE TYPE=\"Date\">{}</SVTODATE>",
        format_tally_date(from),
        format_tally_date(at)
    )
}

fn child_of(group: &str) -> String {
    format!(
        "<CHILDOF>{}</CHILDOF><BELONGSTO>Yes</BELONGSTO>",
        escape(group)
    )
}

const PRIMARY_FILTER: &str = "AicfoAtPrimary";
const ALTERED_FILTER: &str = "AicfoAltered";

/// A ledger collection's scope: what goes inside the COLLECTION, and the formula definitions
/// beside it.
fn scoped(scope: &Scope) -> (String, String) {
    match scope {
        Scope::All => (String::new(), String::new()),
        Scope::Under(g) => (child_of(g), String::new()),
        Scope::DirectlyUnderPrimary => (
            format!("<FILTER>{PRIMARY_FILTER}</FILTER>"),
            format!(
                "<SYSTEM TYPE=\"Formulae\" NAME=\"{PRIMARY_FILTER}\">$$IsEqual:$Parent:$$SysName:Primary</SYSTEM>"
            ),
        ),
    }
}

/// The request envelope. `company` is required for everything but [`Query::Companies`].
pub fn build(query: &Query, company: Option<&str>) -> String {
    let mut vars = String::from("<SVEXPORTFORMAT>$$SysName:XML</SVEXPORTFORMAT>");
    if let Some(c) = company {
        vars.push_str(&format!(
            "<SVCURRENTCOMPANY>{}</SVCURRENTCOMPANY>",
            escape(c)
        ));
    }
    let mut filter = String::new();
    let mut extra = String::new();
    match query {
        Query::BalanceReport { from, at, scope } => {
            vars.push_str(&period(*from, *at));
            let (filter, extra) = scoped(scope);
            return build_report(query.id(), &vars, &filter, &extra);
        }
        Query::StockReport { from, at } => {
            vars.push_str(&period(*from, *at));
            return build_stock_report(query.id(), &vars);
        }
        Query::Balances { from, at, scope } => {
            vars.push_str(&period(*from, *at));
            let (scope_filter, scope_extra) = scoped(scope);
            filter = format!("<COMPUTE>{COMPUTED_TO_DATE} : ##SVToDate</COMPUTE>{scope_filter}");
            extra = scope_extra;
        }
        Query::Ledgers { under: Some(g) } => filter = child_of(g),
        Query::AlteredVouchers { after } => {
            filter = format!("<FILTER>{ALTERED_FILTER}</FILTER>");
            extra = format!(
                "<SYSTEM TYPE=\"Formulae\" NAME=\"{ALTERED_FILTER}\">$AlterID &gt; {after}</SYSTEM>"
            );
        }
        _ => {}
    }
    format!(
        "<ENVELOPE><HEADER><VERSION>1</VERSION><TALLYREQUEST>Export</TALLYREQUEST><TYPE>Collection</TYPE>\
<ID>{id}</ID></HEADER><BODY><DESC><STATICVARIABLES>{vars}</STATICVARIABLES><TDL><TDLMESSAGE>\
<COLLECTION NAME=\"{id}\" ISMODIFY=\"No\"><TYPE>{ty}</TYPE>{filter}<FETCH>{fetch}</FETCH></COLLECTION>{extra}\
</TDLMESSAGE></TDL></DESC></BODY></ENVELOPE>",
        id = query.id(),
        ty = query.object_type(),
        fetch = query.fetch(),
    )
}

/// tally-database-loader's amount formula around a method: Tally's sign (debit negative) as a
/// plain number, zero as 0.
fn signed_number(method: &str) -> String {
    format!(
        "if $$IsEmpty:{method} then 0 else $$StringFindAndReplace:(if $$IsDebit:{method} then -$$NumValue:{method} else $$NumValue:{method}):\"(-)\":\"-\""
    )
}

/// The `<FIELD>` definitions of a report line, `AicfoFld1`.. in order, and their names.
fn report_fields(fields: &[(&str, String)]) -> (String, String) {
    let names: Vec<String> = (1..=fields.len()).map(|i| format!("AicfoFld{i}")).collect();
    let defs = fields
        .iter()
        .zip(&names)
        .map(|((tag, set), name)| {
            format!(
                "<FIELD NAME=\"{name}\"><SET>{}</SET><XMLTAG>{tag}</XMLTAG></FIELD>",
                escape(set)
            )
        })
        .collect();
    (defs, names.join(","))
}

/// The stock form: one `AICFOROW` with the Stock-in-Hand group's opening and closing balance
/// and the period Tally took. For a company whose accounts are integrated with inventory that
/// balance is the stock's value from the items (help.tallysolutions.com, "Integrate Accounts
/// with Inventory"); tally-mcp-server's `pull/balance-sheet.xml` reads the closing stock the same
/// way, `$ClosingBalance:Group:$$GroupStock` at SVTODATE, and the opening stock is the same
/// group's `$OpeningBalance` at SVFROMDATE.
fn build_stock_report(id: &str, vars: &str) -> String {
    let (defs, list) = report_fields(&[
        (
            STOCK_OPENING,
            signed_number("$OpeningBalance:Group:$$GroupStock"),
        ),
        (
            STOCK_CLOSING,
            signed_number("$ClosingBalance:Group:$$GroupStock"),
        ),
        (
            COMPUTED_FROM_DATE,
            "$$PyrlYYYYMMDDFormat:##SVFromDate:\"-\"".into(),
        ),
        (
            COMPUTED_TO_DATE,
            "$$PyrlYYYYMMDDFormat:##SVToDate:\"-\"".into(),
        ),
    ]);
    format!(
        "<ENVELOPE><HEADER><VERSION>1</VERSION><TALLYREQUEST>Export</TALLYREQUEST><TYPE>Data</TYPE>\
<ID>{id}</ID></HEADER><BODY><DESC><STATICVARIABLES>{vars}</STATICVARIABLES><TDL><TDLMESSAGE>\
<REPORT NAME=\"{id}\"><FORMS>AicfoForm</FORMS></REPORT>\
<FORM NAME=\"AicfoForm\"><PARTS>AicfoPart</PARTS><XMLTAG>{root}</XMLTAG></FORM>\
<PART NAME=\"AicfoPart\"><LINES>AicfoLine</LINES></PART>\
<LINE NAME=\"AicfoLine\"><FIELDS>{list}</FIELDS><XMLTAG>AICFOROW</XMLTAG></LINE>{defs}\
</TDLMESSAGE></TDL></DESC></BODY></ENVELOPE>",
        root = super::xml::REPORT_ROOT,
    )
}

/// The report form: one `AICFOROW` per ledger with its GUID, name, closing balance in Tally's
/// sign (debit negative, tally-database-loader's amount formula) and the `##SVToDate` the
/// report ran at.
fn build_report(id: &str, vars: &str, filter: &str, extra: &str) -> String {
    let (defs, list) = report_fields(&[
        ("AICFOGUID", "$Guid".into()),
        ("AICFONAME", "$Name".into()),
        ("AICFOCLOSING", signed_number("$ClosingBalance")),
        (
            COMPUTED_TO_DATE,
            "$$PyrlYYYYMMDDFormat:##SVToDate:\"-\"".into(),
        ),
    ]);
    format!(
        "<ENVELOPE><HEADER><VERSION>1</VERSION><TALLYREQUEST>Export</TALLYREQUEST><TYPE>Data</TYPE>\
<ID>{id}</ID></HEADER><BODY><DESC><STATICVARIABLES>{vars}</STATICVARIABLES><TDL><TDLMESSAGE>\
<REPORT NAME=\"{id}\"><FORMS>AicfoForm</FORMS></REPORT>\
<FORM NAME=\"AicfoForm\"><PARTS>AicfoPart</PARTS><XMLTAG>{root}</XMLTAG></FORM>\
<PART NAME=\"AicfoPart\"><LINES>AicfoLine</LINES><REPEAT>AicfoLine : AicfoLedgers</REPEAT><SCROLLED>Vertical</SCROLLED></PART>\
<LINE NAME=\"AicfoLine\"><FIELDS>{list}</FIELDS><XMLTAG>AICFOROW</XMLTAG></LINE>{defs}\
<COLLECTION NAME=\"AicfoLedgers\"><TYPE>Ledger</TYPE>{filter}<FETCH>GUID, CLOSINGBALANCE</FETCH></COLLECTION>{extra}\
</TDLMESSAGE></TDL></DESC></BODY></ENVELOPE>",
        root = super::xml::REPORT_ROOT,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> Date {
        crate::protocol::calendar::parse_date(s).unwrap()
    }

    #[test]
    fn company_names_are_escaped_and_kept_exactly() {
        let r = build(&Query::Groups, Some("Sharma & Sons <HO>"));
        assert!(r.contains("<SVCURRENTCOMPANY>Sharma &amp; Sons &lt;HO&gt;</SVCURRENTCOMPANY>"));
        assert!(r.contains("<TYPE>Group</TYPE>"));
        let r = build(&Query::Groups, Some(" Odd\u{4} Co "));
        assert!(
            r.contains("<SVCURRENTCOMPANY> Odd&#4; Co </SVCURRENTCOMPANY>"),
            "{r}"
        );
    }

    /// A balance request of either form for the ledgers in `scope` at 2026-01-31.
    fn january(form: BalanceForm, scope: Scope) -> String {
        let (from, at) = (d("2025-04-01"), d("2026-01-31"));
        let query = match form {
            BalanceForm::Collection => Query::Balances { from, at, scope },
            BalanceForm::Report => Query::BalanceReport { from, at, scope },
        };
        build(&query, Some("X"))
    }

    #[test]
    fn balances_carry_the_period_and_ask_tally_to_say_it() {
        let debtors = || Scope::Under("Sundry Debtors".into());
        let r = january(BalanceForm::Collection, debtors());
        assert!(r.contains("<SVFROMDATE TYPE=\"Date\">20250401</SVFROMDATE><SVTODATE TYPE=\"Date\">20260131</SVTODATE>"));
        assert!(r.contains("<CHILDOF>Sundry Debtors</CHILDOF>"));
        assert!(r.contains("<COMPUTE>AICFOTODATE : ##SVToDate</COMPUTE>"));
        let p = january(BalanceForm::Collection, Scope::DirectlyUnderPrimary);
        assert!(p.contains("$$IsEqual:$Parent:$$SysName:Primary</SYSTEM>"));
        let report = january(BalanceForm::Report, debtors());
        assert!(report.contains("<TYPE>Data</TYPE>"));
        assert!(report.contains("<SVTODATE TYPE=\"Date\">20260131</SVTODATE>"));
        assert!(report.contains("<XMLTAG>AICFOTODATE</XMLTAG>"));
        assert!(report.contains("<TYPE>Ledger</TYPE><CHILDOF>Sundry Debtors</CHILDOF>"));
    }

    #[test]
    fn altered_vouchers_are_asked_by_alteration_id_not_by_date() {
        let r = build(&Query::AlteredVouchers { after: 1234 }, Some("X"));
        assert!(r.contains("<TYPE>Voucher</TYPE>"));
        assert!(r.contains("$AlterID &gt; 1234</SYSTEM>"), "{r}");
        assert!(r.contains("<FETCH>DATE, ALTERID</FETCH>"));
        assert!(!r.contains("SVFROMDATE"));
    }
}
