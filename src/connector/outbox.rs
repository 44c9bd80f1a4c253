//! Payloads not yet delivered, kept on disk and delivered in order once the appliance is back.
//! Each is the exact gzip-compressed JSON that will be posted, written in one step, and
//! removed only after the appliance accepted it. Redelivery of one the appliance did store
//! (its answer lost on the way) replaces the same months with the same data: no duplicates.

use std::io::Write;
use std::path::{Path, PathBuf};

use flate2::write::GzEncoder;
use flate2::Compression;

use super::state::{write_atomically, TallyMarkers};
use serde::Serialize;

use crate::protocol::{Amount, CompanyFacts, GroupRecord, LedgerRecord, PartPosition, StockValues};

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
    /// For one part of a sync delivered in parts: which.
    pub part: Option<PartPosition>,
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
    pub async fn begin(&self, head: &PayloadHead<'_>) -> std::io::Result<PayloadWriter> {
        let mut w = self.begin_raw(head.sync_run_id).await?;
        w.head(head)?;
        w.pass_on(PIECE).await?;
        Ok(w)
    }

    /// A writer with nothing written yet: the caller writes the JSON (a part's).
    pub(crate) async fn begin_raw(&self, run: Option<&str>) -> std::io::Result<PayloadWriter> {
        let dir = self.dir.clone();
        let tmp = dir.join(format!("writing-{}.tmp", uuid::Uuid::new_v4()));
        let file = {
            let (dir, tmp) = (dir.clone(), tmp.clone());
            tokio::task::spawn_blocking(move || {
                std::fs::create_dir_all(&dir)?;
                std::fs::File::create(&tmp)
            })
            .await
            .map_err(std::io::Error::other)??
        };
        Ok(PayloadWriter::start(file, tmp, dir, run))
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
            let (run, part) = match run.split_once(".p") {
                Some((run, part)) => match parse_part(part) {
                    Some(part) => (run, Some(part)),
                    None => continue,
                },
                None => (run, None),
            };
            out.push(Pending {
                sync_run_id: (run != "norun").then(|| run.to_string()),
                path,
                sequence,
                part,
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
        p.remove_sidecars();
        Ok(())
    }

    /// The months a waiting payload carries, from the list written beside it.
    pub fn months_of(&self, p: &Pending) -> std::io::Result<Vec<String>> {
        let text = std::fs::read_to_string(p.sidecar("months"))?;
        Ok(text.lines().map(str::to_string).collect())
    }

    /// Keeps Tally's change markers beside a waiting payload until the appliance accepts it.
    pub fn set_markers(&self, p: &Pending, markers: &TallyMarkers) -> std::io::Result<()> {
        let text = serde_json::to_vec(markers).map_err(std::io::Error::other)?;
        write_atomically(&p.sidecar("markers"), &text, false)
    }

    /// The markers a payload was read with; `None` when they were never written (a crash right
    /// after the payload was queued, an older connector): delivering it then records nothing,
    /// and the next sync reads Tally in full.
    pub fn markers_of(&self, p: &Pending) -> Option<TallyMarkers> {
        let text = std::fs::read(p.sidecar("markers")).ok()?;
        serde_json::from_slice(&text).ok()
    }

    /// Moves a payload the appliance will never accept out of the way, with the reason beside it.
    pub fn reject(&self, p: &Pending, reason: &str) -> std::io::Result<PathBuf> {
        let dir = self.dir.join("rejected");
        std::fs::create_dir_all(&dir)?;
        let target = dir.join(p.path.file_name().unwrap_or_default());
        std::fs::rename(&p.path, &target)?;
        p.remove_sidecars();
        std::fs::write(target.with_extension("reason.txt"), reason)?;
        Ok(target)
    }
}

/// `3of7` in a part's file name.
fn parse_part(text: &str) -> Option<PartPosition> {
    let (index, count) = text.split_once("of")?;
    Some(PartPosition {
        index: index.parse().ok()?,
        count: count.parse().ok()?,
    })
}

impl Pending {
    /// A file kept beside the payload: `0000000001-run.json.gz` has `0000000001-run.months`.
    fn sidecar(&self, extension: &str) -> PathBuf {
        self.path.with_extension("").with_extension(extension)
    }

    fn remove_sidecars(&self) {
        for extension in ["months", "markers"] {
            let _ = std::fs::remove_file(self.sidecar(extension));
        }
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
///
/// The JSON text is made here, in pieces of at most [`PIECE`] bytes; compressing and writing
/// them happen on a blocking thread (`file_writer`), so the agent's runtime stays free for
/// heartbeats during a long sync. The bounded channel between the two keeps memory flat: a
/// slow disk slows the reading, it does not pile up text.
pub struct PayloadWriter {
    /// JSON text not yet handed to the file writer.
    buf: Vec<u8>,
    /// `None` once finished.
    to_file: Option<tokio::sync::mpsc::Sender<Piece>>,
    file_writer: Option<tokio::task::JoinHandle<std::io::Result<()>>>,
    tmp: PathBuf,
    dir: PathBuf,
    sync_run_id: Option<String>,
    months: Vec<String>,
}

/// What the file writer is told: more text, or that the payload is complete. A writer that
/// stops hearing from its `PayloadWriter` without `End` (an error, a stop) removes its file.
enum Piece {
    Text(Vec<u8>),
    End,
}

/// Text is handed to the file writer in pieces of about this size: a few milliseconds of
/// making JSON between two chances for other tasks to run.
const PIECE: usize = 64 * 1024;

fn json<T: Serialize + ?Sized>(w: &mut impl Write, value: &T) -> std::io::Result<()> {
    serde_json::to_writer(w, value).map_err(std::io::Error::other)
}

/// The blocking end: compresses what arrives into `tmp`, and on `End` flushes it to disk.
fn write_file(
    file: std::fs::File,
    tmp: &Path,
    mut pieces: tokio::sync::mpsc::Receiver<Piece>,
) -> std::io::Result<()> {
    let mut gz = GzEncoder::new(std::io::BufWriter::new(file), Compression::fast());
    let mut ended = false;
    let mut failed = None;
    while let Some(piece) = pieces.blocking_recv() {
        match piece {
            Piece::Text(t) => {
                if let Err(e) = gz.write_all(&t) {
                    failed = Some(e);
                    break;
                }
            }
            Piece::End => {
                ended = true;
                break;
            }
        }
    }
    let written = match failed {
        Some(e) => Err(e),
        None if !ended => Err(std::io::Error::other("the payload was abandoned")),
        None => gz
            .finish()
            .and_then(|w| w.into_inner().map_err(|e| e.into_error()))
            .and_then(|f| f.sync_all()),
    };
    if written.is_err() {
        let _ = std::fs::remove_file(tmp);
    }
    written
}

impl PayloadWriter {
    fn start(file: std::fs::File, tmp: PathBuf, dir: PathBuf, run: Option<&str>) -> Self {
        let (to_file, pieces) = tokio::sync::mpsc::channel(2);
        let path = tmp.clone();
        let file_writer = tokio::task::spawn_blocking(move || write_file(file, &path, pieces));
        PayloadWriter {
            buf: Vec::with_capacity(PIECE + 4096),
            to_file: Some(to_file),
            file_writer: Some(file_writer),
            tmp,
            dir,
            sync_run_id: run.map(str::to_string),
            months: Vec::new(),
        }
    }

    /// Waits for the file writer to end and says how it went (it ends well only after `End`).
    async fn file_written(&mut self) -> std::io::Result<()> {
        self.to_file = None;
        match self.file_writer.take() {
            Some(h) => h.await.map_err(std::io::Error::other)?,
            None => Err(std::io::Error::other("the payload is already finished")),
        }
    }

    /// Hands the text made so far to the file writer once there is a piece's worth.
    async fn pass_on(&mut self, at_least: usize) -> std::io::Result<()> {
        if self.buf.len() < at_least {
            return Ok(());
        }
        let text = std::mem::replace(&mut self.buf, Vec::with_capacity(PIECE + 4096));
        let sent = match &self.to_file {
            Some(to_file) => to_file.send(Piece::Text(text)).await.is_ok(),
            None => false,
        };
        if sent {
            // Making the text is work on the runtime too: let a heartbeat in between pieces.
            tokio::task::yield_now().await;
            return Ok(());
        }
        // The file writer has stopped: its error says why.
        self.file_written().await?;
        Err(std::io::Error::other("the payload is already finished"))
    }

    /// JSON text as it is.
    pub(crate) fn raw(&mut self, text: &[u8]) {
        self.buf.extend_from_slice(text);
    }

    /// A value as JSON.
    pub(crate) fn value<T: Serialize + ?Sized>(&mut self, value: &T) -> std::io::Result<()> {
        json(&mut self.buf, value)
    }

    /// A month's `items` array, handed on as it grows.
    pub(crate) async fn items<'a>(
        &mut self,
        items: impl Iterator<Item = (&'a str, Amount)>,
    ) -> std::io::Result<()> {
        self.buf.write_all(b"[")?;
        for (i, (ledger_guid, balance)) in items.enumerate() {
            if i > 0 {
                self.buf.write_all(b",")?;
            }
            let item = ItemRef {
                ledger_guid,
                balance,
            };
            json(&mut self.buf, &item)?;
            self.pass_on(PIECE).await?;
        }
        self.buf.write_all(b"]")
    }

    /// Ends the file (not yet queued): its temporary path.
    pub(crate) async fn close(mut self) -> std::io::Result<PathBuf> {
        self.pass_on(0).await?;
        if let Some(to_file) = &self.to_file {
            let _ = to_file.send(Piece::End).await;
        }
        self.file_written().await?;
        Ok(self.tmp.clone())
    }

    fn head(&mut self, h: &PayloadHead<'_>) -> std::io::Result<()> {
        let w = &mut self.buf;
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

    async fn write_month<'a>(
        &mut self,
        key: &str,
        as_of: &str,
        stock: Option<&StockValues>,
        items: impl Iterator<Item = (&'a str, Amount)>,
    ) -> std::io::Result<()> {
        self.buf.write_all(b"{\"monthKey\":")?;
        json(&mut self.buf, key)?;
        self.buf.write_all(b",\"asOfDate\":")?;
        json(&mut self.buf, as_of)?;
        if let Some(stock) = stock {
            self.buf.write_all(b",\"stock\":")?;
            json(&mut self.buf, stock)?;
        }
        self.buf.write_all(b",\"items\":")?;
        self.items(items).await?;
        self.buf.write_all(b"}")?;
        self.months.push(key.to_string());
        Ok(())
    }

    /// One closed month, with its stock value when the company has one.
    pub async fn month<'a>(
        &mut self,
        key: &str,
        as_of: &str,
        stock: Option<&StockValues>,
        items: impl Iterator<Item = (&'a str, Amount)>,
    ) -> std::io::Result<()> {
        if !self.months.is_empty() {
            self.buf.write_all(b",")?;
        }
        self.write_month(key, as_of, stock, items).await
    }

    /// The current month ends the payload, which then joins the queue in one step.
    pub async fn finish<'a>(
        mut self,
        key: &str,
        as_of: &str,
        stock: Option<&StockValues>,
        items: impl Iterator<Item = (&'a str, Amount)>,
    ) -> std::io::Result<Pending> {
        self.buf.write_all(b"],\"current\":")?;
        self.write_month(key, as_of, stock, items).await?;
        self.buf.write_all(b"}}}")?;
        self.pass_on(0).await?;
        if let Some(to_file) = &self.to_file {
            // Should the writer have stopped meanwhile, its result below says why.
            let _ = to_file.send(Piece::End).await;
        }
        self.file_written().await?;
        let (dir, tmp, run, months) = (
            self.dir.clone(),
            self.tmp.clone(),
            self.sync_run_id.clone(),
            std::mem::take(&mut self.months),
        );
        tokio::task::spawn_blocking(move || enqueue(&dir, &tmp, run, &months))
            .await
            .map_err(std::io::Error::other)?
    }
}

/// Puts a finished payload file into the queue, after the payloads already waiting.
fn enqueue(
    dir: &Path,
    tmp: &Path,
    sync_run_id: Option<String>,
    months: &[String],
) -> std::io::Result<Pending> {
    let outbox = Outbox {
        dir: dir.to_path_buf(),
    };
    let sequence = outbox.pending()?.last().map_or(1, |p| p.sequence + 1);
    enqueue_as(dir, tmp, sequence, sync_run_id, None, months)
}

/// Puts the finished parts of one sync into the queue, in order, after the payloads already
/// waiting. Each part's list of months is the whole sync's: the parts of a sync are superseded
/// together or not at all.
pub(crate) fn enqueue_parts(
    dir: &Path,
    tmps: &[PathBuf],
    sync_run_id: &str,
    months: &[String],
) -> std::io::Result<Vec<Pending>> {
    let outbox = Outbox {
        dir: dir.to_path_buf(),
    };
    let first = outbox.pending()?.last().map_or(1, |p| p.sequence + 1);
    let count = tmps.len() as u32;
    let mut out = Vec::with_capacity(tmps.len());
    for (i, tmp) in tmps.iter().enumerate() {
        let part = PartPosition {
            index: i as u32,
            count,
        };
        let run = Some(sync_run_id.to_string());
        out.push(enqueue_as(
            dir,
            tmp,
            first + i as u64,
            run,
            Some(part),
            months,
        )?);
    }
    Ok(out)
}

fn enqueue_as(
    dir: &Path,
    tmp: &Path,
    sequence: u64,
    sync_run_id: Option<String>,
    part: Option<PartPosition>,
    months: &[String],
) -> std::io::Result<Pending> {
    let run = sync_run_id.as_deref().unwrap_or("norun");
    let name = match part {
        Some(p) => format!("{sequence:010}-{run}.p{}of{}", p.index, p.count),
        None => format!("{sequence:010}-{run}"),
    };
    // The months beside it, so that a later payload can tell whether it supersedes this one.
    write_atomically(
        &dir.join(format!("{name}.months")),
        months.join("\n").as_bytes(),
        false,
    )?;
    let path = dir.join(format!("{name}.json.gz"));
    std::fs::rename(tmp, &path)?;
    Ok(Pending {
        path,
        sequence,
        sync_run_id,
        part,
    })
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
    async fn push(outbox: &Outbox, payload: &SyncPayload) -> std::io::Result<Pending> {
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
        let mut w = outbox.begin(&head).await?;
        for m in &b.closed_months {
            w.month(
                &m.month_key,
                &m.as_of_date,
                m.stock.as_ref(),
                m.items.iter().map(|i| (i.ledger_guid.as_str(), i.balance)),
            )
            .await?;
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
        .await
    }

    #[tokio::test]
    async fn a_streamed_payload_reads_back_as_the_payload() {
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
        let first = push(&outbox, &payload).await.unwrap();
        let second = push(&outbox, &payload).await.unwrap();
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

    /// A payload head with no chart: the balances are what these tests are about.
    fn head() -> PayloadHead<'static> {
        PayloadHead {
            company_id: Some("c"),
            sync_run_id: None,
            as_of_date: Some("2026-03-15"),
            source: Some("tally"),
            generated_at: None,
            company: None,
            groups: &[],
            ledgers: &[],
        }
    }

    #[tokio::test]
    async fn a_payload_of_many_pieces_reads_back_whole() {
        let dir = tempfile::tempdir().unwrap();
        let outbox = Outbox::new(dir.path());
        let guids: Vec<String> = (0..30_000).map(|i| format!("ledger-{i:06}")).collect();
        let items = || {
            guids
                .iter()
                .enumerate()
                .map(|(i, g)| (g.as_str(), Amount::from_paise(i as i64 - 15_000)))
        };
        let mut w = outbox.begin(&head()).await.unwrap();
        w.month("2026-02", "2026-02-28", None, items())
            .await
            .unwrap();
        let queued = w
            .finish("2026-03", "2026-03-15", None, items())
            .await
            .unwrap();
        let mut text = Vec::new();
        flate2::read::GzDecoder::new(&outbox.read(&queued).unwrap()[..])
            .read_to_end(&mut text)
            .unwrap();
        assert!(text.len() > 4 * PIECE, "{} bytes", text.len());
        let back: SyncPayload = serde_json::from_slice(&text).unwrap();
        let b = &back.chart_of_accounts.balances;
        assert_eq!(b.closed_months[0].items.len(), 30_000);
        assert_eq!(b.current.items[29_999].ledger_guid, "ledger-029999");
        assert_eq!(b.current.items[0].balance, Amount::from_paise(-15_000));
    }

    #[tokio::test]
    async fn an_abandoned_payload_leaves_no_file_behind() {
        let dir = tempfile::tempdir().unwrap();
        let outbox = Outbox::new(dir.path());
        let mut w = outbox.begin(&head()).await.unwrap();
        w.month(
            "2026-02",
            "2026-02-28",
            None,
            [("l", Amount::from_paise(1))].into_iter(),
        )
        .await
        .unwrap();
        drop(w);
        // The file writer notices on its own thread; bounded, so a leak fails the test.
        let mut left = usize::MAX;
        for _ in 0..100 {
            left = std::fs::read_dir(outbox.dir()).unwrap().count();
            if left == 0 {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
        assert_eq!(left, 0, "the half-written file is removed");
        assert!(outbox.pending().unwrap().is_empty());
    }

    /// Compressing and writing a big payload happen off the runtime: a task on the same
    /// (single-threaded) runtime, as the agent's heartbeat is, keeps its ticks meanwhile.
    #[tokio::test(flavor = "current_thread")]
    async fn writing_a_big_payload_leaves_the_runtime_free() {
        let dir = tempfile::tempdir().unwrap();
        let outbox = Outbox::new(dir.path());
        let guids: Vec<String> = (0..100_000).map(|i| format!("ledger-{i:06}")).collect();
        let period = std::time::Duration::from_millis(50);
        let ticks = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let counter = ticks.clone();
        let ticker = tokio::spawn(async move {
            let mut tick = tokio::time::interval(period);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
            loop {
                tick.tick().await;
                counter.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            }
        });
        tokio::task::yield_now().await;
        let started = std::time::Instant::now();
        let from = ticks.load(std::sync::atomic::Ordering::Relaxed);
        let items = || {
            guids
                .iter()
                .map(|g| (g.as_str(), Amount::from_paise(12_345)))
        };
        let mut w = outbox.begin(&head()).await.unwrap();
        for m in 1..=3 {
            w.month(&format!("2026-0{m}"), "2026-01-31", None, items())
                .await
                .unwrap();
        }
        w.finish("2026-04", "2026-04-15", None, items())
            .await
            .unwrap();
        let ticks = ticks.load(std::sync::atomic::Ordering::Relaxed) - from;
        let periods = (started.elapsed().as_millis() / period.as_millis()) as usize;
        ticker.abort();
        assert!(periods >= 4, "too quick to tell: {periods} periods");
        // Generous, for a busy machine: a runtime blocked by the writing would see about none.
        assert!(ticks * 2 >= periods, "{ticks} ticks in {periods} periods");
    }
}
