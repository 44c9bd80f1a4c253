-- One-time codes a downloaded connector ZIP carries, exchanged for a connector enrolment
-- (POST /api/connector/enroll). Only the SHA-256 of a code is kept. Times are UTC ms.
CREATE TABLE enrollment_codes (
    id                INTEGER PRIMARY KEY,
    company_id        TEXT NOT NULL REFERENCES companies(id),
    code_hash         TEXT NOT NULL UNIQUE,
    created_by        INTEGER REFERENCES users(id),
    created_at        INTEGER NOT NULL,
    expires_at        INTEGER NOT NULL,
    used_at           INTEGER,
    used_by_connector TEXT REFERENCES connector_clients(id),
    revoked_at        INTEGER
);
CREATE INDEX enrollment_codes_company ON enrollment_codes (company_id, created_at);
