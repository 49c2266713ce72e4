-- Where a self-service TOTP enrolment waits for its first code.
ALTER TABLE auth.users ADD COLUMN IF NOT EXISTS totp_pending_enc bytea;
