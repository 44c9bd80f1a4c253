-- Restated closed months (issue 12, item 4): when a sync replaces a month that was already
-- closed with different balances (a back-dated entry, an edited old voucher), one row per ledger
-- whose balance changed. Written in the same transaction as the replacement. Money in paise,
-- debit positive; received_at is UTC ms. The sync run is the ingestion's (ingestion_logs.run_id).
CREATE TABLE restatements (
    id           INTEGER PRIMARY KEY,
    company_id   TEXT NOT NULL REFERENCES companies(id),
    month_key    TEXT NOT NULL,
    ledger_id    INTEGER NOT NULL REFERENCES ledgers(id),
    old_balance  INTEGER NOT NULL,
    new_balance  INTEGER NOT NULL,
    ingestion_id INTEGER NOT NULL REFERENCES ingestion_logs(id),
    received_at  INTEGER NOT NULL
);
CREATE INDEX restatements_company ON restatements (company_id, received_at);
