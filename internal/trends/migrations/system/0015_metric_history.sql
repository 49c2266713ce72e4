-- The appliance's own metric history (internal/trends): the series it
-- has seen (name and canonical labels, bounded in number by the
-- recorder), their per-minute points (kept one day) and per-hour rollups
-- (kept 90 days). Each point is an aggregate of the samples recorded in
-- its minute or hour: min, max, sum and count, so an average is exact.
-- Points name their series without a foreign key (a key check runs as the
-- table's owner, which has no rights on the schema here); a series is
-- pruned only once unseen for 90 days, when its points are gone already.
CREATE TABLE IF NOT EXISTS vanta.metric_series (
	id         bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	key        text        NOT NULL UNIQUE CHECK (length(key) <= 2048),
	name       text        NOT NULL,
	labels     jsonb       NOT NULL DEFAULT '{}',
	first_seen timestamptz NOT NULL,
	last_seen  timestamptz NOT NULL
);
CREATE INDEX IF NOT EXISTS metric_series_name ON vanta.metric_series (name);
CREATE INDEX IF NOT EXISTS metric_series_last_seen ON vanta.metric_series (last_seen);
CREATE TABLE IF NOT EXISTS vanta.metric_minutes (
	series_id bigint           NOT NULL,
	t         timestamptz      NOT NULL,
	min       double precision NOT NULL,
	max       double precision NOT NULL,
	sum       double precision NOT NULL,
	count     bigint           NOT NULL CHECK (count > 0),
	PRIMARY KEY (series_id, t)
);
CREATE INDEX IF NOT EXISTS metric_minutes_t ON vanta.metric_minutes (t);
CREATE TABLE IF NOT EXISTS vanta.metric_hours (
	series_id  bigint           NOT NULL,
	t          timestamptz      NOT NULL,
	min        double precision NOT NULL,
	max        double precision NOT NULL,
	sum        double precision NOT NULL,
	count      bigint           NOT NULL CHECK (count > 0),
	-- the sum of the samples' seconds after t: their mean time, which a
	-- trend's regression needs, is t + offset_sum / count
	offset_sum double precision NOT NULL,
	PRIMARY KEY (series_id, t)
);
CREATE INDEX IF NOT EXISTS metric_hours_t ON vanta.metric_hours (t);

ALTER TABLE vanta.metric_series OWNER TO vanta_owner;
ALTER TABLE vanta.metric_minutes OWNER TO vanta_owner;
ALTER TABLE vanta.metric_hours OWNER TO vanta_owner;
-- The runtime role records (the recorder runs in the appliance), prunes
-- and reads (the history route).
GRANT SELECT, INSERT, UPDATE, DELETE ON vanta.metric_series, vanta.metric_minutes, vanta.metric_hours TO vanta_app;
