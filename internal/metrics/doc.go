// Package metrics is the appliance's Prometheus registry: host, supervised
// services, API requests, database pools, Redis, the job queue, AI
// inference, per-company figures and the Go runtime, served as text at
// /metrics; and the live series the alert evaluator reads (AlertSource).
//
// Every label value is bounded: a route template, a service name, a
// company id, a configured directory, a device or interface of the host,
// a fixed list of states. Nothing a client sends becomes a label.
package metrics
