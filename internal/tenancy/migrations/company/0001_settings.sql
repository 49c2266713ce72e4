-- A company's settings, key by key. Every company table has company_id;
-- the migrator secures the table (owner, forced row-level security,
-- policies, grants) after this step. IF NOT EXISTS: companies provisioned
-- before the company line already have it.
CREATE TABLE IF NOT EXISTS settings (
	company_id uuid  NOT NULL,
	key        text  NOT NULL,
	value      jsonb NOT NULL,
	PRIMARY KEY (company_id, key)
);
