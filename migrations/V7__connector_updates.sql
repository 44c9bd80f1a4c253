-- Connector self-update (issue 11). Times are UTC ms.

-- Appliance-wide settings an administrator changes at run time, one row per key. The firm-wide
-- connector update policy is the key `connector_updates` (`auto` or `paused`; absent = `auto`).
CREATE TABLE appliance_settings (
    key         TEXT PRIMARY KEY,
    value       TEXT NOT NULL,
    updated_at  INTEGER NOT NULL,
    updated_by  INTEGER REFERENCES users(id)
);

-- One connector's own update policy; a connector without a row follows `auto`. A pinned
-- connector names the version it is to run.
CREATE TABLE connector_update_policies (
    connector_id  TEXT PRIMARY KEY REFERENCES connector_clients(id),
    policy        TEXT NOT NULL CHECK (policy IN ('auto', 'paused', 'pinned')),
    version       TEXT,
    updated_at    INTEGER NOT NULL,
    updated_by    INTEGER REFERENCES users(id),
    CHECK ((policy = 'pinned') = (version IS NOT NULL))
);

-- Every update attempt a connector reported, once: a connector repeats its last attempt in
-- each heartbeat until one is answered, so (connector, version, at) is stored only the first
-- time. `at` is the connector's RFC 3339 time of the attempt, `received_at` the appliance's.
CREATE TABLE connector_updates (
    id            INTEGER PRIMARY KEY,
    connector_id  TEXT NOT NULL REFERENCES connector_clients(id),
    version       TEXT NOT NULL,
    outcome       TEXT NOT NULL CHECK (outcome IN ('installed', 'failed', 'rolled_back')),
    message       TEXT NOT NULL,
    at            TEXT NOT NULL,
    received_at   INTEGER NOT NULL,
    UNIQUE (connector_id, version, at)
);
CREATE INDEX connector_updates_latest ON connector_updates (connector_id, received_at);
