// The go tool takes a directory with its own go.mod for another module and
// never walks into it, so `go vet ./...` and `go test ./...` stay out of
// var/: scripts/run's data directory and the test beds' root filesystems
// live here, and a root filesystem being built by debootstrap has /proc
// mounted inside it, which ./... cannot read.
module var
