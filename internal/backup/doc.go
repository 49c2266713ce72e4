// Package backup makes, verifies and restores whole-appliance backup sets:
// PostgreSQL through pgBackRest (full, differential and incremental, with
// WAL archiving for point-in-time recovery) and everything else on the data
// directory (the document store, company files, the seal, audit checkpoints,
// secrets, TLS) as age-encrypted parts beside a plain manifest. Schedules
// with retention run in the appliance; restore runs with it stopped.
package backup
