package auth

// Schema creates the auth schema, owned by whoever runs it (the migration
// role). Emails are stored lower-cased (the application normalises; the
// check refuses ASCII capitals in case something else writes here). At
// most one GOD can exist: a unique index over a constant, restricted to
// GOD rows. Refresh tokens are stored only as SHA-256 hashes. Token
// revocations are kept here, not only in Redis, because Redis may lose
// writes; login failures are not, because losing them costs little.
const Schema = `
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
`

// InvitationsSchema holds invitations into companies. Tokens are stored
// only as SHA-256 hashes; an accepted, revoked or expired row stays, as
// history for the company's admins.
const InvitationsSchema = `
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
`

// AccountSecuritySchema is what closes account takeover and remote
// lockout:
//   - password_must_change marks a password someone else chose (an admin
//     creating a member): it proves nothing about its owner, so it opens no
//     session and joins no company until the owner replaces it;
//   - password_resets holds single-use reset links (only their SHA-256);
//   - login_failures and known_clients are the login throttle's state, in
//     PostgreSQL so that a Redis crash or a lost AOF does not hand an
//     attacker a fresh set of guesses (see Limiter).
const AccountSecuritySchema = `
ALTER TABLE auth.users ADD COLUMN IF NOT EXISTS password_must_change boolean NOT NULL DEFAULT false;
CREATE TABLE IF NOT EXISTS auth.password_resets (
	id         uuid        PRIMARY KEY,
	user_id    uuid        NOT NULL REFERENCES auth.users (id) ON DELETE CASCADE,
	token_hash bytea       NOT NULL UNIQUE CHECK (length(token_hash) = 32),
	created_by uuid        NOT NULL,
	created_at timestamptz NOT NULL,
	expires_at timestamptz NOT NULL,
	used_at    timestamptz
);
CREATE INDEX IF NOT EXISTS password_resets_user ON auth.password_resets (user_id);
CREATE TABLE IF NOT EXISTS auth.login_failures (
	key        text        PRIMARY KEY,
	failures   bigint      NOT NULL,
	until      timestamptz NOT NULL,
	expires_at timestamptz NOT NULL
);
CREATE INDEX IF NOT EXISTS login_failures_expires ON auth.login_failures (expires_at);
CREATE TABLE IF NOT EXISTS auth.known_clients (
	account text        NOT NULL,
	client  text        NOT NULL,
	last_ok timestamptz NOT NULL,
	PRIMARY KEY (account, client)
);
`
