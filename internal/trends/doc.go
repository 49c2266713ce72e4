// Package trends keeps the appliance's own metric history without an
// outside Prometheus: every minute a Recorder takes the current samples of
// an alert source (the live series of internal/metrics) and stores them in
// PostgreSQL as per-minute points, kept one day, and per-hour rollups
// (min, max, average), kept 90 days. A Store answers history queries for
// the console's trends. An Advisor turns simple trends into advice
// samples (disk full in N days, a company near its storage quota, a route
// getting slower) that alert rules raise at the info level.
//
// Every function that depends on the time takes it as an argument (`now`),
// so that tests drive a fake clock.
package trends
