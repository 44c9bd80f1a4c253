-- Revocation that holds (issue 8, item 8).
-- Every change to who a connector is (enrolled again, revoked, restored, refresh token stolen)
-- bumps its token generation; a connector token carries the generation it was issued in, so a
-- token from before the change never works again.
ALTER TABLE connector_clients ADD COLUMN token_generation INTEGER NOT NULL DEFAULT 0;

-- Refresh tokens already swapped for a new one (digests only). Presenting one again means two
-- parties hold the chain: the chain of that generation is revoked.
CREATE TABLE connector_refresh_used (
    digest        TEXT PRIMARY KEY,
    connector_id  TEXT NOT NULL REFERENCES connector_clients(id),
    generation    INTEGER NOT NULL,
    used_at       INTEGER NOT NULL
);
CREATE INDEX connector_refresh_used_connector ON connector_refresh_used (connector_id, generation);
