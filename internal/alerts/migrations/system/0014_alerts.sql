-- Alerts: one row per episode of a rule's condition on one label set.
-- fingerprint is the rule and labels hashed; at most one row of a
-- fingerprint is pending or firing at a time, and a resolved row stays as
-- history. alert_deliveries records each notification channel's delivery
-- of an episode's firing and its resolution, so that each goes out once,
-- across rounds and restarts.
CREATE TABLE IF NOT EXISTS vanta.alerts (
	id            bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	fingerprint   text        NOT NULL,
	rule          text        NOT NULL,
	level         text        NOT NULL CHECK (level IN ('critical', 'warning', 'info')),
	state         text        NOT NULL CHECK (state IN ('pending', 'firing', 'resolved')),
	labels        jsonb       NOT NULL DEFAULT '{}',
	value         double precision NOT NULL,
	summary       text        NOT NULL,
	pending_since timestamptz NOT NULL,
	started_at    timestamptz,
	resolved_at   timestamptz,
	CHECK ((state = 'pending') = (started_at IS NULL)),
	CHECK ((state = 'resolved') = (resolved_at IS NOT NULL))
);
CREATE UNIQUE INDEX IF NOT EXISTS alerts_one_open ON vanta.alerts (fingerprint) WHERE state <> 'resolved';
CREATE INDEX IF NOT EXISTS alerts_state_id ON vanta.alerts (state, id);
CREATE TABLE IF NOT EXISTS vanta.alert_deliveries (
	alert_id     bigint      NOT NULL REFERENCES vanta.alerts (id) ON DELETE CASCADE,
	channel      text        NOT NULL,
	event        text        NOT NULL CHECK (event IN ('firing', 'resolved')),
	delivered_at timestamptz NOT NULL,
	PRIMARY KEY (alert_id, channel, event)
);

GRANT SELECT, INSERT, UPDATE, DELETE ON vanta.alerts, vanta.alert_deliveries TO vanta_app;
GRANT USAGE ON SEQUENCE vanta.alerts_id_seq TO vanta_app;
