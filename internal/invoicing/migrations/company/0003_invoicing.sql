-- Invoicing: contacts, tax codes, invoices (AR), bills (AP), credit notes,
-- payments and their allocations, and the gapless document counters. Every
-- table has company_id; the migrator secures each one (owner, forced
-- row-level security, the tenant policies, grants) after this step.
-- Entries these documents post live in the ledger's tables (0002); a
-- document keeps the id of the entry it posted.

-- A customer, a vendor, or both. kra_pin is stored as
-- tenancy.NormalizeTaxID spells it (upper case, no spaces).
CREATE TABLE contacts (
	company_id         uuid        NOT NULL,
	id                 uuid        PRIMARY KEY,
	kind               text        NOT NULL CHECK (kind IN ('customer', 'vendor', 'both')),
	name               text        NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
	kra_pin            text        NULL CHECK (kra_pin ~ '^[AP][0-9]{9}[A-Z]$'),
	email              text        NOT NULL DEFAULT '',
	phone              text        NOT NULL DEFAULT '',
	address            text        NOT NULL DEFAULT '',
	currency           text        NULL,
	payment_terms_days integer     NOT NULL DEFAULT 30 CHECK (payment_terms_days BETWEEN 0 AND 3650),
	active             boolean     NOT NULL DEFAULT true,
	created_at         timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX contacts_by_name ON contacts (company_id, name, id);

-- Tax codes are data with effective dates: a rate that changes (Kenya
-- moved petroleum products from 8% to 16% on 1 July 2023 by the Finance
-- Act 2023) is a new row of the same code from that date, and a document
-- uses the row in force on its date. Rates are percent as exact numerics.
--
-- etims_letter is the tax type code KRA's eTIMS puts on every item of a
-- tax invoice. The OSCU/VSCU specification's code table "Tax Type" lists
-- A "A-Exempt", B "B-16.00%", C "C-0%", D "D-Non-VAT", E "E-8%" (as
-- transcribed in github.com/paybillke/kra-etims-oscu-docs,
-- docs/code-definition/tax-type.md); C is the zero-rated supply, D a
-- supply outside VAT. Withholding VAT is no item tax and has no letter.
CREATE TABLE tax_codes (
	company_id     uuid          NOT NULL,
	id             uuid          PRIMARY KEY,
	code           text          NOT NULL CHECK (code ~ '^[A-Z0-9_-]{1,20}$'),
	name           text          NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
	kind           text          NOT NULL CHECK (kind IN ('standard', 'zero_rated', 'exempt', 'non_vat', 'withholding_vat')),
	rate           numeric(7, 4) NOT NULL CHECK (rate >= 0 AND rate < 100),
	etims_letter   text          NULL CHECK (etims_letter IN ('A', 'B', 'C', 'D', 'E')),
	effective_from date          NOT NULL,
	effective_to   date          NULL,
	created_at     timestamptz   NOT NULL DEFAULT now(),
	CHECK (effective_to IS NULL OR effective_to >= effective_from),
	CHECK (kind <> 'standard' OR rate > 0),
	CHECK (kind NOT IN ('zero_rated', 'exempt', 'non_vat') OR rate = 0),
	UNIQUE (company_id, code, effective_from)
);

-- Kenya's codes. VAT Act 2013 (in force 2 September 2013): 16% standard,
-- zero-rated and exempt supplies; 8% on petroleum products from 21
-- September 2018 (Finance Act 2018); withholding VAT at 2% of the taxable
-- value, withheld by appointed agents (Finance Act 2019). A company edits
-- or ends them (PATCH tax-codes/{id}) and adds its own.
INSERT INTO tax_codes (company_id, id, code, name, kind, rate, etims_letter, effective_from) VALUES
	(current_setting('app.company_id')::uuid, gen_random_uuid(), 'VAT16', 'VAT 16% (standard rate)', 'standard', 16, 'B', '2013-09-02'),
	(current_setting('app.company_id')::uuid, gen_random_uuid(), 'VAT8', 'VAT 8% (petroleum products)', 'standard', 8, 'E', '2018-09-21'),
	(current_setting('app.company_id')::uuid, gen_random_uuid(), 'ZERO', 'Zero-rated (0%)', 'zero_rated', 0, 'C', '2013-09-02'),
	(current_setting('app.company_id')::uuid, gen_random_uuid(), 'EXEMPT', 'Exempt', 'exempt', 0, 'A', '2013-09-02'),
	(current_setting('app.company_id')::uuid, gen_random_uuid(), 'NONVAT', 'Non-VAT (outside the scope of VAT)', 'non_vat', 0, 'D', '2013-09-02'),
	(current_setting('app.company_id')::uuid, gen_random_uuid(), 'WHVAT2', 'Withholding VAT 2%', 'withholding_vat', 2, NULL, '2019-11-07');

-- The last number given out per document prefix and year. Issuing bumps
-- the row in the issuing transaction: a rollback gives the number back,
-- and concurrent issuers queue on the row lock, so numbers have no gap and
-- no twin (a sequence would leave gaps on rollback).
CREATE TABLE document_counters (
	company_id uuid    NOT NULL,
	prefix     text    NOT NULL CHECK (prefix IN ('INV', 'BILL', 'CN')),
	year       integer NOT NULL CHECK (year BETWEEN 1900 AND 9999),
	last       bigint  NOT NULL CHECK (last > 0),
	PRIMARY KEY (company_id, prefix, year)
);

-- Invoices (AR), bills (AP) and credit notes (against an invoice), one
-- table: they share lines, numbering and posting. Amounts are minor units
-- of the document's currency; rate is company currency per unit (NULL in
-- the company currency). paid is what payments allocated, credited what
-- credit notes took off; the balance due is total - paid - credited.
CREATE TABLE invoices (
	company_id    uuid        NOT NULL,
	id            uuid        PRIMARY KEY,
	kind          text        NOT NULL CHECK (kind IN ('invoice', 'bill', 'credit_note')),
	number        text        NULL,
	contact_id    uuid        NOT NULL REFERENCES contacts (id),
	credit_of     uuid        NULL REFERENCES invoices (id),
	currency      text        NOT NULL,
	rate          numeric     NULL CHECK (rate > 0),
	issue_date    date        NOT NULL,
	due_date      date        NOT NULL,
	reference     text        NOT NULL DEFAULT '',
	notes         text        NOT NULL DEFAULT '',
	status        text        NOT NULL CHECK (status IN ('draft', 'issued', 'partially_paid', 'paid', 'void')),
	subtotal      bigint      NOT NULL DEFAULT 0,
	tax_total     bigint      NOT NULL DEFAULT 0,
	total         bigint      NOT NULL DEFAULT 0,
	paid          bigint      NOT NULL DEFAULT 0 CHECK (paid >= 0),
	credited      bigint      NOT NULL DEFAULT 0 CHECK (credited >= 0),
	entry_id      uuid        NULL,
	void_entry_id uuid        NULL,
	voided_at     date        NULL,
	created_by    text        NOT NULL DEFAULT '',
	created_at    timestamptz NOT NULL DEFAULT now(),
	issued_by     text        NULL,
	issued_at     timestamptz NULL,
	CHECK (due_date >= issue_date),
	CHECK (paid + credited <= total),
	CHECK ((status = 'draft') = (number IS NULL)),
	CHECK ((kind = 'credit_note') = (credit_of IS NOT NULL)),
	UNIQUE (company_id, number)
);
CREATE INDEX invoices_list ON invoices (company_id, kind, created_at DESC, id);
CREATE INDEX invoices_open ON invoices (company_id, contact_id, due_date) WHERE status IN ('issued', 'partially_paid');

CREATE TABLE invoice_lines (
	company_id   uuid           NOT NULL,
	invoice_id   uuid           NOT NULL REFERENCES invoices (id) ON DELETE CASCADE,
	line_no      integer        NOT NULL CHECK (line_no > 0),
	description  text           NOT NULL DEFAULT '',
	quantity     numeric(20, 4) NOT NULL CHECK (quantity > 0),
	unit_price   bigint         NOT NULL CHECK (unit_price >= 0),
	account      text           NOT NULL,
	tax_code     text           NOT NULL,
	tax_rate     numeric(7, 4)  NOT NULL,
	etims_letter text           NULL,
	net          bigint         NOT NULL,
	tax          bigint         NOT NULL,
	PRIMARY KEY (invoice_id, line_no)
);

-- Money received from a customer or paid to a vendor. withholding is the
-- withholding VAT a customer kept back (its certificate is a credit
-- against VAT payable); amount + withholding settles invoices, and what no
-- invoice takes (unallocated) sits in customer or vendor advances.
CREATE TABLE payments (
	company_id  uuid        NOT NULL,
	id          uuid        PRIMARY KEY,
	direction   text        NOT NULL CHECK (direction IN ('received', 'made')),
	contact_id  uuid        NOT NULL REFERENCES contacts (id),
	date        date        NOT NULL,
	currency    text        NOT NULL,
	rate        numeric     NULL CHECK (rate > 0),
	amount      bigint      NOT NULL CHECK (amount > 0),
	withholding bigint      NOT NULL DEFAULT 0 CHECK (withholding >= 0),
	account     text        NOT NULL,
	reference   text        NOT NULL DEFAULT '',
	unallocated bigint      NOT NULL DEFAULT 0 CHECK (unallocated >= 0),
	entry_id    uuid        NULL,
	created_by  text        NOT NULL DEFAULT '',
	created_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX payments_list ON payments (company_id, created_at DESC, id);

CREATE TABLE payment_allocations (
	company_id uuid   NOT NULL,
	payment_id uuid   NOT NULL REFERENCES payments (id),
	invoice_id uuid   NOT NULL REFERENCES invoices (id),
	amount     bigint NOT NULL CHECK (amount > 0),
	PRIMARY KEY (payment_id, invoice_id)
);
CREATE INDEX payment_allocations_by_invoice ON payment_allocations (invoice_id);
