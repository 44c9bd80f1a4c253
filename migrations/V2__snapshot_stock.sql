-- Inventory companies and opening differences (issue 9, item 4).
-- stock_opening / stock_closing: the month's stock value in paise (positive = debit), NULL when
-- the connector did not read it. opening_difference: Tally's "Difference in opening balances".
-- difference becomes what Tally's own trial balance leaves unexplained:
-- debit_total - credit_total + stock_opening - opening_difference.
ALTER TABLE snapshots ADD COLUMN stock_opening INTEGER;
ALTER TABLE snapshots ADD COLUMN stock_closing INTEGER;
ALTER TABLE snapshots ADD COLUMN opening_difference INTEGER NOT NULL DEFAULT 0;
