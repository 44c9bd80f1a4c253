//! A sync too large for one body goes in parts (see `protocol::parts`). The parts are planned
//! before any balance is read, from what is known then (the chart's size, the number of
//! ledgers, the longest GUID, the months to read): every part carries its index and the total
//! count, so the total must be known when the first is written. The plan assumes every ledger
//! has a balance in every month and every amount is as long as one can be, so no part can
//! exceed the limit; a month with fewer balances leaves its parts smaller.

use std::path::PathBuf;

use super::outbox::{enqueue_parts, Outbox, PayloadHead, PayloadWriter, Pending};
use crate::protocol::{Amount, LedgerRecord, StockValues};

/// Room for a part's own fields and the JSON around its months.
const PART_HEAD: u64 = 1024;
/// Room for a month's key, date, `closed` and stock.
const MONTH_HEAD: u64 = 512;
/// `{"ledgerGuid":,"balance":}` and a comma around the GUID and the longest amount.
const ITEM_FRAME: u64 = 28 + 21;

/// Where each month's balances go: per month, (part index, at most this many items) in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PartPlan {
    pub count: u32,
    pub months: Vec<Vec<(u32, usize)>>,
}

/// The bytes of a value's JSON, without keeping the text.
pub fn json_len<T: serde::Serialize + ?Sized>(value: &T) -> u64 {
    struct Count(u64);
    impl std::io::Write for Count {
        fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
            self.0 += b.len() as u64;
            Ok(b.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    let mut c = Count(0);
    let _ = serde_json::to_writer(&mut c, value);
    c.0
}

/// The most one balance item of these ledgers takes in a part.
pub fn item_bytes(ledgers: &[LedgerRecord]) -> u64 {
    ledgers.iter().map(|l| json_len(&l.guid)).max().unwrap_or(2) + ITEM_FRAME
}

impl PartPlan {
    /// Packs the chart (part 0) and `months` months of at most `ledgers` items each into parts
    /// of at most `limit` bytes: whole months while they fit, a month's ledgers split across
    /// parts when it does not fit in one.
    pub fn new(
        limit: u64,
        chart_bytes: u64,
        item_bytes: u64,
        ledgers: usize,
        months: usize,
    ) -> Result<PartPlan, String> {
        let room = limit.saturating_sub(PART_HEAD);
        if chart_bytes > room {
            return Err(format!("the chart of accounts alone ({chart_bytes} bytes) is larger than the {limit} bytes the appliance accepts in one part; raise its `sync` limit"));
        }
        if room < MONTH_HEAD + item_bytes {
            return Err(format!(
                "the appliance's part limit ({limit} bytes) is too small for a month's balances"
            ));
        }
        let (mut part, mut free) = (0u32, room - chart_bytes);
        let mut plan = Vec::with_capacity(months);
        for _ in 0..months {
            let whole = MONTH_HEAD + ledgers as u64 * item_bytes;
            // A month that fits in a part of its own is not split across two.
            if whole > free && whole <= room {
                (part, free) = (part + 1, room);
            }
            let (mut left, mut chunks) = (ledgers, Vec::new());
            loop {
                if free < MONTH_HEAD + item_bytes.min(left as u64 * item_bytes) {
                    (part, free) = (part + 1, room);
                }
                let n = left.min(((free - MONTH_HEAD) / item_bytes) as usize);
                chunks.push((part, n));
                free -= MONTH_HEAD + n as u64 * item_bytes;
                left -= n;
                if left == 0 {
                    break;
                }
            }
            plan.push(chunks);
        }
        Ok(PartPlan {
            count: part + 1,
            months: plan,
        })
    }
}

/// Writes a sync's parts into the outbox as the months are read; nothing is queued until the
/// last month, and then every part at once.
pub struct PartsWriter<'o> {
    outbox: &'o Outbox,
    company_id: Option<String>,
    run: String,
    as_of: Option<String>,
    plan: PartPlan,
    /// The part being written.
    current: Option<OpenPart>,
    done: Vec<PathBuf>,
    months: Vec<String>,
    /// Months written so far (the plan's index of the next).
    next_month: usize,
}

struct OpenPart {
    index: u32,
    writer: PayloadWriter,
    /// Whether a month is in it yet (the next one follows a comma).
    has_month: bool,
}

/// One month to write.
pub struct MonthOut<'a> {
    pub key: &'a str,
    pub as_of: &'a str,
    pub closed: bool,
    pub stock: Option<&'a StockValues>,
}

impl<'o> PartsWriter<'o> {
    /// Starts part 0 with the chart of accounts.
    pub async fn begin(
        outbox: &'o Outbox,
        head: &PayloadHead<'_>,
        run: &str,
        plan: PartPlan,
    ) -> std::io::Result<PartsWriter<'o>> {
        let mut w = PartsWriter {
            outbox,
            company_id: head.company_id.map(str::to_string),
            run: run.to_string(),
            as_of: head.as_of_date.map(str::to_string),
            plan,
            current: None,
            done: Vec::new(),
            months: Vec::new(),
            next_month: 0,
        };
        let mut part = w.open(0).await?;
        part.raw(b",\"chartOfAccounts\":{");
        for (key, value) in [("source", head.source), ("generatedAt", head.generated_at)] {
            if let Some(v) = value {
                part.raw(format!("\"{key}\":").as_bytes());
                part.value(v)?;
                part.raw(b",");
            }
        }
        if let Some(c) = head.company {
            part.raw(b"\"company\":");
            part.value(c)?;
            part.raw(b",");
        }
        part.raw(b"\"groups\":");
        part.value(head.groups)?;
        part.raw(b",\"ledgers\":");
        part.value(head.ledgers)?;
        part.raw(b"},\"months\":[");
        w.current = Some(OpenPart {
            index: 0,
            writer: part,
            has_month: false,
        });
        Ok(w)
    }

    /// A part's file, with its fields up to (not including) the chart or the months.
    async fn open(&self, index: u32) -> std::io::Result<PayloadWriter> {
        let mut part = self.outbox.begin_raw(Some(&self.run)).await?;
        part.raw(b"{\"syncRunId\":");
        part.value(&self.run)?;
        if let Some(c) = &self.company_id {
            part.raw(b",\"companyId\":");
            part.value(c)?;
        }
        if let Some(d) = &self.as_of {
            part.raw(b",\"asOfDate\":");
            part.value(d)?;
        }
        let count = self.plan.count;
        part.raw(format!(",\"part\":{{\"index\":{index},\"count\":{count}}}").as_bytes());
        Ok(part)
    }

    /// Closes the part being written and opens the next, until `index` is the current one.
    async fn move_to(&mut self, index: u32) -> std::io::Result<()> {
        loop {
            let Some(open) = self.current.take() else {
                return Err(std::io::Error::other("the parts are already finished"));
            };
            if open.index == index {
                self.current = Some(open);
                return Ok(());
            }
            let mut done = open.writer;
            done.raw(b"]}");
            self.done.push(done.close().await?);
            let mut writer = self.open(open.index + 1).await?;
            writer.raw(b",\"months\":[");
            self.current = Some(OpenPart {
                index: open.index + 1,
                writer,
                has_month: false,
            });
        }
    }

    /// One month, in as many pieces as the plan gives it.
    pub async fn month<'a>(
        &mut self,
        m: &MonthOut<'_>,
        items: impl Iterator<Item = (&'a str, Amount)>,
    ) -> std::io::Result<()> {
        let chunks = self
            .plan
            .months
            .get(self.next_month)
            .cloned()
            .ok_or_else(|| std::io::Error::other("more months than planned"))?;
        self.next_month += 1;
        let mut items = items.peekable();
        for (index, n) in chunks {
            self.move_to(index).await?;
            let Some(open) = self.current.as_mut() else {
                return Err(std::io::Error::other("the parts are already finished"));
            };
            if std::mem::replace(&mut open.has_month, true) {
                open.writer.raw(b",");
            }
            let part = &mut open.writer;
            part.raw(b"{\"monthKey\":");
            part.value(m.key)?;
            part.raw(b",\"asOfDate\":");
            part.value(m.as_of)?;
            part.raw(format!(",\"closed\":{}", m.closed).as_bytes());
            if let Some(stock) = m.stock {
                part.raw(b",\"stock\":");
                part.value(stock)?;
            }
            part.raw(b",\"items\":");
            part.items(items.by_ref().take(n)).await?;
            part.raw(b"}");
        }
        if items.peek().is_some() {
            return Err(std::io::Error::other(format!(
                "month {} has more balances than ledgers",
                m.key
            )));
        }
        self.months.push(m.key.to_string());
        Ok(())
    }

    /// Ends the last part and queues every part, in order. Returns the last.
    pub async fn finish(mut self) -> std::io::Result<Pending> {
        self.move_to(self.plan.count - 1).await?;
        if let Some(open) = self.current.take() {
            let mut last = open.writer;
            last.raw(b"]}");
            self.done.push(last.close().await?);
        }
        let (dir, done, run, months) = (
            self.outbox.dir().to_path_buf(),
            std::mem::take(&mut self.done),
            self.run.clone(),
            std::mem::take(&mut self.months),
        );
        let queued = tokio::task::spawn_blocking(move || enqueue_parts(&dir, &done, &run, &months))
            .await
            .map_err(std::io::Error::other)??;
        queued
            .into_iter()
            .last()
            .ok_or_else(|| std::io::Error::other("no parts were written"))
    }
}

impl Drop for PartsWriter<'_> {
    /// Parts closed but never queued (a sync that failed half-way) are removed.
    fn drop(&mut self) {
        for tmp in &self.done {
            let _ = std::fs::remove_file(tmp);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn small_syncs_fit_in_one_part_and_large_months_are_split() {
        let one = PartPlan::new(1_000_000, 10_000, 60, 100, 13).unwrap();
        assert_eq!(one.count, 1);
        assert!(one.months.iter().all(|m| m == &vec![(0, 100)]));
        // 1,000 ledgers of 60 bytes: a month of about 60 KB, four whole months to a 250 KB part.
        let whole = PartPlan::new(250_000, 20_000, 60, 1000, 12).unwrap();
        assert!(whole.months.iter().all(|m| m.len() == 1 && m[0].1 == 1000));
        assert_eq!(whole.months[0][0].0, 0);
        assert!(whole.count > 3 && whole.count < 6, "{whole:?}");
        // A month larger than a part is spread over several, each within the limit.
        let split = PartPlan::new(20_000, 5_000, 60, 1000, 2).unwrap();
        for m in &split.months {
            assert_eq!(m.iter().map(|c| c.1).sum::<usize>(), 1000);
            assert!(m.windows(2).all(|w| w[0].0 < w[1].0));
        }
        let mut per_part = vec![0u64; split.count as usize];
        per_part[0] += 5_000;
        for (part, n) in split.months.iter().flatten() {
            per_part[*part as usize] += MONTH_HEAD + *n as u64 * 60;
        }
        assert!(
            per_part.iter().all(|b| *b + PART_HEAD <= 20_000),
            "{per_part:?}"
        );
        assert!(PartPlan::new(20_000, 19_500, 60, 10, 1).is_err());
    }
}
