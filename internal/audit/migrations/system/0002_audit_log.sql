-- The audit table. The runtime role may INSERT and SELECT only; the trigger
-- refuses UPDATE, DELETE and TRUNCATE even to roles granted more by
-- mistake. (The grants were once a separate migration, 0003; on a new
-- appliance they run here, with the same result.)
CREATE SCHEMA IF NOT EXISTS audit;
CREATE TABLE IF NOT EXISTS audit.records (
	chain     text        NOT NULL,
	seq       bigint      NOT NULL CHECK (seq > 0),
	at        timestamptz NOT NULL,
	actor     text        NOT NULL,
	role      text        NOT NULL,
	ip        text        NOT NULL,
	action    text        NOT NULL,
	resource  text        NOT NULL,
	outcome   text        NOT NULL,
	details   text        NOT NULL CHECK (details::jsonb IS NOT NULL),
	prev_hash bytea       NOT NULL,
	hash      bytea       NOT NULL,
	PRIMARY KEY (chain, seq)
);
CREATE OR REPLACE FUNCTION audit.refuse_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
	RAISE EXCEPTION 'audit records are append-only (% refused)', TG_OP USING ERRCODE = 'insufficient_privilege';
END $$;
DROP TRIGGER IF EXISTS append_only ON audit.records;
CREATE TRIGGER append_only BEFORE UPDATE OR DELETE ON audit.records FOR EACH ROW EXECUTE FUNCTION audit.refuse_change();
DROP TRIGGER IF EXISTS no_truncate ON audit.records;
CREATE TRIGGER no_truncate BEFORE TRUNCATE ON audit.records FOR EACH STATEMENT EXECUTE FUNCTION audit.refuse_change();

ALTER SCHEMA audit OWNER TO vanta_owner;
ALTER TABLE audit.records OWNER TO vanta_owner;
ALTER FUNCTION audit.refuse_change() OWNER TO vanta_owner;
GRANT USAGE ON SCHEMA audit TO vanta_app;
GRANT SELECT, INSERT ON audit.records TO vanta_app;
