-- The runtime role reads the companies (row-level security does not apply
-- here: membership checks do).
GRANT USAGE ON SCHEMA vanta TO vanta_app;
GRANT SELECT ON vanta.companies TO vanta_app;
