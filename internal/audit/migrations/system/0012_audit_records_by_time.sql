-- Listings filtered by date (from/to on the audit routes) find their
-- records through this index instead of walking the chain from its head:
-- last March's records in a chain of years are a range of it.
CREATE INDEX IF NOT EXISTS records_chain_at ON audit.records (chain, at);
