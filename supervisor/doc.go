// Package supervisor starts, health-checks, restarts and stops a set of
// programs, in the spirit of a container's PID 1.
//
// It knows nothing about what the programs are. A caller describes each one
// with a Program (command, user, dependencies, health check, restart and
// stop policy) and hands the set to New, which validates all of it before
// anything runs. Run then starts programs in dependency order, independent
// ones in parallel, each only once its dependencies are healthy, and stops
// them in reverse order when its context ends.
//
// Every child exit in the process goes through one Reaper: it is the only
// code that calls wait4, so exit statuses are never stolen between a
// per-process wait and a reap-everything loop, and orphans re-parented to
// this process (as PID 1 or as a child subreaper) are reaped too.
package supervisor
