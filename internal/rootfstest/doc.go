// Package rootfstest proves the appliance image's behaviour as PID 1 in a
// real root filesystem: scripts/rootfs-test builds a Debian 12 root with the
// packages of packages.list, copies the vanta binary, rootfs/ and Mongo
// Express into it, and runs this package's test (build tag rootfs) with
// VANTA_ROOTFS naming that root. The test starts `vanta init` as PID 1 of new
// PID and mount namespaces, chrooted into the root, on the host's network.
//
// Without the tag `go test ./...` builds no test here; with it and without
// VANTA_ROOTFS the test fails, it never skips.
package rootfstest
