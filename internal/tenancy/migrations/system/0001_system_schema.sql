-- The system's own schema: the owner role and the companies.
DO $$ BEGIN
	IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'vanta_owner') THEN CREATE ROLE vanta_owner NOLOGIN; END IF;
END $$;
CREATE SCHEMA IF NOT EXISTS vanta AUTHORIZATION vanta_owner;
CREATE TABLE IF NOT EXISTS vanta.companies (
	id                  uuid PRIMARY KEY,
	name                text NOT NULL,
	registration_number text NOT NULL DEFAULT '',
	tax_id              text NOT NULL DEFAULT '',
	industry            text NOT NULL DEFAULT '',
	address             text NOT NULL DEFAULT '',
	phone               text NOT NULL DEFAULT '',
	email               text NOT NULL DEFAULT '',
	settings            jsonb NOT NULL DEFAULT '{}',
	status              text NOT NULL DEFAULT 'provisioning' CHECK (status IN ('provisioning', 'active', 'archived')),
	dek                 bytea,  -- the company's data key, wrapped by the root keyring
	redis_secret        bytea,  -- its Redis ACL password, sealed with its data key
	created_at          timestamptz NOT NULL DEFAULT now()
);
ALTER TABLE vanta.companies OWNER TO vanta_owner;
