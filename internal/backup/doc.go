// Package backup takes and restores the appliance's backups. PostgreSQL
// is backed up by pgBackRest (PGBackRest): full, differential and
// incremental backups into an encrypted repository under the backup
// directory, with the server's WAL archived there continuously, so the
// database can be restored to any moment the archive covers. Every
// external tool it starts goes through a CommandRunner, which vanta init
// points at its reaper and which runs the tool as the right account.
//
// A backup set (Service.Create) is the whole appliance at one moment: the
// pgBackRest backup plus the document store (a VACUUM INTO copy, or
// mongodump), company files, seal, audit checkpoints, secrets and TLS, as
// age-encrypted parts beside a plain manifest. Scheduler runs the
// schedule and the retention; Restore puts a set back with the appliance
// stopped.
package backup
