//! Talking to Tally over HTTP. Answers are parsed as they stream in, on the blocking pool, and
//! every failure becomes one of a few [`TallyError`]s whose messages a bookkeeper can act on.

use std::io::Read;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures_util::TryStreamExt;
use reqwest::header::CONTENT_TYPE;
use time::Date;
use tokio_util::io::{StreamReader, SyncIoBridge};

use super::encoding::{utf8_reader, TextEncoding};
use super::lock::TallyLock;
use super::records::{
    AlteredVoucher, LedgerBalance, RecordError, StockRow, TallyCompany, TallyGroup, TallyLedger,
};
use super::request::{build, BalanceForm, Query, Scope};
use super::xml::{read_answer, AnswerError, Element};

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TallyError {
    #[error(
        "Tally is not answering at {url}. Check that Tally is running with a company open and that its \
         XML port is on: in TallyPrime, F1 Help > Settings > Connectivity, 'TallyPrime acts as' Server or Both, \
         port 9000; in Tally.ERP 9, F12 Configure > Advanced Configuration, 'Tally.ERP 9 is acting as' Server or Both, \
         port 9000. Restart Tally after changing it."
    )]
    NotRunning { url: String },
    #[error("Tally at {url} did not answer within {secs} s; it may be busy with a report or a backup. The next sync will try again.")]
    Timeout { url: String, secs: u64 },
    #[error("The company `{company}` is not open in Tally. Open it in Tally (F3: Select Company), or choose the company to read with the connector's setup. Tally said: {tally_message}")]
    CompanyNotOpen {
        company: String,
        tally_message: String,
    },
    #[error("Tally refused the request: {message}")]
    Refused { message: String },
    #[error("Tally's answer could not be read ({detail}). If this keeps happening, send the connector's logs to support.")]
    Unreadable { detail: String },
    /// Tally answered, but one of its records cannot be taken as it is.
    #[error("{message}")]
    Data { message: String },
    /// A balance answer without some ledgers' closing balances: never read as zero.
    #[error("Tally's answer for the balances at {at} left out the closing balance of {missing} of {total} ledgers ({names}). Nothing of this sync was sent. Try again; if it happens again, send the connector's logs to support.")]
    Incomplete {
        at: String,
        missing: usize,
        total: usize,
        names: String,
    },
    /// Neither request form made Tally say it computed the balances at the date asked for.
    #[error("Tally did not confirm that it computed the balances at {at} ({detail}). Nothing of this sync was sent, so no month was stored with numbers of another day. The Tally at {url} names itself `{product}`: send support that name with its release (TallyPrime: Help > About; Tally.ERP 9: the release on the Gateway of Tally screen) and the connector's logs.")]
    DateUnconfirmed {
        at: String,
        detail: String,
        url: String,
        product: String,
    },
}

impl TallyError {
    /// A short machine-readable kind for logs and heartbeats.
    pub fn kind(&self) -> &'static str {
        match self {
            TallyError::NotRunning { .. } => "tally_not_running",
            TallyError::Timeout { .. } => "tally_timeout",
            TallyError::CompanyNotOpen { .. } => "company_not_open",
            TallyError::Refused { .. } => "tally_error",
            TallyError::Unreadable { .. } => "tally_unreadable",
            TallyError::Data { .. } => "tally_data",
            TallyError::Incomplete { .. } => "tally_incomplete",
            TallyError::DateUnconfirmed { .. } => "tally_date_unconfirmed",
        }
    }
}

#[derive(Clone)]
pub struct TallyClient {
    http: reqwest::Client,
    url: String,
    encoding: TextEncoding,
    timeout: Duration,
    /// What Tally's greeting last named, for messages that must say which Tally it was.
    product_seen: Arc<Mutex<Option<String>>>,
    /// One request in flight to this Tally across every connector process on the PC.
    lock: TallyLock,
}

/// Remembers the I/O error behind a failed read, which the XML layer only reports as text.
struct Watched<R> {
    inner: R,
    failure: Arc<Mutex<Option<std::io::Error>>>,
}

impl<R: Read> Read for Watched<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        self.inner.read(buf).inspect_err(|e| {
            if let Ok(mut f) = self.failure.lock() {
                f.get_or_insert_with(|| std::io::Error::new(e.kind(), e.to_string()));
            }
        })
    }
}

impl TallyClient {
    /// `url` as in config.json (`http://localhost:9000`); `timeout` bounds one whole answer.
    pub fn new(url: &str, timeout: Duration) -> Result<TallyClient, TallyError> {
        let http = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(5).min(timeout))
            .timeout(timeout)
            .no_proxy()
            .build()
            .map_err(|e| TallyError::Unreadable {
                detail: format!("HTTP client: {e}"),
            })?;
        let url = url.trim_end_matches('/').to_string();
        Ok(TallyClient {
            http,
            lock: TallyLock::for_url(&url),
            url,
            encoding: TextEncoding::Utf16Le,
            timeout,
            product_seen: Arc::new(Mutex::new(None)),
        })
    }

    /// UTF-16LE (the default) keeps the rupee sign and Indic names intact; UTF-8 is smaller.
    pub fn with_encoding(mut self, encoding: TextEncoding) -> Self {
        self.encoding = encoding;
        self
    }

    pub fn url(&self) -> &str {
        &self.url
    }

    /// The product Tally's greeting named last, if it has been asked.
    pub fn last_product(&self) -> Option<String> {
        self.product_seen.lock().ok().and_then(|p| p.clone())
    }

    fn send_error(&self, e: reqwest::Error) -> TallyError {
        if e.is_timeout() {
            TallyError::Timeout {
                url: self.url.clone(),
                secs: self.timeout.as_secs(),
            }
        } else if e.is_connect() {
            TallyError::NotRunning {
                url: self.url.clone(),
            }
        } else {
            TallyError::Unreadable {
                detail: format!("the connection failed before an answer came: {e}"),
            }
        }
    }

    /// Which program answers: Tally's port greets a GET with "<product> Server is Running".
    pub async fn product(&self) -> Result<String, TallyError> {
        let turn = self.lock.acquire().await;
        let res = self
            .http
            .get(&self.url)
            .send()
            .await
            .map_err(|e| self.send_error(e))?;
        let body = res.bytes().await.map_err(|e| self.send_error(e))?;
        drop(turn);
        let mut text = String::new();
        utf8_reader(&body[..], None)
            .and_then(|mut r| r.read_to_string(&mut text))
            .map_err(|e| TallyError::Unreadable {
                detail: e.to_string(),
            })?;
        let text = super::xml::clean_text(
            text.trim_start_matches("<RESPONSE>")
                .split("</RESPONSE>")
                .next()
                .unwrap_or(""),
        );
        let product = text.trim_end_matches("Server is Running").trim();
        if product.is_empty() {
            return Err(TallyError::Unreadable {
                detail: "the greeting does not name a product".into(),
            });
        }
        if let Ok(mut seen) = self.product_seen.lock() {
            *seen = Some(product.to_string());
        }
        Ok(product.to_string())
    }

    pub async fn companies(&self) -> Result<Vec<TallyCompany>, TallyError> {
        self.export(Query::Companies, None, TallyCompany::from_element)
            .await
    }

    pub async fn groups(&self, company: &str) -> Result<Vec<TallyGroup>, TallyError> {
        self.export(Query::Groups, Some(company), TallyGroup::from_element)
            .await
    }

    pub async fn ledgers(
        &self,
        company: &str,
        under: Option<&str>,
    ) -> Result<Vec<TallyLedger>, TallyError> {
        let q = Query::Ledgers {
            under: under.map(str::to_string),
        };
        self.export(q, Some(company), TallyLedger::from_element)
            .await
    }

    /// Closing balances at `at`, in Tally's sign; `from` is the start of that financial year.
    pub async fn balances(
        &self,
        company: &str,
        from: Date,
        at: Date,
        under: Option<&str>,
    ) -> Result<Vec<TallyLedger>, TallyError> {
        let scope = under.map_or(Scope::All, |g| Scope::Under(g.to_string()));
        let q = Query::Balances { from, at, scope };
        self.export(q, Some(company), TallyLedger::from_element)
            .await
    }

    /// Closing balances at `at` as (GUID, amount in Tally's sign, the date Tally says it
    /// computed), asked in either request `form`: the lean form of [`TallyClient::balances`]
    /// for a connector reading many months of a big company. Nothing is checked here;
    /// [`super::balances`] does.
    pub async fn ledger_balances(
        &self,
        company: &str,
        form: BalanceForm,
        from: Date,
        at: Date,
        scope: Scope,
    ) -> Result<Vec<LedgerBalance>, TallyError> {
        let company = Some(company);
        match form {
            BalanceForm::Collection => {
                let q = Query::Balances { from, at, scope };
                self.export(q, company, LedgerBalance::from_element).await
            }
            BalanceForm::Report => {
                let q = Query::BalanceReport { from, at, scope };
                self.export(q, company, LedgerBalance::from_row).await
            }
        }
    }

    /// The stock's value at `from` and `at` through the stock report form; unchecked
    /// ([`super::stock`] checks it).
    pub async fn stock_report(
        &self,
        company: &str,
        from: Date,
        at: Date,
    ) -> Result<Vec<StockRow>, TallyError> {
        let q = Query::StockReport { from, at };
        self.export(q, Some(company), StockRow::from_row).await
    }

    /// The dates of the vouchers altered (entered, changed) after alteration id `after`.
    pub async fn altered_voucher_dates(
        &self,
        company: &str,
        after: u64,
    ) -> Result<Vec<Date>, TallyError> {
        let q = Query::AlteredVouchers { after };
        let found = self
            .export(q, Some(company), AlteredVoucher::from_element)
            .await?;
        Ok(found.into_iter().map(|v| v.date).collect())
    }

    /// Sends one Export request and converts each object of the answer as it arrives.
    pub async fn export<T: Send + 'static>(
        &self,
        query: Query,
        company: Option<&str>,
        convert: fn(&Element) -> Result<T, RecordError>,
    ) -> Result<Vec<T>, TallyError> {
        let body = self.encoding.encode(&build(&query, company));
        // Held until the whole answer is read: Tally serves one request at a time, and
        // overlapping ones fail ("Could not set 'SVCurrentCompany'").
        let _turn = self.lock.acquire().await;
        let res = self
            .http
            .post(&self.url)
            .header(CONTENT_TYPE, self.encoding.content_type())
            .body(body)
            .send()
            .await
            .map_err(|e| self.send_error(e))?;
        if !res.status().is_success() {
            return Err(TallyError::Unreadable {
                detail: format!("HTTP status {}", res.status()),
            });
        }
        let content_type = res
            .headers()
            .get(CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string);
        let stream = StreamReader::new(res.bytes_stream().map_err(std::io::Error::other));
        let failure = Arc::new(Mutex::new(None));
        let watched = Watched {
            inner: SyncIoBridge::new(stream),
            failure: failure.clone(),
        };
        let bad_record: Arc<Mutex<Option<RecordError>>> = Arc::new(Mutex::new(None));
        let record_slot = bad_record.clone();
        let parsed = tokio::task::spawn_blocking(move || -> Result<Vec<T>, AnswerError> {
            let text = utf8_reader(watched, content_type.as_deref())
                .map_err(|e| AnswerError::Unreadable(e.to_string()))?;
            let mut out = Vec::new();
            read_answer(text, &mut |el| {
                let record = convert(&el).map_err(|e| {
                    let text = e.to_string();
                    if let Ok(mut slot) = record_slot.lock() {
                        slot.get_or_insert(e);
                    }
                    AnswerError::Unreadable(text)
                })?;
                out.push(record);
                Ok(())
            })?;
            Ok(out)
        })
        .await
        .map_err(|e| TallyError::Unreadable {
            detail: format!("parser task: {e}"),
        })?;
        if let Some(e) = bad_record.lock().ok().and_then(|mut r| r.take()) {
            return Err(TallyError::Data {
                message: format!("Tally's data cannot be sent: {e}"),
            });
        }
        if let Some(io) = failure.lock().ok().and_then(|mut f| f.take()) {
            let timed_out =
                io.kind() == std::io::ErrorKind::TimedOut || io.to_string().contains("timed out");
            return Err(if timed_out {
                TallyError::Timeout {
                    url: self.url.clone(),
                    secs: self.timeout.as_secs(),
                }
            } else {
                TallyError::Unreadable {
                    detail: format!("the answer broke off: {io}"),
                }
            });
        }
        parsed.map_err(|e| match e {
            AnswerError::LineError(msg) if company.is_some() && mentions_company(&msg) => {
                TallyError::CompanyNotOpen {
                    company: company.unwrap_or_default().to_string(),
                    tally_message: msg,
                }
            }
            AnswerError::Unreadable(detail) => TallyError::Unreadable { detail },
            other => TallyError::Refused {
                message: other.to_string(),
            },
        })
    }
}

fn mentions_company(msg: &str) -> bool {
    let m = msg.to_ascii_lowercase();
    m.contains("svcurrentcompany") || m.contains("company")
}
