-- Closing issue 16's gaps. Times are UTC ms.

-- A "sync now" no run claimed within the bound (see `schedules::requests`) is expired, so a
-- stale one no longer stands in for every later request. Only a request neither started nor
-- expired counts as pending.
ALTER TABLE sync_requests ADD COLUMN expired_at INTEGER;
DROP INDEX sync_requests_one_pending;
CREATE UNIQUE INDEX sync_requests_one_pending ON sync_requests (company_id)
    WHERE sync_run_id IS NULL AND expired_at IS NULL;

-- Whether the run read Tally in full, as its connector says at sync/start: the status's
-- nextFullReadAt counts from the last such run.
ALTER TABLE integration_sync_runs ADD COLUMN full_read INTEGER NOT NULL DEFAULT 0;
UPDATE integration_sync_runs SET full_read = 1
 WHERE trigger = 'full read'
    OR sync_request_id IN (SELECT id FROM sync_requests WHERE full = 1);
