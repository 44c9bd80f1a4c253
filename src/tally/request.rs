//! Requests to Tally: Export/Collection envelopes with an inline TDL collection.

use time::Date;

use super::amount::format_tally_date;

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
    /// all or those under one group.
    Balances {
        from: Date,
        at: Date,
        under: Option<String>,
    },
}

/// The collection id the request names; the simulator keys on the TDL, not on this.
impl Query {
    fn id(&self) -> &'static str {
        match self {
            Query::Companies => "AicfoCompanies",
            Query::Groups => "AicfoGroups",
            Query::Ledgers { .. } => "AicfoLedgers",
            Query::Balances { .. } => "AicfoBalances",
        }
    }

    fn object_type(&self) -> &'static str {
        match self {
            Query::Companies => "Company",
            Query::Groups => "Group",
            Query::Ledgers { .. } | Query::Balances { .. } => "Ledger",
        }
    }

    fn fetch(&self) -> &'static str {
        match self {
            Query::Companies => "NAME, GUID, BOOKSFROM, STARTINGFROM, ALTMSTID, ALTVCHID",
            Query::Groups => "NAME, GUID, PARENT, RESERVEDNAME, ISREVENUE, ISDEEMEDPOSITIVE, AFFECTSGROSSPROFIT, MASTERID",
            Query::Ledgers { .. } => "NAME, GUID, PARENT, OPENINGBALANCE",
            Query::Balances { .. } => "GUID, CLOSINGBALANCE",
        }
    }
}

/// XML-escapes text for an element body (a bare `&` in a company name breaks Tally's parser).
pub fn escape(text: &str) -> String {
    quick_xml::escape::escape(text).into_owned()
}

/// The whole request envelope. `company` is required for everything but [`Query::Companies`].
pub fn build(query: &Query, company: Option<&str>) -> String {
    let mut vars = String::from("<SVEXPORTFORMAT>$$SysName:XML</SVEXPORTFORMAT>");
    if let Some(c) = company {
        vars.push_str(&format!(
            "<SVCURRENTCOMPANY>{}</SVCURRENTCOMPANY>",
            escape(c)
        ));
    }
    let mut filter = String::new();
    match query {
        Query::Balances { from, at, under } => {
            vars.push_str(&format!(
                "<SVFROMDATE TYPE=\"Date\">{}</SVFROMDATE><SVTODATE TYPE=\"Date\">{}</SVTODATE>",
                format_tally_date(*from),
                format_tally_date(*at)
            ));
            if let Some(g) = under {
                filter = format!("<CHILDOF>{}</CHILDOF><BELONGSTO>Yes</BELONGSTO>", escape(g));
            }
        }
        Query::Ledgers { under: Some(g) } => {
            filter = format!("<CHILDOF>{}</CHILDOF><BELONGSTO>Yes</BELONGSTO>", escape(g));
        }
        _ => {}
    }
    format!(
        "<ENVELOPE><HEADER><VERSION>1</VERSION><TALLYREQUEST>Export</TALLYREQUEST><TYPE>Collection</TYPE>\
<ID>{id}</ID></HEADER><BODY><DESC><STATICVARIABLES>{vars}</STATICVARIABLES><TDL><TDLMESSAGE>\
<COLLECTION NAME=\"{id}\" ISMODIFY=\"No\"><TYPE>{ty}</TYPE>{filter}<FETCH>{fetch}</FETCH></COLLECTION>\
</TDLMESSAGE></TDL></DESC></BODY></ENVELOPE>",
        id = query.id(),
        ty = query.object_type(),
        fetch = query.fetch(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn company_names_are_escaped() {
        let r = build(&Query::Groups, Some("Sharma & Sons <HO>"));
        assert!(r.contains("<SVCURRENTCOMPANY>Sharma &amp; Sons &lt;HO&gt;</SVCURRENTCOMPANY>"));
        assert!(r.contains("<TYPE>Group</TYPE>"));
    }

    #[test]
    fn balances_carry_the_period() {
        let d = |s| crate::protocol::calendar::parse_date(s).unwrap();
        let r = build(
            &Query::Balances {
                from: d("2025-04-01"),
                at: d("2026-01-31"),
                under: Some("Sundry Debtors".into()),
            },
            Some("X"),
        );
        assert!(r.contains("<SVFROMDATE TYPE=\"Date\">20250401</SVFROMDATE><SVTODATE TYPE=\"Date\">20260131</SVTODATE>"));
        assert!(r.contains("<CHILDOF>Sundry Debtors</CHILDOF>"));
    }
}
