-- A thousand companies on one appliance (issue 14): a ledger's balance is stored only in the
-- months where it changed. Most of a company's ledgers keep last month's balance, so storing
-- every ledger every month spent ~20 bytes a balance on repeats.
--
-- month is year * 12 + (month - 1). A month's balance of a ledger is its row with the greatest
-- month at or before it; a NULL balance means the ledger was not in that month's items (from
-- there on, until a later row), as a missing row meant before. Rows exist only at months the
-- company holds a snapshot of. Written only by snapshots.rs, which keeps the next held month's
-- rows right when a month in the middle is replaced.
CREATE TABLE balance_changes (
    ledger_id INTEGER NOT NULL,
    month     INTEGER NOT NULL,
    balance   INTEGER,
    PRIMARY KEY (ledger_id, month)
) WITHOUT ROWID;

-- Every stored balance becomes a change where it differs from the ledger's previous held month
-- (or the ledger appears there, or leaves: a NULL row).
WITH grid AS (
    SELECT l.id AS ledger_id,
           CAST(substr(s.month_key, 1, 4) AS INTEGER) * 12 + CAST(substr(s.month_key, 6, 2) AS INTEGER) - 1 AS month,
           b.balance AS balance,
           b.ledger_id IS NOT NULL AS present
    FROM snapshots s
    JOIN ledgers l ON l.company_id = s.company_id
    LEFT JOIN snapshot_balances b ON b.snapshot_id = s.id AND b.ledger_id = l.id
), lagged AS (
    SELECT ledger_id, month, balance, present,
           LAG(present) OVER w AS was_present,
           LAG(balance) OVER w AS was
    FROM grid WINDOW w AS (PARTITION BY ledger_id ORDER BY month)
)
INSERT INTO balance_changes (ledger_id, month, balance)
SELECT ledger_id, month, balance FROM lagged
WHERE present != COALESCE(was_present, 0) OR (present AND balance IS NOT was);

DROP TABLE snapshot_balances;

-- The old shape, every ledger in every month it was in, for reading (and writing) by hand.
-- The appliance reads balance_changes.
CREATE VIEW snapshot_balances AS
SELECT s.id AS snapshot_id, l.id AS ledger_id, b.balance AS balance
FROM snapshots s
JOIN ledgers l ON l.company_id = s.company_id
JOIN balance_changes b ON b.ledger_id = l.id AND b.month = (
    SELECT MAX(x.month) FROM balance_changes x
    WHERE x.ledger_id = l.id
      AND x.month <= CAST(substr(s.month_key, 1, 4) AS INTEGER) * 12 + CAST(substr(s.month_key, 6, 2) AS INTEGER) - 1)
WHERE b.balance IS NOT NULL;

-- A row written by hand into the old shape lands as a full row of its month (right when months
-- are written oldest first with all their ledgers, as a restore or a tool does).
CREATE TRIGGER snapshot_balances_insert INSTEAD OF INSERT ON snapshot_balances
BEGIN
    INSERT OR REPLACE INTO balance_changes (ledger_id, month, balance)
    SELECT NEW.ledger_id,
           CAST(substr(s.month_key, 1, 4) AS INTEGER) * 12 + CAST(substr(s.month_key, 6, 2) AS INTEGER) - 1,
           NEW.balance
    FROM snapshots s WHERE s.id = NEW.snapshot_id;
END;
