-- Times are UTC milliseconds since the Unix epoch. Money is INTEGER paise, debit positive.

CREATE TABLE users (
    id            INTEGER PRIMARY KEY,
    username      TEXT NOT NULL UNIQUE COLLATE NOCASE,
    password_hash TEXT NOT NULL,
    role          TEXT NOT NULL CHECK (role IN ('admin', 'staff')),
    created_at    INTEGER NOT NULL
);

CREATE TABLE companies (
    id                  TEXT PRIMARY KEY,
    name                TEXT NOT NULL,
    created_at          INTEGER NOT NULL,
    -- Facts the connector reports about the Tally company behind it.
    tally_company_name  TEXT,
    books_from          TEXT,
    financial_year_from TEXT
);

CREATE TABLE user_companies (
    user_id    INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    company_id TEXT NOT NULL REFERENCES companies(id) ON DELETE CASCADE,
    PRIMARY KEY (user_id, company_id)
) WITHOUT ROWID;

CREATE TABLE connector_clients (
    id                  TEXT PRIMARY KEY,
    company_id          TEXT NOT NULL REFERENCES companies(id),
    device_id           TEXT NOT NULL,
    device_name         TEXT,
    os                  TEXT,
    app_version         TEXT,
    registered_by       INTEGER REFERENCES users(id),
    first_seen          INTEGER NOT NULL,
    last_seen           INTEGER NOT NULL,
    last_heartbeat      INTEGER,
    heartbeat_interval  INTEGER,
    -- The last heartbeat's body as JSON: Tally reachable, company open, last sync...
    agent_state         TEXT,
    refresh_token_hash  TEXT UNIQUE,
    revoked_at          INTEGER,
    UNIQUE (company_id, device_id)
);

CREATE TABLE integration_sync_runs (
    id             TEXT PRIMARY KEY,
    company_id     TEXT NOT NULL REFERENCES companies(id),
    connector_id   TEXT NOT NULL REFERENCES connector_clients(id),
    status         TEXT NOT NULL CHECK (status IN ('running', 'succeeded', 'failed', 'abandoned')),
    trigger        TEXT,
    stage          TEXT NOT NULL,
    percent        INTEGER NOT NULL DEFAULT 0,
    counts         TEXT,
    error          TEXT,
    started_at     INTEGER NOT NULL,
    updated_at     INTEGER NOT NULL,
    finished_at    INTEGER
);
CREATE INDEX integration_sync_runs_company ON integration_sync_runs (company_id, started_at);
CREATE INDEX integration_sync_runs_running ON integration_sync_runs (status, updated_at);

CREATE TABLE integration_sync_events (
    id           INTEGER PRIMARY KEY,
    run_id       TEXT NOT NULL REFERENCES integration_sync_runs(id),
    kind         TEXT NOT NULL,
    stage        TEXT,
    percent      INTEGER,
    message      TEXT,
    created_at   INTEGER NOT NULL
);
CREATE INDEX integration_sync_events_run ON integration_sync_events (run_id, id);

CREATE TABLE ingestion_logs (
    id             INTEGER PRIMARY KEY,
    company_id     TEXT NOT NULL REFERENCES companies(id),
    connector_id   TEXT NOT NULL REFERENCES connector_clients(id),
    run_id         TEXT REFERENCES integration_sync_runs(id),
    bytes          INTEGER NOT NULL,
    groups_count   INTEGER NOT NULL,
    ledgers_count  INTEGER NOT NULL,
    months_count   INTEGER NOT NULL,
    balances_count INTEGER NOT NULL,
    duration_ms    INTEGER NOT NULL,
    outcome        TEXT NOT NULL,
    created_at     INTEGER NOT NULL
);
CREATE INDEX ingestion_logs_company ON ingestion_logs (company_id, id);

-- The chart of accounts as last read from Tally. Rows are never deleted: a master gone from
-- Tally keeps its history and is marked with gone_at.
CREATE TABLE account_groups (
    id                   INTEGER PRIMARY KEY,
    company_id           TEXT NOT NULL REFERENCES companies(id),
    guid                 TEXT NOT NULL,
    name                 TEXT NOT NULL,
    parent_name          TEXT,
    is_revenue           INTEGER,
    is_deemed_positive   INTEGER,
    affects_gross_profit INTEGER,
    reserved_name        TEXT,
    first_seen           INTEGER NOT NULL,
    last_seen            INTEGER NOT NULL,
    last_ingestion       INTEGER NOT NULL,
    gone_at              INTEGER,
    UNIQUE (company_id, guid)
);

CREATE TABLE ledgers (
    id             INTEGER PRIMARY KEY,
    company_id     TEXT NOT NULL REFERENCES companies(id),
    guid           TEXT NOT NULL,
    name           TEXT NOT NULL,
    parent_name    TEXT NOT NULL,
    first_seen     INTEGER NOT NULL,
    last_seen      INTEGER NOT NULL,
    last_ingestion INTEGER NOT NULL,
    gone_at        INTEGER,
    UNIQUE (company_id, guid)
);

CREATE TABLE snapshots (
    id              INTEGER PRIMARY KEY,
    company_id      TEXT NOT NULL REFERENCES companies(id),
    month_key       TEXT NOT NULL,
    as_of_date      TEXT NOT NULL,
    is_closed       INTEGER NOT NULL,
    ledger_count    INTEGER NOT NULL,
    debit_total     INTEGER NOT NULL,
    credit_total    INTEGER NOT NULL,
    -- debit_total - credit_total; non-zero means the month does not balance.
    difference      INTEGER NOT NULL,
    ingestion_id    INTEGER NOT NULL REFERENCES ingestion_logs(id),
    ingested_at     INTEGER NOT NULL,
    UNIQUE (company_id, month_key)
);

CREATE TABLE snapshot_balances (
    snapshot_id INTEGER NOT NULL REFERENCES snapshots(id) ON DELETE CASCADE,
    ledger_id   INTEGER NOT NULL REFERENCES ledgers(id),
    balance     INTEGER NOT NULL,
    PRIMARY KEY (snapshot_id, ledger_id)
) WITHOUT ROWID;
