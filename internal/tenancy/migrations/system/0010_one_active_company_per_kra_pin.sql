-- A KRA PIN is unique among the companies that are not archived.
-- Companies that were twins before the rule keep their PINs, marked
-- tax_id_twin (all but the oldest of each PIN), and leave the rule's reach
-- only until their PIN is changed; the operator finds them with
-- SELECT id, name, tax_id FROM vanta.companies WHERE tax_id_twin.
ALTER TABLE vanta.companies ADD COLUMN IF NOT EXISTS tax_id_twin boolean NOT NULL DEFAULT false;
UPDATE vanta.companies SET tax_id = upper(regexp_replace(tax_id, '\s', '', 'g'));
UPDATE vanta.companies c SET tax_id_twin = true
	WHERE c.tax_id <> '' AND c.status <> 'archived' AND EXISTS (
		SELECT 1 FROM vanta.companies o WHERE o.tax_id = c.tax_id AND o.status <> 'archived'
		AND (o.created_at, o.id) < (c.created_at, c.id));
CREATE UNIQUE INDEX IF NOT EXISTS companies_tax_id_active ON vanta.companies (tax_id)
	WHERE tax_id <> '' AND status <> 'archived' AND NOT tax_id_twin;

GRANT UPDATE (tax_id_twin) ON vanta.companies TO vanta_app;
