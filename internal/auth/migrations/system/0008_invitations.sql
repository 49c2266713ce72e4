-- Invitations into companies. Tokens are stored only as SHA-256 hashes;
-- an accepted, revoked or expired row stays, as history for the company's
-- admins.
CREATE TABLE IF NOT EXISTS auth.invitations (
	id          uuid        PRIMARY KEY,
	company_id  uuid        NOT NULL,
	email       text        NOT NULL CHECK (email <> '' AND email !~ '[A-Z]'),
	role        text        NOT NULL CHECK (role IN ('admin', 'manager', 'user', 'viewer')),
	token_hash  bytea       NOT NULL UNIQUE CHECK (length(token_hash) = 32),
	invited_by  uuid        NOT NULL,
	created_at  timestamptz NOT NULL,
	expires_at  timestamptz NOT NULL,
	accepted_at timestamptz,
	accepted_by uuid REFERENCES auth.users (id) ON DELETE SET NULL,
	revoked_at  timestamptz
);
CREATE INDEX IF NOT EXISTS invitations_company ON auth.invitations (company_id, created_at DESC);

GRANT SELECT, INSERT, UPDATE ON auth.invitations TO vanta_app;
