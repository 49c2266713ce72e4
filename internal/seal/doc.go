// Package seal guards the appliance's keys. A master secret, generated at
// init and never stored, is split into Shamir shares held by custodians; a
// threshold of them rebuilds it, which unlocks the key-encryption key (KEK)
// through a KeyProvider, which unwraps the root keyring. Everything else
// (company data keys, token signing keys) is wrapped by that keyring.
//
// While sealed the process holds no key at all. Key material lives in
// locked memory and is zeroed on seal.
package seal
