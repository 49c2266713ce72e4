// Package appliance turns the generic supervisor into the Vanta appliance:
// it holds the service catalog (PostgreSQL, Redis, the document store, model
// servers, admin tools), provisions the data directory on first boot, and
// orchestrates boot and shutdown of `vanta init`.
package appliance
