//! Typed records read from Tally's objects. Amounts stay in Tally's sign here (debit negative);
//! [`super::convert`] turns them into the wire convention.

use time::Date;

use super::amount::{parse_tally_amount, parse_tally_date, BadTallyAmount};
use super::xml::Element;
use crate::protocol::groups::is_primary_parent;
use crate::protocol::Amount;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RecordError {
    #[error("{kind} `{name}` has no {field} in Tally's answer")]
    Missing {
        kind: &'static str,
        name: String,
        field: &'static str,
    },
    #[error("{kind} `{name}`: {source}")]
    Amount {
        kind: &'static str,
        name: String,
        #[source]
        source: BadTallyAmount,
    },
    #[error("{kind} `{name}` has the amount `{text}` with more than two decimal places: the company's base currency uses three (as the Kuwaiti, Bahraini or Omani dinar do), which aicfo cannot store exactly. Nothing of this sync was sent; tell support that this company needs three-decimal amounts.")]
    ThreeDecimals {
        kind: &'static str,
        name: String,
        text: String,
    },
    #[error("{kind} `{name}` has an unreadable {field} `{value}`")]
    Bad {
        kind: &'static str,
        name: String,
        field: &'static str,
        value: String,
    },
}

fn name_of(e: &Element) -> String {
    e.attr("NAME")
        .filter(|n| !n.is_empty())
        .map(str::to_string)
        .or_else(|| e.child_text("NAME").map(str::to_string))
        .or_else(|| e.language_names().into_iter().next())
        .unwrap_or_default()
}

/// A field a record cannot be without (a ledger's GUID), or the error naming what is missing.
fn required<'e>(
    e: &'e Element,
    field: &str,
    what: (&'static str, &'static str),
    name: &str,
) -> Result<&'e str, RecordError> {
    e.child_text(field).ok_or_else(|| RecordError::Missing {
        kind: what.0,
        name: name.to_string(),
        field: what.1,
    })
}

fn logical(e: &Element, field: &str) -> Option<bool> {
    match e.child_text(field)? {
        t if t.eq_ignore_ascii_case("yes") => Some(true),
        t if t.eq_ignore_ascii_case("no") => Some(false),
        _ => None,
    }
}

fn number(e: &Element, field: &str) -> Option<u64> {
    e.child_text(field).and_then(|t| t.trim().parse().ok())
}

fn aliases(e: &Element, name: &str) -> Vec<String> {
    e.language_names()
        .into_iter()
        .filter(|n| n != name)
        .collect()
}

fn amount(
    e: &Element,
    field: &str,
    kind: &'static str,
    name: &str,
) -> Result<Option<Amount>, RecordError> {
    match e.child(field) {
        None => Ok(None),
        Some(c) => parse_tally_amount(&c.text).map(Some).map_err(|source| {
            if source.too_precise {
                RecordError::ThreeDecimals {
                    kind,
                    name: name.to_string(),
                    text: source.text,
                }
            } else {
                RecordError::Amount {
                    kind,
                    name: name.to_string(),
                    source,
                }
            }
        }),
    }
}

fn date(
    e: &Element,
    field: &'static str,
    kind: &'static str,
    name: &str,
) -> Result<Option<Date>, RecordError> {
    match e.child_text(field) {
        None => Ok(None),
        Some(t) => parse_tally_date(t)
            .map(Some)
            .ok_or_else(|| RecordError::Bad {
                kind,
                name: name.to_string(),
                field,
                value: t.to_string(),
            }),
    }
}

/// A company open in Tally.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TallyCompany {
    pub name: String,
    pub guid: Option<String>,
    pub books_from: Option<Date>,
    /// Start of the financial year (Tally's STARTINGFROM).
    pub financial_year_from: Option<Date>,
    /// Highest alteration ids of masters and vouchers: unchanged means nothing changed.
    pub alt_mst_id: Option<u64>,
    pub alt_vch_id: Option<u64>,
}

impl TallyCompany {
    /// The name is kept exactly as Tally wrote it (stray spaces, control characters): Tally
    /// matches `SVCURRENTCOMPANY` against it character for character.
    pub fn from_element(e: &Element) -> Result<Self, RecordError> {
        let name = e
            .attr(super::xml::RAW_NAME)
            .map(str::to_string)
            .unwrap_or_else(|| name_of(e));
        if name.is_empty() {
            return Err(RecordError::Missing {
                kind: "company",
                name,
                field: "name",
            });
        }
        Ok(TallyCompany {
            guid: e.child_text("GUID").map(str::to_string),
            books_from: date(e, "BOOKSFROM", "company", &name)?,
            financial_year_from: date(e, "STARTINGFROM", "company", &name)?,
            alt_mst_id: number(e, "ALTMSTID"),
            alt_vch_id: number(e, "ALTVCHID"),
            name,
        })
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TallyGroup {
    pub name: String,
    /// Present whenever the request fetched it (the connector always does).
    pub guid: Option<String>,
    /// `None` for a top-level group (Tally's parent `&#4; Primary`).
    pub parent: Option<String>,
    pub reserved_name: Option<String>,
    pub is_revenue: Option<bool>,
    pub is_deemed_positive: Option<bool>,
    pub affects_gross_profit: Option<bool>,
    pub master_id: Option<u64>,
    pub aliases: Vec<String>,
}

fn parent_of(e: &Element) -> Option<String> {
    let p = e.child_text("PARENT");
    if is_primary_parent(p) {
        None
    } else {
        p.map(str::to_string)
    }
}

impl TallyGroup {
    pub fn from_element(e: &Element) -> Result<Self, RecordError> {
        let name = name_of(e);
        if name.is_empty() {
            return Err(RecordError::Missing {
                kind: "group",
                name,
                field: "name",
            });
        }
        Ok(TallyGroup {
            guid: e.child_text("GUID").map(str::to_string),
            parent: parent_of(e),
            reserved_name: e
                .attr("RESERVEDNAME")
                .filter(|r| !r.is_empty())
                .map(str::to_string),
            is_revenue: logical(e, "ISREVENUE"),
            is_deemed_positive: logical(e, "ISDEEMEDPOSITIVE"),
            affects_gross_profit: logical(e, "AFFECTSGROSSPROFIT"),
            master_id: number(e, "MASTERID"),
            aliases: aliases(e, &name),
            name,
        })
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TallyLedger {
    pub name: String,
    pub guid: String,
    pub parent: Option<String>,
    /// Tally's sign: a debit is negative.
    pub opening_balance: Option<Amount>,
    /// At the request's SVTODATE, in Tally's sign.
    pub closing_balance: Option<Amount>,
    pub aliases: Vec<String>,
}

impl TallyLedger {
    pub fn from_element(e: &Element) -> Result<Self, RecordError> {
        let name = name_of(e);
        let guid = required(e, "GUID", ("ledger", "GUID"), &name)?.to_string();
        Ok(TallyLedger {
            guid,
            parent: parent_of(e),
            opening_balance: amount(e, "OPENINGBALANCE", "ledger", &name)?,
            closing_balance: amount(e, "CLOSINGBALANCE", "ledger", &name)?,
            aliases: aliases(e, &name),
            name,
        })
    }
}

/// One ledger's closing balance, without the rest of the ledger, as the balance requests read
/// it: the collection form ([`LedgerBalance::from_element`]) or the report form
/// ([`LedgerBalance::from_row`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LedgerBalance {
    pub guid: String,
    /// For messages only: the ledger's name as Tally wrote it beside the balance.
    pub name: String,
    /// Tally's sign: a debit is negative. Zero when Tally wrote the element empty (as it does for
    /// a zero balance); `None` when Tally left the element out, which is never a number.
    pub closing: Option<Amount>,
    /// The date Tally says it computed the balance at (the request's computed `##SVToDate`
    /// field); `None` when the answer does not say.
    pub computed_at: Option<Date>,
}

/// The computed field that carries `##SVToDate` back in both balance request forms.
pub const COMPUTED_TO_DATE: &str = "AICFOTODATE";

/// The stock form's fields: the period's start Tally took, and the stock's value then and at
/// the period's end.
pub const COMPUTED_FROM_DATE: &str = "AICFOFROMDATE";
pub const STOCK_OPENING: &str = "AICFOSTOCKOPENING";
pub const STOCK_CLOSING: &str = "AICFOSTOCKCLOSING";

/// A date Tally computed: `YYYYMMDD` (a Date-typed field), `YYYY-MM-DD` (the report form's
/// `$$PyrlYYYYMMDDFormat`) or `D-Mon-YYYY`.
fn computed_date(e: &Element) -> Option<Date> {
    computed_date_in(e, COMPUTED_TO_DATE)
}

fn computed_date_in(e: &Element, field: &str) -> Option<Date> {
    let text = e.child_text(field)?;
    parse_tally_date(text).or_else(|| crate::protocol::calendar::parse_date(text.trim()).ok())
}

/// The stock form's one line, as Tally answered it: nothing is taken for zero or for the date
/// asked; [`super::stock`] checks it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StockRow {
    /// Tally's sign: a debit (stock held) is negative.
    pub opening: Option<Amount>,
    pub closing: Option<Amount>,
    pub from: Option<Date>,
    pub to: Option<Date>,
}

impl StockRow {
    pub fn from_row(e: &Element) -> Result<Self, RecordError> {
        let name = "Stock-in-Hand";
        Ok(StockRow {
            opening: amount(e, STOCK_OPENING, "stock", name)?,
            closing: amount(e, STOCK_CLOSING, "stock", name)?,
            from: computed_date_in(e, COMPUTED_FROM_DATE),
            to: computed_date_in(e, COMPUTED_TO_DATE),
        })
    }
}

impl LedgerBalance {
    pub fn from_element(e: &Element) -> Result<Self, RecordError> {
        let name = name_of(e);
        let guid = required(e, "GUID", ("ledger", "GUID"), &name)?;
        Ok(LedgerBalance {
            guid: guid.to_string(),
            closing: amount(e, "CLOSINGBALANCE", "ledger", &name)?,
            computed_at: computed_date(e),
            name,
        })
    }

    /// One line of the report form: `AICFOGUID`, `AICFONAME`, `AICFOCLOSING`, `AICFOTODATE`.
    pub fn from_row(e: &Element) -> Result<Self, RecordError> {
        let name = e.child_text("AICFONAME").unwrap_or_default().to_string();
        let guid = required(e, "AICFOGUID", ("ledger", "GUID"), &name)?;
        Ok(LedgerBalance {
            guid: guid.to_string(),
            closing: amount(e, "AICFOCLOSING", "ledger", &name)?,
            computed_at: computed_date(e),
            name,
        })
    }
}

/// A voucher altered since an id: only the date it is dated on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AlteredVoucher {
    pub date: Date,
}

impl AlteredVoucher {
    pub fn from_element(e: &Element) -> Result<Self, RecordError> {
        let label = e
            .attr("REMOTEID")
            .or(e.child_text("ALTERID"))
            .unwrap_or_default()
            .to_string();
        let date = date(e, "DATE", "voucher", &label)?.ok_or(RecordError::Missing {
            kind: "voucher",
            name: label,
            field: "DATE",
        })?;
        Ok(AlteredVoucher { date })
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VoucherEntry {
    pub ledger: String,
    /// Tally's sign: a debit is negative.
    pub amount: Amount,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TallyVoucher {
    pub guid: String,
    pub date: Date,
    pub voucher_type: String,
    pub number: Option<String>,
    pub narration: Option<String>,
    pub entries: Vec<VoucherEntry>,
}

fn entries_in<'a>(
    lists: impl Iterator<Item = &'a Element>,
    label: &str,
) -> Result<Vec<VoucherEntry>, RecordError> {
    lists
        .map(|entry| {
            Ok(VoucherEntry {
                ledger: entry
                    .child_text("LEDGERNAME")
                    .unwrap_or_default()
                    .to_string(),
                amount: amount(entry, "AMOUNT", "voucher", label)?.unwrap_or(Amount::ZERO),
            })
        })
        .collect()
}

fn balances(entries: &[VoucherEntry]) -> bool {
    entries
        .iter()
        .try_fold(Amount::ZERO, |sum, e| sum.checked_add(e.amount))
        .is_some_and(|s| s.is_zero())
}

/// A voucher's ledger lines in either shape Tally writes (field reports): a Collection answer
/// fetching `ALLLEDGERENTRIES.LIST` lists every line at the top, and may repeat the sales or
/// purchase line inside the inventory entries; a Day Book / invoice-style voucher has only the
/// party and tax lines at the top, and the sales or purchase line only inside
/// `ALLINVENTORYENTRIES.LIST` > `ACCOUNTINGALLOCATIONS.LIST`. The inner lines are added only
/// when the top ones do not balance without them and do with them.
fn voucher_entries(e: &Element, label: &str) -> Result<Vec<VoucherEntry>, RecordError> {
    let top = ["ALLLEDGERENTRIES.LIST", "LEDGERENTRIES.LIST"]
        .into_iter()
        .flat_map(|list| e.children_named(list));
    let mut entries = entries_in(top, label)?;
    if balances(&entries) {
        return Ok(entries);
    }
    let inventory = ["ALLINVENTORYENTRIES.LIST", "INVENTORYENTRIES.LIST"]
        .into_iter()
        .find(|list| e.children_named(list).next().is_some());
    let inner = inventory.into_iter().flat_map(|list| {
        e.children_named(list)
            .flat_map(|i| i.children_named("ACCOUNTINGALLOCATIONS.LIST"))
    });
    let inner = entries_in(inner, label)?;
    let before = entries.len();
    entries.extend(inner);
    if !balances(&entries) {
        entries.truncate(before);
    }
    Ok(entries)
}

impl TallyVoucher {
    pub fn from_element(e: &Element) -> Result<Self, RecordError> {
        let guid = e.child_text("GUID").unwrap_or_default().to_string();
        let label = e.child_text("VOUCHERNUMBER").unwrap_or(&guid).to_string();
        let date = date(e, "DATE", "voucher", &label)?.ok_or_else(|| RecordError::Missing {
            kind: "voucher",
            name: label.clone(),
            field: "DATE",
        })?;
        let entries = voucher_entries(e, &label)?;
        Ok(TallyVoucher {
            guid,
            date,
            voucher_type: e
                .child_text("VOUCHERTYPENAME")
                .or(e.attr("VCHTYPE"))
                .unwrap_or_default()
                .to_string(),
            number: e.child_text("VOUCHERNUMBER").map(str::to_string),
            narration: e.child_text("NARRATION").map(str::to_string),
            entries,
        })
    }
}
