//! tally-sim: answers Tally's XML interface from a company's books. For tests and demonstrations
//! only: it says so in every greeting, and its data is never real books.

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use clap::{Parser, Subcommand};

use aicfo::protocol::Amount;

use aicfo::sim::{
    add_inventory, expected_month, generate, Books, Fault, GenSpec, SimCompany, SimData, SimServer,
    SimState,
};

#[derive(Parser)]
#[command(
    name = "tally-sim",
    version,
    about = "A Tally stand-in for tests and demonstrations (never real Tally data)"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(clap::Args, Clone)]
struct Source {
    /// A data file written by `tally-sim generate` (or by hand).
    #[arg(long, conflicts_with = "seed")]
    data: Option<PathBuf>,
    /// Generate a company from this seed instead of reading a file.
    #[arg(long)]
    seed: Option<u64>,
    #[arg(long, default_value_t = 200, requires = "seed")]
    ledgers: usize,
    #[arg(long, default_value_t = 5000, requires = "seed")]
    vouchers: usize,
    /// Financial years of vouchers.
    #[arg(long, default_value_t = 3, requires = "seed")]
    years: u32,
    /// The first financial year starts on 1 April of this year.
    #[arg(long, default_value_t = 2023, requires = "seed")]
    first_year: i32,
    #[arg(long, default_value = "Simulated Traders Pvt. Ltd.", requires = "seed")]
    name: String,
    /// Integrate accounts with inventory: this many stock items, moved by purchases and sales.
    #[arg(long, default_value_t = 0, requires = "seed")]
    stock_items: usize,
}

#[derive(Subcommand)]
enum Command {
    /// Serve Tally's XML interface.
    Serve {
        #[command(flatten)]
        source: Source,
        #[arg(long, default_value = "127.0.0.1")]
        address: String,
        #[arg(long, default_value_t = 9000)]
        port: u16,
        /// One of: none, slow:<ms>, slow-whole:<ms>, company-not-open, garbage, ignore-todate,
        /// ignore-todate-slow:<ms>, ignore-todate-all, report-misreads, drop-closing,
        /// blank-closing, lineerror-midway, amount-forms, no-company-errormsg,
        /// freeze-on-fromdate, blank-all, blank-all+report-misreads, refuse-reports (switch later with POST /_sim/fault).
        #[arg(long, default_value = "none")]
        fault: Fault,
    },
    /// Write a generated company to a data file.
    Generate {
        #[command(flatten)]
        source: Source,
        #[arg(long)]
        out: PathBuf,
    },
    /// Print the trial balance Tally would show at the end of a day (positive = debit).
    Expected {
        #[command(flatten)]
        source: Source,
        /// YYYY-MM-DD
        #[arg(long)]
        date: String,
        /// The company's name when the data file has several.
        #[arg(long)]
        company: Option<String>,
        #[arg(long, default_value = "csv", value_parser = ["csv", "json"])]
        format: String,
    },
}

fn companies(source: &Source) -> Result<Vec<SimCompany>, String> {
    match (&source.data, source.seed) {
        (Some(path), _) => Ok(SimData::load(path)?.companies),
        (None, Some(seed)) => Ok(vec![{
            let mut c = generate(&GenSpec {
                name: source.name.clone(),
                seed,
                ledgers: source.ledgers,
                vouchers: source.vouchers,
                years: source.years,
                first_year: source.first_year,
            });
            if source.stock_items > 0 {
                add_inventory(&mut c, seed, source.stock_items);
            }
            c
        }]),
        (None, None) => Err("give --data FILE or --seed N".into()),
    }
}

fn books(source: &Source) -> Result<Vec<Books>, String> {
    companies(source)?
        .into_iter()
        .map(|c| Books::new(c).map_err(|e| e.to_string()))
        .collect()
}

async fn run(cli: Cli) -> Result<(), String> {
    match cli.command {
        Command::Serve {
            source,
            address,
            port,
            fault,
        } => {
            let books = books(&source)?;
            eprintln!(
                "{}: serving {} company(ies) on http://{address}:{port}",
                aicfo::sim::PRODUCT,
                books.len()
            );
            let state = Arc::new(SimState::new(books));
            state.set_fault(fault);
            SimServer::start(state, &address, port, true)
                .await?
                .wait()
                .await;
            Ok(())
        }
        Command::Generate { source, out } => {
            let data = SimData {
                companies: companies(&source)?,
            };
            for c in &data.companies {
                Books::new(c.clone()).map_err(|e| e.to_string())?;
            }
            let text = serde_json::to_string(&data).map_err(|e| e.to_string())?;
            std::fs::write(&out, text)
                .map_err(|e| format!("cannot write {}: {e}", out.display()))?;
            eprintln!("wrote {}", out.display());
            Ok(())
        }
        Command::Expected {
            source,
            date,
            company,
            format,
        } => {
            let date = aicfo::protocol::calendar::parse_date(&date).map_err(|e| e.to_string())?;
            let all = books(&source)?;
            let b = match &company {
                Some(name) => all
                    .iter()
                    .find(|b| b.name == *name)
                    .ok_or_else(|| format!("no company `{name}` in the data"))?,
                None => all.first().ok_or("the data has no company")?,
            };
            let tb = expected_month(b, date);
            if format == "json" {
                println!(
                    "{}",
                    serde_json::to_string_pretty(&tb).map_err(|e| e.to_string())?
                );
            } else {
                println!("ledger_guid,balance,ledger_name");
                for l in &tb.ledgers {
                    println!(
                        "{},{},\"{}\"",
                        l.ledger_guid,
                        l.balance,
                        l.ledger_name.replace('"', "\"\"")
                    );
                }
                // Tally's own lines, without a GUID: with them the column sums to zero
                // exactly when Tally's trial balance tallies.
                if let Some(stock) = tb.stock {
                    println!(",{},\"Opening Stock\"", stock.opening);
                }
                if !tb.opening_difference.is_zero() {
                    let contrary = Amount::from_paise(-tb.opening_difference.paise());
                    println!(",{contrary},\"Difference in opening balances\"");
                }
            }
            Ok(())
        }
    }
}

#[rocket::main]
async fn main() -> ExitCode {
    match run(Cli::parse()).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("tally-sim: {e}");
            ExitCode::FAILURE
        }
    }
}
