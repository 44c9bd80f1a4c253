-- When a connector was last enrolled, and so by whom `registered_by` names: a device enrolled
-- again keeps its first_seen, and a password reset's review must see the enrolment's own time
-- (a device re-enrolled yesterday with a stolen password must not look years old).
ALTER TABLE connector_clients ADD COLUMN registered_at INTEGER;
UPDATE connector_clients SET registered_at = first_seen;
