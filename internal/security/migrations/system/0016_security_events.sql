-- Security events: refused sign-ins, brute force, lockouts, cross-company
-- probes, unseal failures, GOD from a new address, audit chains that do
-- not verify. details is small (checked here too) and never holds a
-- password, a share, a token or a request body. company_id has no
-- foreign key: an event outlives the company it names, and a probe may
-- name a company that does not exist (then it is NULL).
CREATE SCHEMA IF NOT EXISTS security;
CREATE TABLE IF NOT EXISTS security.events (
	id         bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	time       timestamptz NOT NULL,
	kind       text        NOT NULL CHECK (kind IN ('login_failed', 'brute_force', 'lockout', 'cross_company_probe',
	                                              'unseal_failed', 'god_new_address', 'audit_verify_failed')),
	company_id uuid,
	user_id    uuid,
	ip         text        NOT NULL DEFAULT '' CHECK (length(ip) <= 64),
	details    jsonb       NOT NULL DEFAULT '{}' CHECK (octet_length(details::text) <= 2048),
	-- subject groups events a detector deduplicates on (brute force:
	-- "ip:ADDR" or "user:UUID"); NULL for the rest.
	subject    text        CHECK (length(subject) <= 100)
);
CREATE INDEX IF NOT EXISTS events_time ON security.events (time);
CREATE INDEX IF NOT EXISTS events_kind_time ON security.events (kind, time);
CREATE INDEX IF NOT EXISTS events_company ON security.events (company_id, id) WHERE company_id IS NOT NULL;
CREATE INDEX IF NOT EXISTS events_failed_ip ON security.events (ip, time) WHERE kind = 'login_failed';
CREATE INDEX IF NOT EXISTS events_failed_user ON security.events (user_id, time) WHERE kind = 'login_failed';
CREATE INDEX IF NOT EXISTS events_subject ON security.events (subject, time) WHERE subject IS NOT NULL;

-- The addresses each GOD acted from, for "GOD from a new address".
CREATE TABLE IF NOT EXISTS security.god_addresses (
	user_id    uuid        NOT NULL,
	ip         text        NOT NULL CHECK (length(ip) <= 64),
	first_seen timestamptz NOT NULL,
	last_seen  timestamptz NOT NULL,
	PRIMARY KEY (user_id, ip)
);

-- The last verification of each audit chain ("system" or a company id).
CREATE TABLE IF NOT EXISTS security.audit_verify (
	chain      text        PRIMARY KEY CHECK (length(chain) <= 64),
	ok         boolean     NOT NULL,
	checked_at timestamptz NOT NULL,
	reason     text        NOT NULL DEFAULT '' CHECK (length(reason) <= 300)
);

ALTER SCHEMA security OWNER TO vanta_owner;
ALTER TABLE security.events OWNER TO vanta_owner;
ALTER TABLE security.god_addresses OWNER TO vanta_owner;
ALTER TABLE security.audit_verify OWNER TO vanta_owner;
GRANT USAGE ON SCHEMA security TO vanta_app;
GRANT SELECT, INSERT, DELETE ON security.events TO vanta_app;
GRANT SELECT, INSERT, UPDATE, DELETE ON security.god_addresses, security.audit_verify TO vanta_app;
