-- Disabling users and resetting their passwords (issue 12, admin screens).
-- A disabled user cannot sign in and their tokens stop working at once. Every change that must
-- end a user's sessions (disabled, enabled again, password reset) bumps token_generation; a user
-- token carries the generation it was issued in, so one from before the change is refused.
ALTER TABLE users ADD COLUMN disabled_at INTEGER;
ALTER TABLE users ADD COLUMN token_generation INTEGER NOT NULL DEFAULT 0;
