//! Payloads not yet delivered, kept on disk and delivered in order once the appliance is back.
//! Each is the exact gzip-compressed JSON that will be posted, written in one step, and
//! removed only after the appliance accepted it. Redelivery of one the appliance did store
//! (its answer lost on the way) replaces the same months with the same data: no duplicates.

use std::io::Write;
use std::path::{Path, PathBuf};

use flate2::write::GzEncoder;
use flate2::Compression;

use super::state::write_atomically;
use serde::Serialize;

use crate::protocol::{Amount, CompanyFacts, GroupRecord, LedgerRecord, StockValues};

pub const OUTBOX_DIR: &str = "outbox";

pub struct Outbox {
    dir: PathBuf,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pending {
    pub path: PathBuf,
    pub sequence: u64,
    /// The sync run the payload was extracted in.
    pub sync_run_id: Option<String>,
}

impl Outbox {
    pub fn new(home: &Path) -> Outbox {
        Outbox {
            dir: home.join(OUTBOX_DIR),
        }
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Starts writing a payload straight into the outbox, a month at a time, so that a big
    /// company's balances never sit in memory all at once. Nothing is queued until `finish`.
    pub fn begin(&self, head: &PayloadHead<'_>) -> std::io::Result<PayloadWriter> {
        std::fs::create_dir_all(&self.dir)?;
        let tmp = self
            .dir
            .join(format!("writing-{}.tmp", uuid::Uuid::new_v4()));
        // Buffered in front of the compressor: JSON arrives in pieces of a few bytes.
        let file = std::fs::File::create(&tmp)?;
        let mut w = PayloadWriter {
            gz: Some(std::io::BufWriter::with_capacity(
                256 * 1024,
                GzEncoder::new(file, Compression::fast()),
            )),
            tmp,
            dir: self.dir.clone(),
            sync_run_id: head.sync_run_id.map(str::to_string),
            months: Vec::new(),
        };
        w.head(head)?;
        Ok(w)
    }

    /// Waiting payloads, oldest first.
    pub fn pending(&self) -> std::io::Result<Vec<Pending>> {
        let entries = match std::fs::read_dir(&self.dir) {
            Ok(e) => e,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(e),
        };
        let mut out = Vec::new();
        for entry in entries {
            let path = entry?.path();
            let Some(name) = path
                .file_name()
                .and_then(|n| n.to_str())
                .and_then(|n| n.strip_suffix(".json.gz"))
            else {
                continue;
            };
            let Some((seq, run)) = name.split_once('-') else {
                continue;
            };
            let Ok(sequence) = seq.parse() else { continue };
            out.push(Pending {
                sync_run_id: (run != "norun").then(|| run.to_string()),
                path,
                sequence,
            });
        }
        out.sort_by_key(|p| p.sequence);
        Ok(out)
    }

    pub fn read(&self, p: &Pending) -> std::io::Result<Vec<u8>> {
        std::fs::read(&p.path)
    }

    pub fn delivered(&self, p: &Pending) -> std::io::Result<()> {
        std::fs::remove_file(&p.path)?;
        let _ = std::fs::remove_file(p.path.with_extension("").with_extension("months"));
        Ok(())
    }

    /// The months a waiting payload carries, from the list written beside it.
    pub fn months_of(&self, p: &Pending) -> std::io::Result<Vec<String>> {
        let text = std::fs::read_to_string(p.path.with_extension("").with_extension("months"))?;
        Ok(text.lines().map(str::to_string).collect())
    }

    /// Moves a payload the appliance will never accept out of the way, with the reason beside it.
    pub fn reject(&self, p: &Pending, reason: &str) -> std::io::Result<PathBuf> {
        let dir = self.dir.join("rejected");
        std::fs::create_dir_all(&dir)?;
        let target = dir.join(p.path.file_name().unwrap_or_default());
        std::fs::rename(&p.path, &target)?;
        let _ = std::fs::remove_file(p.path.with_extension("").with_extension("months"));
        std::fs::write(target.with_extension("reason.txt"), reason)?;
        Ok(target)
    }
}

/// Everything of a payload but its month balances.
pub struct PayloadHead<'a> {
    pub company_id: Option<&'a str>,
    pub sync_run_id: Option<&'a str>,
    pub as_of_date: Option<&'a str>,
    pub source: Option<&'a str>,
    pub generated_at: Option<&'a str>,
    pub company: Option<&'a CompanyFacts>,
    pub groups: &'a [GroupRecord],
    pub ledgers: &'a [LedgerRecord],
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct ItemRef<'a> {
    ledger_guid: &'a str,
    balance: Amount,
}

/// Writes the payload's JSON into a gzip file as the parts arrive. JSON does not care about
/// key order, so the closed months come before the current one, in reading order.
pub struct PayloadWriter {
    /// `None` once finished.
    gz: Option<std::io::BufWriter<GzEncoder<std::fs::File>>>,
    tmp: PathBuf,
    dir: PathBuf,
    sync_run_id: Option<String>,
    months: Vec<String>,
}

fn json<T: Serialize + ?Sized>(w: &mut impl Write, value: &T) -> std::io::Result<()> {
    serde_json::to_writer(w, value).map_err(std::io::Error::other)
}

impl PayloadWriter {
    fn out(&mut self) -> std::io::Result<&mut std::io::BufWriter<GzEncoder<std::fs::File>>> {
        self.gz
            .as_mut()
            .ok_or_else(|| std::io::Error::other("the payload is already finished"))
    }

    fn head(&mut self, h: &PayloadHead<'_>) -> std::io::Result<()> {
        let w = self.out()?;
        w.write_all(b"{")?;
        for (key, value) in [
            ("companyId", h.company_id),
            ("syncRunId", h.sync_run_id),
            ("asOfDate", h.as_of_date),
        ] {
            if let Some(v) = value {
                write!(w, "\"{key}\":")?;
                json(w, v)?;
                w.write_all(b",")?;
            }
        }
        w.write_all(b"\"chartOfAccounts\":{")?;
        for (key, value) in [("source", h.source), ("generatedAt", h.generated_at)] {
            if let Some(v) = value {
                write!(w, "\"{key}\":")?;
                json(w, v)?;
                w.write_all(b",")?;
            }
        }
        if let Some(c) = h.company {
            w.write_all(b"\"company\":")?;
            json(w, c)?;
            w.write_all(b",")?;
        }
        w.write_all(b"\"groups\":")?;
        json(w, h.groups)?;
        w.write_all(b",\"ledgers\":")?;
        json(w, h.ledgers)?;
        w.write_all(b",\"balances\":{\"closedMonths\":[")
    }

    fn write_month<'a>(
        &mut self,
        key: &str,
        as_of: &str,
        stock: Option<&StockValues>,
        items: impl Iterator<Item = (&'a str, Amount)>,
    ) -> std::io::Result<()> {
        let w = self.out()?;
        w.write_all(b"{\"monthKey\":")?;
        json(w, key)?;
        w.write_all(b",\"asOfDate\":")?;
        json(w, as_of)?;
        if let Some(stock) = stock {
            w.write_all(b",\"stock\":")?;
            json(w, stock)?;
        }
        w.write_all(b",\"items\":[")?;
        for (i, (ledger_guid, balance)) in items.enumerate() {
            if i > 0 {
                w.write_all(b",")?;
            }
            json(
                w,
                &ItemRef {
                    ledger_guid,
                    balance,
                },
            )?;
        }
        w.write_all(b"]}")?;
        self.months.push(key.to_string());
        Ok(())
    }

    /// One closed month, with its stock value when the company has one.
    pub fn month<'a>(
        &mut self,
        key: &str,
        as_of: &str,
        stock: Option<&StockValues>,
        items: impl Iterator<Item = (&'a str, Amount)>,
    ) -> std::io::Result<()> {
        if !self.months.is_empty() {
            self.out()?.write_all(b",")?;
        }
        self.write_month(key, as_of, stock, items)
    }

    /// The current month ends the payload, which then joins the queue in one step.
    pub fn finish<'a>(
        mut self,
        key: &str,
        as_of: &str,
        stock: Option<&StockValues>,
        items: impl Iterator<Item = (&'a str, Amount)>,
    ) -> std::io::Result<Pending> {
        self.out()?.write_all(b"],\"current\":")?;
        self.write_month(key, as_of, stock, items)?;
        self.out()?.write_all(b"}}}")?;
        let gz = self
            .gz
            .take()
            .ok_or_else(|| std::io::Error::other("the payload is already finished"))?;
        let file = gz.into_inner().map_err(|e| e.into_error())?.finish()?;
        file.sync_all()?;
        drop(file);
        let outbox = Outbox {
            dir: self.dir.clone(),
        };
        let sequence = outbox.pending()?.last().map_or(1, |p| p.sequence + 1);
        let name = format!(
            "{sequence:010}-{}",
            self.sync_run_id.as_deref().unwrap_or("norun")
        );
        // The months beside it, so that a later payload can tell whether it supersedes this one.
        write_atomically(
            &self.dir.join(format!("{name}.months")),
            self.months.join("\n").as_bytes(),
            false,
        )?;
        let path = self.dir.join(format!("{name}.json.gz"));
        std::fs::rename(&self.tmp, &path)?;
        Ok(Pending {
            path,
            sequence,
            sync_run_id: self.sync_run_id.clone(),
        })
    }
}

impl Drop for PayloadWriter {
    fn drop(&mut self) {
        // Abandoned halfway (an error, a stop): leave no half-written file behind.
        let _ = std::fs::remove_file(&self.tmp);
    }
}

pub fn gzip(bytes: &[u8]) -> std::io::Result<Vec<u8>> {
    let mut gz = GzEncoder::new(Vec::with_capacity(bytes.len() / 8), Compression::fast());
    gz.write_all(bytes)?;
    gz.finish()
}

/// The same payload without its run id (for a run the appliance has closed meanwhile).
pub fn without_run_id(gzip_json: &[u8]) -> std::io::Result<Vec<u8>> {
    use std::io::Read;
    let mut text = Vec::new();
    flate2::read::GzDecoder::new(gzip_json).read_to_end(&mut text)?;
    let mut value: serde_json::Value =
        serde_json::from_slice(&text).map_err(std::io::Error::other)?;
    if let Some(obj) = value.as_object_mut() {
        obj.remove("syncRunId");
    }
    gzip(&serde_json::to_vec(&value).map_err(std::io::Error::other)?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::SyncPayload;
    use std::io::Read;

    /// A whole payload in memory, through the writer, the way the connector streams one.
    fn push(outbox: &Outbox, payload: &SyncPayload) -> std::io::Result<Pending> {
        let c = &payload.chart_of_accounts;
        let head = PayloadHead {
            company_id: payload.company_id.as_deref(),
            sync_run_id: payload.sync_run_id.as_deref(),
            as_of_date: payload.as_of_date.as_deref(),
            source: c.source.as_deref(),
            generated_at: c.generated_at.as_deref(),
            company: c.company.as_ref(),
            groups: &c.groups,
            ledgers: &c.ledgers,
        };
        let b = &c.balances;
        let mut w = outbox.begin(&head)?;
        for m in &b.closed_months {
            w.month(
                &m.month_key,
                &m.as_of_date,
                m.stock.as_ref(),
                m.items.iter().map(|i| (i.ledger_guid.as_str(), i.balance)),
            )?;
        }
        w.finish(
            &b.current.month_key,
            &b.current.as_of_date,
            b.current.stock.as_ref(),
            b.current
                .items
                .iter()
                .map(|i| (i.ledger_guid.as_str(), i.balance)),
        )
    }

    #[test]
    fn a_streamed_payload_reads_back_as_the_payload() {
        let dir = tempfile::tempdir().unwrap();
        let outbox = Outbox::new(dir.path());
        let payload: SyncPayload = serde_json::from_value(serde_json::json!({
            "companyId": "c", "syncRunId": "run-1", "asOfDate": "2026-03-15",
            "chartOfAccounts": {
                "source": "tally", "company": {"tallyCompanyName": "A & B"},
                "groups": [{"name": "G", "parent": "Primary", "guid": "g"}],
                "ledgers": [{"guid": "l1", "name": "L \"1\"", "parent": "G"}, {"guid": "l2", "name": "L2", "parent": "G"}],
                "balances": {
                    "current": {"monthKey": "2026-03", "asOfDate": "2026-03-15", "items": [{"ledgerGuid": "l1", "balance": 10.5}, {"ledgerGuid": "l2", "balance": -10.5}]},
                    "closedMonths": [
                        {"monthKey": "2026-01", "asOfDate": "2026-01-31", "items": []},
                        {"monthKey": "2026-02", "asOfDate": "2026-02-28", "items": [{"ledgerGuid": "l1", "balance": 0.01}, {"ledgerGuid": "l2", "balance": -0.01}]}
                    ]
                }
            }
        }))
        .unwrap();
        let first = push(&outbox, &payload).unwrap();
        let second = push(&outbox, &payload).unwrap();
        assert_eq!((first.sequence, second.sequence), (1, 2));
        assert_eq!(first.sync_run_id.as_deref(), Some("run-1"));
        let mut text = Vec::new();
        flate2::read::GzDecoder::new(&outbox.read(&first).unwrap()[..])
            .read_to_end(&mut text)
            .unwrap();
        let back: SyncPayload = serde_json::from_slice(&text).unwrap();
        assert_eq!(
            serde_json::to_value(&back).unwrap(),
            serde_json::to_value(&payload).unwrap()
        );
        assert_eq!(
            outbox.months_of(&first).unwrap(),
            ["2026-01", "2026-02", "2026-03"]
        );
        outbox.delivered(&first).unwrap();
        assert_eq!(outbox.pending().unwrap(), vec![second]);
        assert!(std::fs::read_dir(dir.path().join("outbox"))
            .unwrap()
            .all(|e| !e.unwrap().file_name().to_string_lossy().ends_with(".tmp")));
    }
}
