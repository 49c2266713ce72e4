-- A company's admins change its configuration through the runtime role.
GRANT UPDATE (name, registration_number, tax_id, industry, address, phone, email, settings) ON vanta.companies TO vanta_app;
