-- The auth schema. Emails are stored lower-cased (the application
-- normalises; the check refuses ASCII capitals in case something else
-- writes here). At most one GOD can exist: a unique index over a constant,
-- restricted to GOD rows. Refresh tokens are stored only as SHA-256
-- hashes. Token revocations are kept here, not only in Redis, because
-- Redis may lose writes; login failures are not, because losing them
-- costs little.
CREATE SCHEMA IF NOT EXISTS auth;
CREATE TABLE IF NOT EXISTS auth.users (
	id                 uuid        PRIMARY KEY,
	email              text        NOT NULL CHECK (email <> '' AND email !~ '[A-Z]'),
	name               text        NOT NULL,
	password_hash      text        NOT NULL,
	totp_secret_enc    bytea,
	totp_last_step     bigint      NOT NULL DEFAULT 0,
	is_god             boolean     NOT NULL DEFAULT false,
	status             text        NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'disabled')),
	tokens_valid_after timestamptz NOT NULL DEFAULT date_trunc('second', now()),
	created_at         timestamptz NOT NULL DEFAULT now(),
	CONSTRAINT users_email_key UNIQUE (email)
);
CREATE UNIQUE INDEX IF NOT EXISTS users_one_god ON auth.users ((true)) WHERE is_god;
CREATE TABLE IF NOT EXISTS auth.memberships (
	user_id    uuid NOT NULL REFERENCES auth.users (id) ON DELETE CASCADE,
	company_id uuid NOT NULL,
	role       text NOT NULL CHECK (role IN ('admin', 'manager', 'user', 'viewer')),
	PRIMARY KEY (user_id, company_id)
);
CREATE INDEX IF NOT EXISTS memberships_company ON auth.memberships (company_id);
CREATE TABLE IF NOT EXISTS auth.refresh_tokens (
	id                 uuid        PRIMARY KEY,
	family             uuid        NOT NULL,
	user_id            uuid        NOT NULL REFERENCES auth.users (id) ON DELETE CASCADE,
	token_hash         bytea       NOT NULL UNIQUE CHECK (length(token_hash) = 32),
	parent             uuid,
	session_started_at timestamptz NOT NULL,
	issued_at          timestamptz NOT NULL,
	expires_at         timestamptz NOT NULL,
	used_at            timestamptz,
	revoked_at         timestamptz
);
CREATE INDEX IF NOT EXISTS refresh_tokens_family ON auth.refresh_tokens (family);
CREATE INDEX IF NOT EXISTS refresh_tokens_user ON auth.refresh_tokens (user_id);
CREATE INDEX IF NOT EXISTS refresh_tokens_expires ON auth.refresh_tokens (expires_at);
CREATE TABLE IF NOT EXISTS auth.revoked_tokens (
	jti        text        PRIMARY KEY,
	expires_at timestamptz NOT NULL
);
CREATE INDEX IF NOT EXISTS revoked_tokens_expires ON auth.revoked_tokens (expires_at);
CREATE TABLE IF NOT EXISTS auth.signing_keys (
	id         text        PRIMARY KEY,
	wrapped    bytea       NOT NULL,
	created_at timestamptz NOT NULL DEFAULT now()
);

GRANT USAGE ON SCHEMA auth TO vanta_app;
GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA auth TO vanta_app;
