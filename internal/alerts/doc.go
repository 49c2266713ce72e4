// Package alerts evaluates alert rules over samples that other parts of the
// appliance provide (host, services, API, backups, trends, security), keeps
// each alert's firing and resolved state in PostgreSQL, and notifies an
// operator once when an alert fires and once when it resolves, by webhook
// and by email.
package alerts
