-- The books of a company: settings, currencies, the chart of accounts,
-- journal entries and their lines, and balances kept by the posting
-- transaction. The rules that make the books the books are enforced here,
-- not only in Go, so that no writer (an import, a bug, a person at psql
-- with the company's role) can post what the ledger would refuse. Each
-- refusal raises SQLSTATE VL001 with CONSTRAINT set to the rule's name and
-- COLUMN to the field at fault; package ledger turns it into a RuleError.

CREATE TABLE ledger_settings (
	company_id  uuid    PRIMARY KEY,
	currency    text    NOT NULL DEFAULT 'KES',
	lock_date   date    NULL,
	-- Up by at least one in every transaction that posts or reverses:
	-- report caches key on it.
	generation  bigint  NOT NULL DEFAULT 0,
	-- The hash chain over posted entries: the number and hash of the
	-- newest. Posting locks this row, which also makes numbers gapless.
	last_number bigint  NOT NULL DEFAULT 0,
	head_hash   bytea   NOT NULL DEFAULT '\x'::bytea
);

CREATE TABLE currencies (
	company_id uuid     NOT NULL,
	code       text     NOT NULL CHECK (length(code) BETWEEN 1 AND 64),
	scale      smallint NOT NULL CHECK (scale BETWEEN 0 AND 18),
	name       text     NOT NULL DEFAULT '',
	PRIMARY KEY (company_id, code)
);

CREATE TABLE accounts (
	company_id uuid        NOT NULL,
	id         uuid        PRIMARY KEY DEFAULT gen_random_uuid(),
	code       text        NOT NULL CHECK (length(code) BETWEEN 1 AND 200),
	name       text        NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
	type       text        NOT NULL CHECK (type IN ('asset', 'liability', 'equity', 'income', 'expense')),
	parent_id  uuid        NULL,
	currency   text        NULL,
	active     boolean     NOT NULL DEFAULT true,
	role       text        NULL,
	created_at timestamptz NOT NULL DEFAULT now(),
	CONSTRAINT accounts_code UNIQUE (company_id, code),
	CONSTRAINT accounts_role UNIQUE (company_id, role),
	CONSTRAINT accounts_company_id UNIQUE (company_id, id),
	CONSTRAINT accounts_parent FOREIGN KEY (company_id, parent_id) REFERENCES accounts (company_id, id),
	CONSTRAINT accounts_currency FOREIGN KEY (company_id, currency) REFERENCES currencies (company_id, code)
);

CREATE TABLE journal_entries (
	company_id      uuid        NOT NULL,
	id              uuid        PRIMARY KEY DEFAULT gen_random_uuid(),
	number          bigint      NULL,
	date            date        NOT NULL,
	description     text        NOT NULL DEFAULT '',
	reference       text        NOT NULL DEFAULT '',
	source          text        NOT NULL CHECK (source IN ('manual', 'invoice', 'bill', 'payment', 'document', 'import', 'reversal', 'statement')),
	source_id       uuid        NULL,
	status          text        NOT NULL CHECK (status IN ('draft', 'posted')),
	idempotency_key text        NULL,
	-- SHA-256 of the request that made the entry, so that a retry with
	-- the same key and another body is told apart from a replay.
	request_hash    bytea       NULL,
	reverses_id     uuid        NULL,
	reversed_by_id  uuid        NULL,
	created_by      text        NOT NULL,
	created_at      timestamptz NOT NULL,
	approved_by     text        NULL,
	approved_at     timestamptz NULL,
	posted_by       text        NULL,
	posted_at       timestamptz NULL,
	reversed_by     text        NULL,
	reversed_at     timestamptz NULL,
	prev_hash       bytea       NULL,
	hash            bytea       NULL,
	CONSTRAINT journal_entries_company_id UNIQUE (company_id, id),
	CONSTRAINT journal_entries_idempotency_key UNIQUE (company_id, idempotency_key),
	CONSTRAINT journal_entries_number UNIQUE (company_id, number),
	CONSTRAINT journal_entries_posted_numbered CHECK ((status = 'posted') = (number IS NOT NULL AND hash IS NOT NULL AND posted_at IS NOT NULL)),
	CONSTRAINT journal_entries_reverses FOREIGN KEY (company_id, reverses_id) REFERENCES journal_entries (company_id, id),
	CONSTRAINT journal_entries_reversed_by FOREIGN KEY (company_id, reversed_by_id) REFERENCES journal_entries (company_id, id)
		DEFERRABLE INITIALLY DEFERRED
);
CREATE INDEX journal_entries_date ON journal_entries (date, id);
CREATE INDEX journal_entries_source ON journal_entries (source, source_id) WHERE source_id IS NOT NULL;

CREATE TABLE journal_lines (
	company_id  uuid    NOT NULL,
	entry_id    uuid    NOT NULL,
	line_no     integer NOT NULL CHECK (line_no > 0),
	account_id  uuid    NOT NULL,
	amount      bigint  NOT NULL,
	currency    text    NOT NULL,
	rate        numeric NULL CHECK (rate > 0),
	base_amount bigint  NOT NULL,
	contact_id  uuid    NULL,
	tax_code    text    NULL,
	memo        text    NOT NULL DEFAULT '',
	date        date    NOT NULL,
	posted      boolean NOT NULL DEFAULT false,
	PRIMARY KEY (entry_id, line_no),
	CONSTRAINT journal_lines_zero_amount CHECK (amount <> 0),
	-- Deferred: a posting writes its lines before its entry, so that no
	-- line can ever be added to an entry that is posted already.
	CONSTRAINT journal_lines_entry FOREIGN KEY (company_id, entry_id) REFERENCES journal_entries (company_id, id) ON DELETE CASCADE
		DEFERRABLE INITIALLY DEFERRED,
	CONSTRAINT journal_lines_account FOREIGN KEY (company_id, account_id) REFERENCES accounts (company_id, id),
	CONSTRAINT journal_lines_currency FOREIGN KEY (company_id, currency) REFERENCES currencies (company_id, code)
);
CREATE INDEX journal_lines_account ON journal_lines (account_id, date) WHERE posted;

CREATE TABLE account_balances (
	company_id  uuid   NOT NULL,
	account_id  uuid   NOT NULL,
	currency    text   NOT NULL,
	amount      bigint NOT NULL DEFAULT 0,
	base_amount bigint NOT NULL DEFAULT 0,
	PRIMARY KEY (account_id, currency),
	CONSTRAINT account_balances_account FOREIGN KEY (company_id, account_id) REFERENCES accounts (company_id, id)
);

CREATE TABLE account_daily (
	company_id  uuid   NOT NULL,
	account_id  uuid   NOT NULL,
	currency    text   NOT NULL,
	day         date   NOT NULL,
	amount      bigint NOT NULL DEFAULT 0,
	base_amount bigint NOT NULL DEFAULT 0,
	PRIMARY KEY (account_id, currency, day),
	CONSTRAINT account_daily_account FOREIGN KEY (company_id, account_id) REFERENCES accounts (company_id, id)
);
CREATE INDEX account_daily_day ON account_daily (day);

-- ledger_rule raises a rule's refusal in the one shape Go maps.
CREATE FUNCTION ledger_rule(rule text, field text, message text) RETURNS void LANGUAGE plpgsql AS $$
BEGIN
	RAISE EXCEPTION '%', message USING ERRCODE = 'VL001', CONSTRAINT = rule, COLUMN = field;
END $$;

-- ledger_check_entries checks entries as wholes and refuses the first
-- that breaks a rule: a posted entry has at least two lines, every line
-- posted on the entry's date, Σamount = 0 in each currency and Σbase = 0,
-- accounts active, of the entry's company and in their currency, and a
-- date after the lock date; a draft has no posted line. One set-based
-- query serves a whole batch.
CREATE FUNCTION ledger_check_entries(ids uuid[]) RETURNS void LANGUAGE plpgsql AS $$
DECLARE
	r record;
BEGIN
	FOR r IN
		SELECT e.id, e.status, e.date, s.lock_date,
			coalesce(sum(g.n), 0) AS n,
			coalesce(bool_and(g.ok), true) AS ok,
			min(g.currency) FILTER (WHERE g.total <> 0) AS unbalanced,
			coalesce(sum(g.base), 0) AS base,
			min(g.foreign_code) AS foreign_code,
			min(g.inactive_code) AS inactive_code,
			min(g.other_currency) AS other_currency,
			coalesce(bool_or(g.any_posted), false) AS any_posted
		FROM journal_entries e
		LEFT JOIN ledger_settings s ON s.company_id = e.company_id
		LEFT JOIN LATERAL (
			SELECT l.currency, sum(l.amount) AS total, sum(l.base_amount) AS base, count(*) AS n,
				bool_and(l.posted AND l.date = e.date AND l.company_id = e.company_id) AS ok,
				bool_or(l.posted) AS any_posted,
				min(a.code) FILTER (WHERE a.company_id <> e.company_id) AS foreign_code,
				min(a.code) FILTER (WHERE NOT a.active) AS inactive_code,
				min(format('account %s is kept in %s, not %s', a.code, a.currency, l.currency))
					FILTER (WHERE a.currency IS NOT NULL AND a.currency <> l.currency) AS other_currency
			FROM journal_lines l JOIN accounts a ON a.id = l.account_id
			WHERE l.entry_id = e.id
			GROUP BY l.currency) g ON true
		WHERE e.id = ANY (ids)
		GROUP BY e.id, e.status, e.date, s.lock_date
	LOOP
		IF r.status <> 'posted' THEN
			IF r.any_posted THEN
				PERFORM ledger_rule('line_mismatch', 'lines', format('entry %s is a draft: its lines are drafts', r.id));
			END IF;
			CONTINUE;
		END IF;
		IF r.n < 2 THEN
			PERFORM ledger_rule('one_line', 'lines', format('entry %s has %s line(s); a posted entry needs at least 2', r.id, r.n));
		END IF;
		IF NOT r.ok THEN
			PERFORM ledger_rule('line_mismatch', 'lines', format('entry %s: every line of a posted entry is posted, on its date, in its company', r.id));
		END IF;
		IF r.unbalanced IS NOT NULL THEN
			PERFORM ledger_rule('unbalanced', 'lines', format('entry %s: debits and credits differ in %s', r.id, r.unbalanced));
		END IF;
		IF r.base <> 0 THEN
			PERFORM ledger_rule('unbalanced_base', 'lines', format('entry %s: debits and credits differ in the company currency', r.id));
		END IF;
		IF r.foreign_code IS NOT NULL THEN
			PERFORM ledger_rule('unknown_account', 'lines.account', format('account %s is not of this company', r.foreign_code));
		END IF;
		IF r.inactive_code IS NOT NULL THEN
			PERFORM ledger_rule('inactive_account', 'lines.account', format('account %s is inactive', r.inactive_code));
		END IF;
		IF r.other_currency IS NOT NULL THEN
			PERFORM ledger_rule('account_currency', 'lines.currency', r.other_currency);
		END IF;
		IF r.lock_date IS NOT NULL AND r.date <= r.lock_date THEN
			PERFORM ledger_rule('period_locked', 'date', format('%s is on or before the lock date %s', r.date, r.lock_date));
		END IF;
	END LOOP;
END $$;

-- A posting writes its lines, then its entries in one statement: at the
-- end of that statement every entry it made is complete, and checked
-- together. No line can join an entry once it exists as posted
-- (ledger_lines_join), so what is checked here stays so.
CREATE FUNCTION ledger_entries_inserted() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
	PERFORM ledger_check_entries(ARRAY(SELECT id FROM new_entries));
	RETURN NULL;
END $$;
CREATE TRIGGER journal_entries_inserted AFTER INSERT ON journal_entries
	REFERENCING NEW TABLE AS new_entries FOR EACH STATEMENT
	EXECUTE FUNCTION ledger_entries_inserted();

-- Approving a draft posts the entry, then its lines (a later statement):
-- checked at commit.
CREATE FUNCTION ledger_entry_posted() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
	PERFORM ledger_check_entries(ARRAY[NEW.id]);
	RETURN NULL;
END $$;
CREATE CONSTRAINT TRIGGER journal_entries_posted_update AFTER UPDATE ON journal_entries
	DEFERRABLE INITIALLY DEFERRED FOR EACH ROW WHEN (NEW.status = 'posted' AND OLD.status <> 'posted')
	EXECUTE FUNCTION ledger_entry_posted();

-- ledger_lines_join: a line joins an entry that exists only while it is a
-- draft, and as a draft line; a posting writes its lines before its entry.
CREATE FUNCTION ledger_lines_join() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
	r record;
BEGIN
	-- One lookup by key per line (a join could scan the entries once
	-- per line: the transition table has no statistics).
	SELECT x.entry_id, x.status INTO r FROM (
		SELECT n.entry_id, n.posted, (SELECT e.status FROM journal_entries e WHERE e.id = n.entry_id) AS status FROM new_lines n) x
		WHERE x.status = 'posted' OR x.status = 'draft' AND x.posted LIMIT 1;
	IF FOUND THEN
		PERFORM ledger_rule('immutable', 'lines', format('entry %s is %s: no posted line joins it, and no line joins a posted entry', r.entry_id, r.status));
	END IF;
	RETURN NULL;
END $$;
CREATE TRIGGER journal_lines_join AFTER INSERT ON journal_lines
	REFERENCING NEW TABLE AS new_lines FOR EACH STATEMENT
	EXECUTE FUNCTION ledger_lines_join();

-- Posted entries are immutable: no delete, and no update but setting the
-- reversal link once.
CREATE FUNCTION ledger_entry_immutable() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
	IF TG_OP = 'DELETE' THEN
		IF OLD.status = 'posted' THEN
			PERFORM ledger_rule('immutable', 'id', format('entry %s is posted: it cannot be deleted, only reversed', OLD.id));
		END IF;
		RETURN OLD;
	END IF;
	IF OLD.status = 'posted' THEN
		IF OLD.reversed_by_id IS NOT NULL
			OR (to_jsonb(NEW) - '{reversed_by_id,reversed_by,reversed_at}'::text[])
				IS DISTINCT FROM (to_jsonb(OLD) - '{reversed_by_id,reversed_by,reversed_at}'::text[]) THEN
			PERFORM ledger_rule('immutable', 'id', format('entry %s is posted: only its reversal link may be set, once', OLD.id));
		END IF;
	END IF;
	RETURN NEW;
END $$;
CREATE TRIGGER journal_entries_immutable BEFORE UPDATE OR DELETE ON journal_entries
	FOR EACH ROW EXECUTE FUNCTION ledger_entry_immutable();

CREATE FUNCTION ledger_line_immutable() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
	st text;
BEGIN
	IF OLD.posted THEN
		PERFORM ledger_rule('immutable', 'lines', format('line %s of entry %s is posted', OLD.line_no, OLD.entry_id));
	END IF;
	IF TG_OP = 'DELETE' THEN
		RETURN OLD;
	END IF;
	-- A draft's line becomes posted only as its entry is approved (the
	-- entry first), and stays a draft line while the entry is a draft.
	SELECT status INTO st FROM journal_entries WHERE id = NEW.entry_id;
	IF NEW.posted AND st IS DISTINCT FROM 'posted' OR NOT NEW.posted AND st = 'posted' THEN
		PERFORM ledger_rule('immutable', 'lines', format('a line of entry %s must have its status', NEW.entry_id));
	END IF;
	RETURN NEW;
END $$;
CREATE TRIGGER journal_lines_immutable BEFORE UPDATE OR DELETE ON journal_lines
	FOR EACH ROW EXECUTE FUNCTION ledger_line_immutable();

CREATE FUNCTION ledger_refuse_truncate() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
	PERFORM ledger_rule('immutable', '', format('%s cannot be truncated', TG_TABLE_NAME));
	RETURN NULL;
END $$;
CREATE TRIGGER journal_entries_no_truncate BEFORE TRUNCATE ON journal_entries
	FOR EACH STATEMENT EXECUTE FUNCTION ledger_refuse_truncate();
CREATE TRIGGER journal_lines_no_truncate BEFORE TRUNCATE ON journal_lines
	FOR EACH STATEMENT EXECUTE FUNCTION ledger_refuse_truncate();

-- The company's books start in KES with the currencies of the region and
-- a Kenyan SME chart of accounts; role marks the accounts other domains
-- post to.
INSERT INTO ledger_settings (company_id) VALUES (current_setting('app.company_id')::uuid);
INSERT INTO currencies (company_id, code, scale, name)
SELECT current_setting('app.company_id')::uuid, c.code, c.scale, c.name FROM (VALUES
	('KES', 2, 'Kenyan shilling'),
	('USD', 2, 'US dollar'),
	('EUR', 2, 'Euro'),
	('GBP', 2, 'Pound sterling'),
	('UGX', 0, 'Ugandan shilling'),
	('TZS', 2, 'Tanzanian shilling')) AS c(code, scale, name);
INSERT INTO accounts (company_id, code, name, type, role)
SELECT current_setting('app.company_id')::uuid, a.code, a.name, a.type, a.role FROM (VALUES
	('1100', 'Bank', 'asset', 'bank'),
	('1110', 'M-Pesa', 'asset', 'mpesa'),
	('1120', 'Cash on hand', 'asset', NULL),
	('1200', 'Accounts receivable', 'asset', 'ar'),
	('1210', 'Advances to vendors', 'asset', 'vendor_advances'),
	('1300', 'VAT input', 'asset', 'vat_input'),
	('1310', 'Withholding VAT receivable', 'asset', 'wht_vat_receivable'),
	('1400', 'Inventory', 'asset', NULL),
	('1500', 'Property, plant and equipment', 'asset', NULL),
	('1900', 'Suspense', 'asset', 'suspense'),
	('2100', 'Accounts payable', 'liability', 'ap'),
	('2110', 'Advances from customers', 'liability', 'customer_advances'),
	('2200', 'VAT output', 'liability', 'vat_output'),
	('2300', 'PAYE payable', 'liability', NULL),
	('2310', 'NSSF payable', 'liability', NULL),
	('2320', 'SHIF payable', 'liability', NULL),
	('2330', 'Housing levy payable', 'liability', NULL),
	('2400', 'Accrued expenses', 'liability', NULL),
	('2500', 'Loans', 'liability', NULL),
	('3000', 'Share capital', 'equity', NULL),
	('3100', 'Retained earnings', 'equity', 'retained_earnings'),
	('3900', 'Currency conversion', 'equity', 'conversion'),
	('4000', 'Sales', 'income', 'revenue'),
	('4100', 'Other income', 'income', NULL),
	('4200', 'Exchange gains and losses', 'income', 'fx'),
	('5000', 'Cost of sales', 'expense', 'cost_of_sales'),
	('6000', 'General expenses', 'expense', 'expenses'),
	('6100', 'Salaries and wages', 'expense', NULL),
	('6200', 'Rent', 'expense', NULL),
	('6300', 'Electricity and water', 'expense', NULL),
	('6400', 'Bank and M-Pesa charges', 'expense', NULL),
	('6500', 'Transport', 'expense', NULL),
	('6600', 'Telephone and internet', 'expense', NULL),
	('6700', 'Professional fees', 'expense', NULL),
	('6800', 'Depreciation', 'expense', NULL)) AS a(code, name, type, role);
