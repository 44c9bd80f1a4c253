//! Reading one company out of Tally and building the appliance's payload: company facts,
//! groups, ledgers, today's balances for the current month and the month-end balances of the
//! closed months. Tally is asked one date at a time, never for everything at once.

use std::collections::HashMap;

use time::{Date, Duration, Month};

use super::outbox::{Outbox, PayloadHead, PayloadWriter, Pending};
use super::pace::Pacer;
use super::parts::{item_bytes, json_len, MonthOut, PartPlan, PartsWriter};
use crate::protocol::calendar::format_date;
use crate::protocol::*;
use crate::tally::balances::MonthReader;
use crate::tally::convert::{to_wire_sign, wire_balance, wire_group, wire_ledger};
use crate::tally::stock::read_stock;
use crate::tally::{TallyClient, TallyCompany, TallyError, TallyLedger};

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ExtractError {
    #[error("{0}")]
    Tally(#[from] TallyError),
    #[error("No company is open in Tally. Open the company in Tally (F3: Select Company).")]
    NoCompanyOpen,
    #[error("Several companies are open in Tally ({open}). Choose the one to read: run setup, or set `tally_company` in config.json.")]
    SeveralOpen { open: String },
    #[error("The company `{wanted}` is not open in Tally (open: {open}). Open it in Tally, or correct `tally_company` in config.json.")]
    NotOpen { wanted: String, open: String },
    #[error("Tally's data cannot be sent: {0}")]
    Data(String),
    #[error("{0}")]
    Outbox(String),
}

impl ExtractError {
    pub fn kind(&self) -> &'static str {
        match self {
            ExtractError::Tally(t) => t.kind(),
            ExtractError::NoCompanyOpen | ExtractError::NotOpen { .. } => "company_not_open",
            ExtractError::SeveralOpen { .. } => "company_not_chosen",
            ExtractError::Data(_) => "tally_data",
            ExtractError::Outbox(_) => "outbox",
        }
    }
}

/// Picks the Tally company to read: the configured one, or the only one open.
pub fn choose_company(open: &[TallyCompany], wanted: &str) -> Result<TallyCompany, ExtractError> {
    let names = || {
        open.iter()
            .map(|c| format!("`{}`", c.name))
            .collect::<Vec<_>>()
            .join(", ")
    };
    if !wanted.is_empty() {
        return open
            .iter()
            .find(|c| c.name == wanted)
            .or_else(|| open.iter().find(|c| c.name.eq_ignore_ascii_case(wanted)))
            .or_else(|| {
                // A name typed by hand without the stray spaces Tally keeps in it.
                let clean = crate::tally::xml::clean_text(wanted);
                open.iter()
                    .find(|c| crate::tally::xml::clean_text(&c.name).eq_ignore_ascii_case(&clean))
            })
            .cloned()
            .ok_or_else(|| ExtractError::NotOpen {
                wanted: wanted.to_string(),
                open: if open.is_empty() {
                    "none".into()
                } else {
                    names()
                },
            });
    }
    match open {
        [] => Err(ExtractError::NoCompanyOpen),
        [one] => Ok(one.clone()),
        _ => Err(ExtractError::SeveralOpen { open: names() }),
    }
}

/// The first day of the financial year `day` is in, for a company whose years start on
/// `fy_from`'s month and day (1 April when Tally does not say).
pub fn fy_start(fy_from: Option<Date>, day: Date) -> Date {
    let (m, d) = fy_from.map_or((Month::April, 1), |f| (f.month(), f.day()));
    let clamp = |y: i32| Date::from_calendar_date(y, m, d.min(m.length(y))).expect("clamped");
    let this = clamp(day.year());
    if this <= day {
        this
    } else {
        clamp(day.year() - 1)
    }
}

/// The closed months to send: `count` of them before today's month, or by default every month
/// from the start of the previous financial year; never before the books begin.
pub fn closed_months(today: Date, company: &TallyCompany, count: Option<u32>) -> Vec<MonthKey> {
    let current = MonthKey::of(today);
    let first = match count {
        Some(n) => (0..n).fold(current, |m, _| m.previous()),
        None => {
            let this_fy = fy_start(company.financial_year_from, today);
            MonthKey::of(fy_start(
                company.financial_year_from,
                this_fy - Duration::days(1),
            ))
        }
    };
    let mut out = Vec::new();
    let mut m = first;
    while m < current {
        if company.books_from.is_none_or(|b| m.last_day() >= b) {
            out.push(m);
        }
        m = m.next();
    }
    out
}

/// Tally's "Difference in opening balances" (debit positive): every ledger's opening balance
/// plus the opening stock at the books' beginning (the items' opening value, which Tally counts
/// among the openings of a company integrated with inventory). `None` when Tally did not give
/// every ledger's opening balance or the books' beginning: unknown, never zero.
async fn opening_difference(
    tally: &TallyClient,
    company: &TallyCompany,
    ledgers: &[TallyLedger],
) -> Result<Option<Amount>, ExtractError> {
    let Some(books_from) = company.books_from else {
        return Ok(None);
    };
    let mut sum = Amount::ZERO;
    for l in ledgers {
        let Some(opening) = l.opening_balance else {
            log::warn!(
                "Tally gave no opening balance for ledger `{}`; the difference in opening balances is not sent",
                l.name
            );
            return Ok(None);
        };
        sum = sum
            .checked_add(to_wire_sign(opening))
            .ok_or_else(|| ExtractError::Data("the opening balances overflow".into()))?;
    }
    let stock = read_stock(tally, &company.name, books_from, books_from).await?;
    Ok(sum.checked_add(stock.opening))
}

/// What changed in Tally since the payload the appliance holds, and so what to read again.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Changes {
    /// Nothing: the appliance holds what Tally has.
    None,
    /// Masters and today's balances, and the month-ends from this month on (`None`: only
    /// masters changed, so no closed month).
    Since(Option<MonthKey>),
    /// Everything: nothing is known to be held, or what changed cannot be placed in time.
    All,
}

/// Compares Tally's change markers with `held` (ALTMSTID, ALTVCHID of the payload the
/// appliance accepted). When vouchers moved, Tally is asked for the dates of those altered
/// since (one small request): a back-dated entry changes every month-end from its date on. A
/// voucher deleted leaves no date to find, so then everything is read again.
pub async fn changes_since(
    tally: &TallyClient,
    company: &TallyCompany,
    held: Option<(u64, u64)>,
) -> Result<Changes, ExtractError> {
    let (Some((held_mst, held_vch)), Some(mst), Some(vch)) =
        (held, company.alt_mst_id, company.alt_vch_id)
    else {
        return Ok(Changes::All);
    };
    if vch == held_vch {
        return Ok(if mst == held_mst {
            Changes::None
        } else {
            Changes::Since(None)
        });
    }
    let dates = tally.altered_voucher_dates(&company.name, held_vch).await?;
    Ok(match dates.into_iter().min() {
        Some(earliest) => Changes::Since(Some(MonthKey::of(earliest))),
        None => Changes::All,
    })
}

pub struct Extraction {
    pub company: TallyCompany,
    pub counts: SyncCounts,
    /// The payload, queued in the outbox.
    pub queued: Pending,
}

/// After a month read that shows Tally busy, says so once (a run event) and waits.
async fn pace(
    pacer: &mut Pacer,
    took: std::time::Duration,
    left: usize,
    progress: &mut (dyn FnMut(&str, u8) + Send),
    percent: u8,
) {
    let Some(pause) = pacer.after_read(took) else {
        return;
    };
    if !pacer.reported {
        pacer.reported = true;
        progress(
            &format!(
                "Tally is busy (a month took {:.1} s): spreading the remaining {left} month read(s) out",
                took.as_secs_f32()
            ),
            percent,
        );
    }
    log::info!(
        "Tally is busy; waiting {:.1} s before the next month",
        pause.as_secs_f32()
    );
    tokio::time::sleep(pause).await;
}

/// Where the months go: one payload, or the parts of a sync too large for one.
enum Sink<'o> {
    Whole(PayloadWriter),
    Parts(PartsWriter<'o>),
}

impl<'o> Sink<'o> {
    /// Parts when the appliance announced a limit (`part_limit`, for a run) that one payload of
    /// this size could exceed and parts can keep to; else one payload as always.
    async fn begin(
        outbox: &'o Outbox,
        head: &PayloadHead<'_>,
        part_limit: Option<u64>,
        months: usize,
    ) -> Result<Sink<'o>, ExtractError> {
        let io = |e: std::io::Error| {
            ExtractError::Outbox(format!(
                "cannot write the outbox in {}: {e}",
                outbox.dir().display()
            ))
        };
        let plan = match (part_limit, head.sync_run_id) {
            (Some(limit), Some(_)) => {
                let chart = json_len(&(head.groups, head.ledgers, head.company)) + 256;
                let item = item_bytes(head.ledgers);
                // Parts cannot help (the chart alone is over the limit): one payload, which
                // the appliance refuses for good, and that refusal is handled as always.
                PartPlan::new(limit, chart, item, head.ledgers.len(), months)
                    .inspect_err(|e| log::warn!("the sync cannot go in parts: {e}"))
                    .ok()
            }
            _ => None,
        };
        match (plan, head.sync_run_id) {
            (Some(plan), Some(run)) if plan.count > 1 => {
                log::info!(
                    "the sync goes in {} parts (the appliance takes at most {} bytes at once)",
                    plan.count,
                    part_limit.unwrap_or(0)
                );
                Ok(Sink::Parts(
                    PartsWriter::begin(outbox, head, run, plan)
                        .await
                        .map_err(io)?,
                ))
            }
            _ => Ok(Sink::Whole(outbox.begin(head).await.map_err(io)?)),
        }
    }
}

/// Reads everything into a payload written straight into the outbox, a month at a time,
/// reporting each stage with a percentage as it goes. With `part_limit` (the appliance's, for
/// a run) a sync larger than that goes in parts.
#[allow(clippy::too_many_arguments)]
pub async fn extract(
    tally: &TallyClient,
    company: TallyCompany,
    today: Date,
    closed: &[MonthKey],
    ids: (Option<&str>, Option<&str>),
    part_limit: Option<u64>,
    outbox: &Outbox,
    progress: &mut (dyn FnMut(&str, u8) + Send),
) -> Result<Extraction, ExtractError> {
    let name = company.name.clone();
    let steps = 2 + closed.len() + 1;
    let pct = |done: usize| (10 + done * 80 / steps) as u8;
    let io = |e: std::io::Error| {
        ExtractError::Outbox(format!(
            "cannot write the outbox in {}: {e}",
            outbox.dir().display()
        ))
    };

    progress("reading groups", pct(0));
    let groups: Vec<GroupRecord> = tally
        .groups(&name)
        .await?
        .iter()
        .map(wire_group)
        .collect::<Result<_, _>>()
        .map_err(|e| ExtractError::Data(e.to_string()))?;

    progress("reading ledgers", pct(1));
    let tally_ledgers = tally.ledgers(&name, None).await?;
    let opening_difference = opening_difference(tally, &company, &tally_ledgers).await?;
    let has_openings = tally_ledgers
        .iter()
        .any(|l| l.opening_balance.is_some_and(|a| !a.is_zero()));
    let ledgers: Vec<LedgerRecord> = tally_ledgers.into_iter().map(wire_ledger).collect();
    let ledger_count = ledgers.len();

    let facts = CompanyFacts {
        // Control characters Tally keeps in a name have no place in the appliance's text.
        tally_company_name: Some(crate::tally::xml::clean_text(&company.name)),
        books_from: company.books_from.map(format_date),
        financial_year_from: company.financial_year_from.map(format_date),
        opening_difference,
    };
    let generated_at = time::OffsetDateTime::now_utc()
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default();
    let as_of = format_date(today);
    let head = PayloadHead {
        company_id: ids.0,
        sync_run_id: ids.1,
        as_of_date: Some(&as_of),
        source: Some("tally"),
        generated_at: Some(&generated_at),
        company: Some(&facts),
        groups: &groups,
        ledgers: &ledgers,
    };
    let mut sink = Sink::begin(outbox, &head, part_limit, closed.len() + 1).await?;
    // Only the GUIDs (and names, for messages) are needed from here on.
    let known: HashMap<String, String> = ledgers.into_iter().map(|l| (l.guid, l.name)).collect();
    let primary_groups = groups
        .iter()
        .filter(|g| g.parent.is_none())
        .map(|g| g.name.clone())
        .collect();
    let fy_from = company.financial_year_from;
    let period_start = move |day: Date| fy_start(fy_from, day);
    let mut reader = MonthReader::new(tally, &name, &known, primary_groups, &period_start)
        .expecting_balances(has_openings);
    let books_from = company.books_from;

    let dates: Vec<(MonthKey, Date)> = closed
        .iter()
        .map(|m| (*m, m.last_day()))
        .chain([(MonthKey::of(today), today)])
        .collect();
    let mut balances_sent = 0u64;
    let mut queued = None;
    let mut pacer = Pacer::default();
    for (i, (month, at)) in dates.iter().enumerate() {
        progress(
            &format!("reading balances for {month} ({}/{})", i + 1, dates.len()),
            pct(2 + i),
        );
        let read_started = std::time::Instant::now();
        // Checked: complete, and computed at `at` as Tally confirms; otherwise the sync fails
        // here and the half-written payload never joins the outbox.
        let balances = reader.read(*at).await?;
        // The stock's value beside the ledgers, checked as they are; a company without
        // inventory (both zero) sends none.
        // The period starts no earlier than the books do (Tally may take a from-date before
        // them as the books' beginning, and the stock form confirms the from-date it took).
        let from = period_start(*at).max(books_from.unwrap_or(Date::MIN));
        let stock = read_stock(tally, &name, from, *at).await?;
        let stock = Some(stock).filter(|s| !(s.opening.is_zero() && s.closing.is_zero()));
        let left = dates.len() - i - 1;
        if left > 0 {
            pace(
                &mut pacer,
                read_started.elapsed(),
                left,
                progress,
                pct(2 + i),
            )
            .await;
        }
        // A ledger created after the masters were read waits for the next sync; a zero
        // balance is left out (a missing ledger has a zero balance).
        let items = || {
            balances
                .iter()
                .filter(|b| known.contains_key(&b.guid))
                .filter_map(wire_balance)
        };
        balances_sent += items().count() as u64;
        let (key, date) = (month.to_string(), format_date(*at));
        let last = i + 1 == dates.len();
        match &mut sink {
            Sink::Parts(parts) => {
                let out = MonthOut {
                    key: &key,
                    as_of: &date,
                    closed: !last,
                    stock: stock.as_ref(),
                };
                parts.month(&out, items()).await.map_err(io)?;
            }
            Sink::Whole(writer) if !last => writer
                .month(&key, &date, stock.as_ref(), items())
                .await
                .map_err(io)?,
            Sink::Whole(_) => {}
        }
        if last {
            queued = Some(match sink {
                Sink::Parts(parts) => parts.finish().await.map_err(io)?,
                Sink::Whole(writer) => writer
                    .finish(&key, &date, stock.as_ref(), items())
                    .await
                    .map_err(io)?,
            });
            break;
        }
    }
    let counts = SyncCounts {
        groups: Some(groups.len() as u64),
        ledgers: Some(ledger_count as u64),
        months: Some(dates.len() as u64),
        balances: Some(balances_sent),
    };
    Ok(Extraction {
        company,
        counts,
        queued: queued.expect("today's month is always read last"),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> Date {
        crate::protocol::calendar::parse_date(s).unwrap()
    }

    fn company(books: &str) -> TallyCompany {
        TallyCompany {
            name: "X".into(),
            guid: None,
            books_from: Some(d(books)),
            financial_year_from: Some(d("2026-04-01")),
            alt_mst_id: None,
            alt_vch_id: None,
        }
    }

    #[test]
    fn closed_months_go_back_to_the_previous_financial_year() {
        let months = closed_months(d("2026-11-26"), &company("2020-04-01"), None);
        assert_eq!(months.first().unwrap().to_string(), "2025-04");
        assert_eq!(months.last().unwrap().to_string(), "2026-10");
        assert_eq!(months.len(), 19);
        // In April, the previous year is all of last year.
        let april = closed_months(d("2026-04-03"), &company("2020-04-01"), None);
        assert_eq!(
            (april.first().unwrap().to_string(), april.len()),
            ("2025-04".into(), 12)
        );
        // Never before the books begin; a fixed count when configured.
        assert_eq!(
            closed_months(d("2026-11-26"), &company("2026-09-15"), None).len(),
            2
        );
        assert_eq!(
            closed_months(d("2026-11-26"), &company("2020-04-01"), Some(3)).len(),
            3
        );
        assert!(closed_months(d("2026-11-26"), &company("2020-04-01"), Some(0)).is_empty());
    }

    #[test]
    fn choosing_the_company() {
        let a = TallyCompany {
            name: "Alpha".into(),
            ..company("2020-04-01")
        };
        let b = TallyCompany {
            name: "Beta & Co".into(),
            ..company("2020-04-01")
        };
        assert_eq!(
            choose_company(std::slice::from_ref(&a), "").unwrap().name,
            "Alpha"
        );
        assert!(matches!(
            choose_company(&[], ""),
            Err(ExtractError::NoCompanyOpen)
        ));
        let err = choose_company(&[a.clone(), b.clone()], "").unwrap_err();
        assert!(err.to_string().contains("`Alpha`, `Beta & Co`"), "{err}");
        assert_eq!(
            choose_company(&[a.clone(), b.clone()], "beta & co")
                .unwrap()
                .name,
            "Beta & Co"
        );
        assert!(matches!(
            choose_company(&[a], "Gamma"),
            Err(ExtractError::NotOpen { .. })
        ));
    }
}
