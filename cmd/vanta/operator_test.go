package main

import (
	"context"
	"encoding/json"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/google/uuid"
	"github.com/redis/go-redis/v9"

	"github.com/vanta-ledger/vanta/appliance"
	"github.com/vanta-ledger/vanta/internal/tenancy"
)

// ctlService reports one service through `vanta ctl status --json`, which
// needs no token once a GOD exists (the control socket is root's alone).
func ctlService(t *testing.T, data, name string) appliance.ServiceReport {
	t.Helper()
	out, err := exec.Command(vantaBin, "ctl", "status", "--json", "--data", data).Output()
	if err != nil {
		t.Fatalf("ctl status --json: %v", err)
	}
	var rep appliance.ServicesReport
	if err := json.Unmarshal(out, &rep); err != nil {
		t.Fatalf("ctl status --json: %v\n%s", err, out)
	}
	for _, s := range rep.Services {
		if s.Name == name {
			return s
		}
	}
	t.Fatalf("no service %s in %s", name, out)
	return appliance.ServiceReport{}
}

// TestRedisReplaysTransactionsAfterKill kills Redis after a company's
// user wrote inside MULTI/EXEC and the appliance's user ran a Lua script
// (whose effects the AOF records as MULTI/EXEC too): the restarted Redis
// must replay both, not refuse them with NOPERM and lose the writes.
func TestRedisReplaysTransactionsAfterKill(t *testing.T) {
	w := newWorld(t)
	in := w.in
	ctx := context.Background()
	admin := redisClient(t, w.data)

	// Connect as company A's own ACL user, with its rules as tenancy
	// provisioning made them; only a password of ours is added.
	scope := tenancy.NewScope(uuid.MustParse(w.a.ID))
	if err := admin.Do(ctx, "ACL", "SETUSER", scope.RedisUser(), ">test-only-password").Err(); err != nil {
		t.Fatal(err)
	}
	company := redis.NewClient(&redis.Options{Network: "unix", Addr: filepath.Join(w.data, "run", "redis", "redis.sock"),
		Username: scope.RedisUser(), Password: "test-only-password", MaxRetries: -1})
	t.Cleanup(func() { company.Close() })
	prefix := scope.RedisPrefix()
	if _, err := company.TxPipelined(ctx, func(p redis.Pipeliner) error {
		p.Set(ctx, prefix+"replay", "kept", 0)
		p.IncrBy(ctx, prefix+"counter", 7)
		return nil
	}); err != nil {
		t.Fatalf("company MULTI/EXEC: %v", err)
	}
	if err := admin.Eval(ctx, "redis.call('SET', KEYS[1], ARGV[1]) return redis.call('INCR', KEYS[2])", []string{"probe:script", "probe:script-n"}, "ran").Err(); err != nil {
		t.Fatalf("script: %v", err)
	}

	before := ctlService(t, w.data, "redis")
	if err := syscall.Kill(before.PID, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	in.waitLine("redis healthy again", func(l map[string]any) bool {
		return stateLine("redis", "healthy")(l) && l["from"] == "starting"
	})

	admin = redisClient(t, w.data)
	for key, want := range map[string]string{prefix + "replay": "kept", prefix + "counter": "7", "probe:script": "ran", "probe:script-n": "1"} {
		if got, err := admin.Get(ctx, key).Result(); err != nil || got != want {
			t.Errorf("%s after kill -9: %q, %v; want %q", key, got, err, want)
		}
	}
	in.mu.Lock()
	for _, l := range in.lines {
		if line, _ := l["line"].(string); l["program"] == "redis" && (strings.Contains(line, "NOPERM") || strings.Contains(line, "CRITICAL")) {
			t.Errorf("redis logged: %s", line)
		}
	}
	in.mu.Unlock()

	// Allowing the default user everything must not let anyone use it:
	// it is off and has no password.
	anon := redis.NewClient(&redis.Options{Network: "unix", Addr: filepath.Join(w.data, "run", "redis", "redis.sock"), MaxRetries: -1})
	t.Cleanup(func() { anon.Close() })
	if err := anon.Get(ctx, prefix+"replay").Err(); err == nil || !strings.Contains(err.Error(), "NOAUTH") {
		t.Errorf("unauthenticated GET: %v", err)
	}
	asDefault := redis.NewClient(&redis.Options{Network: "unix", Addr: filepath.Join(w.data, "run", "redis", "redis.sock"), Username: "default", Password: "", MaxRetries: -1})
	t.Cleanup(func() { asDefault.Close() })
	if err := asDefault.Do(ctx, "AUTH", "default", "").Err(); err == nil {
		t.Error("AUTH as the default user succeeded")
	}
}
