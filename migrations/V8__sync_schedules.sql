-- Sync schedules and "sync now" (issue 16). Times are UTC ms.

-- A company's own schedule (JSON: intervalMinutes, quietHours, fullReadAt). The firm-wide
-- default is `appliance_settings` key `sync_schedule`; with neither, connectors follow their
-- config.json.
CREATE TABLE company_sync_schedules (
    company_id  TEXT PRIMARY KEY REFERENCES companies(id),
    schedule    TEXT NOT NULL,
    updated_at  INTEGER NOT NULL,
    updated_by  INTEGER REFERENCES users(id)
);

-- A person's "sync now": pending until a connector of the company starts the run for it.
CREATE TABLE sync_requests (
    id            TEXT PRIMARY KEY,
    company_id    TEXT NOT NULL REFERENCES companies(id),
    full          INTEGER NOT NULL,
    requested_by  INTEGER REFERENCES users(id),
    requested_at  INTEGER NOT NULL,
    sync_run_id   TEXT REFERENCES integration_sync_runs(id),
    started_at    INTEGER
);
-- At most one pending request per company.
CREATE UNIQUE INDEX sync_requests_one_pending ON sync_requests (company_id) WHERE sync_run_id IS NULL;
CREATE INDEX sync_requests_latest ON sync_requests (company_id, requested_at);

-- The request a run carried out.
ALTER TABLE integration_sync_runs ADD COLUMN sync_request_id TEXT;
