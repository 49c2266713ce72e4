-- What closes account takeover and remote lockout:
--   - password_must_change marks a password someone else chose (an admin
--     creating a member): it proves nothing about its owner, so it opens no
--     session and joins no company until the owner replaces it;
--   - password_resets holds single-use reset links (only their SHA-256);
--   - login_failures and known_clients are the login throttle's state, in
--     PostgreSQL so that a Redis crash or a lost AOF does not hand an
--     attacker a fresh set of guesses (see Limiter).
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

GRANT SELECT, INSERT, UPDATE, DELETE ON auth.password_resets, auth.login_failures, auth.known_clients TO vanta_app;
