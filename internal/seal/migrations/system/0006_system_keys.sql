-- Keys the appliance makes once and keeps wrapped by the root keyring
-- (the audit MAC key, …): unreadable while sealed.
CREATE TABLE IF NOT EXISTS vanta.keys (
	id         text PRIMARY KEY,
	wrapped    bytea NOT NULL,  -- sealed by the root keyring
	created_at timestamptz NOT NULL DEFAULT now()
);
ALTER TABLE vanta.keys OWNER TO vanta_owner;
GRANT SELECT, INSERT ON vanta.keys TO vanta_app;
