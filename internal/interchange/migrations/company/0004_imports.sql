-- Imports of books into a company (plain-text journals, bank and M-Pesa
-- statements): one row per import, written outside the import's own
-- transaction so that its progress can be read while it runs. The import
-- marks its row done inside its own transaction, so a row left running
-- by a process that died is found (its advisory lock is free) and marked
-- failed by the next reader; nothing of such an import was committed.
CREATE TABLE imports (
	company_id  uuid        NOT NULL,
	id          uuid        PRIMARY KEY DEFAULT gen_random_uuid(),
	format      text        NOT NULL CHECK (format IN ('journal', 'csv')),
	status      text        NOT NULL CHECK (status IN ('running', 'done', 'failed')),
	done        integer     NOT NULL DEFAULT 0 CHECK (done >= 0),
	total       integer     NOT NULL DEFAULT 0 CHECK (total >= 0),
	errors      jsonb       NOT NULL DEFAULT '[]'::jsonb,
	entries     integer     NOT NULL DEFAULT 0 CHECK (entries >= 0),
	created_by  text        NOT NULL,
	created_at  timestamptz NOT NULL DEFAULT now(),
	finished_at timestamptz NULL,
	CONSTRAINT imports_company_id UNIQUE (company_id, id),
	CONSTRAINT imports_finished CHECK ((status = 'running') = (finished_at IS NULL))
);
CREATE INDEX imports_created ON imports (created_at DESC, id DESC);
