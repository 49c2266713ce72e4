// Package security records the appliance's security events in PostgreSQL
// (the security schema): refused sign-ins and the brute force they add up
// to, lockouts, a member asking for another company's ids, wrong unseal
// shares, GOD acting from an address not seen lately, and audit chains
// that do not verify. It counts them per company and kind, lists them for
// GOD (and a company's own for its admins), and gives the alert evaluator
// its series (security_events_recent, audit_verify_failed).
//
// The request path never waits for the database: a Recorder takes events
// into a bounded queue that one goroutine writes; when the queue is full
// the event is dropped and counted, never blocking a request. Detection
// that needs history (brute force over a window, an address GOD has not
// used) runs in that goroutine, against the Store, with the time passed
// in explicitly so that tests drive it with a fake clock.
package security
