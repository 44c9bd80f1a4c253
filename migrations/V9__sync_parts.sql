-- A sync delivered in parts (issue 15). Times are UTC ms, money INTEGER paise (debit positive).
-- What has arrived of a run's parts is kept here until every part is in; then the months are
-- stored in one transaction and these rows go. A run abandoned or ended before that leaves
-- nothing behind here, and the months it did not finish keep their previous snapshot.

-- One row per run that sends parts; part 0 (the chart of accounts) makes it.
CREATE TABLE sync_part_runs (
    run_id             TEXT PRIMARY KEY REFERENCES integration_sync_runs(id),
    company_id         TEXT NOT NULL REFERENCES companies(id),
    part_count         INTEGER NOT NULL,
    -- The ingestion the chart was stored under; its snapshots carry it too.
    ingestion_id       INTEGER NOT NULL REFERENCES ingestion_logs(id),
    opening_difference INTEGER NOT NULL,
    ledgers_gone       INTEGER NOT NULL,
    staged_balances    INTEGER NOT NULL DEFAULT 0,
    stored_at          INTEGER,
    created_at         INTEGER NOT NULL
);
CREATE INDEX sync_part_runs_company ON sync_part_runs (company_id, stored_at);

CREATE TABLE sync_part_received (
    run_id      TEXT NOT NULL REFERENCES sync_part_runs(run_id),
    part_index  INTEGER NOT NULL,
    bytes       INTEGER NOT NULL,
    received_at INTEGER NOT NULL,
    PRIMARY KEY (run_id, part_index)
) WITHOUT ROWID;

-- A month as its parts describe it (every part carrying the month says the same).
CREATE TABLE sync_part_months (
    run_id        TEXT NOT NULL REFERENCES sync_part_runs(run_id),
    month_key     TEXT NOT NULL,
    as_of_date    TEXT NOT NULL,
    is_closed     INTEGER NOT NULL,
    stock_opening INTEGER,
    stock_closing INTEGER,
    PRIMARY KEY (run_id, month_key)
) WITHOUT ROWID;

CREATE TABLE sync_part_balances (
    run_id    TEXT NOT NULL,
    month_key TEXT NOT NULL,
    ledger_id INTEGER NOT NULL,
    balance   INTEGER NOT NULL,
    PRIMARY KEY (run_id, month_key, ledger_id)
) WITHOUT ROWID;
