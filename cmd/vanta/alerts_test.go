package main

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// hookAlert is one alert of the webhook's Alertmanager-shaped body.
type hookAlert struct {
	Status      string            `json:"status"`
	Labels      map[string]string `json:"labels"`
	Annotations map[string]string `json:"annotations"`
	StartsAt    time.Time         `json:"startsAt"`
	EndsAt      time.Time         `json:"endsAt"`
	Fingerprint string            `json:"fingerprint"`
}

// alertReceiver is a webhook receiver: every alert of every body it gets
// goes to the channel.
func alertReceiver(t *testing.T) (string, <-chan hookAlert) {
	ch := make(chan hookAlert, 256)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var body struct {
			Version string      `json:"version"`
			Status  string      `json:"status"`
			Alerts  []hookAlert `json:"alerts"`
		}
		if err := json.NewDecoder(r.Body).Decode(&body); err != nil || body.Version != "4" {
			http.Error(w, "bad body", http.StatusBadRequest)
			return
		}
		for _, a := range body.Alerts {
			ch <- a
		}
	}))
	t.Cleanup(srv.Close)
	return srv.URL, ch
}

// awaitAlert waits for an alert of rule in state with the label given,
// skipping others; it fails at the guard.
func awaitAlert(t *testing.T, ch <-chan hookAlert, rule, state, label, value string) hookAlert {
	t.Helper()
	deadline := time.After(guard)
	for {
		select {
		case a := <-ch:
			if a.Labels["alertname"] == rule && a.Status == state && a.Labels[label] == value {
				return a
			}
		case <-deadline:
			t.Fatalf("no %s %s{%s=%q} at the webhook within %s", state, rule, label, value, guard)
		}
	}
}

// tmpfsDataDir is a data directory on a tmpfs of size MiB of its own, so
// that a test can fill it; it is unmounted when the test ends.
func tmpfsDataDir(t *testing.T, sizeMiB int) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "vanta-tmpfs-")
	if err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command("mount", "-t", "tmpfs", "-o", fmt.Sprintf("size=%dm,mode=0711", sizeMiB), "tmpfs", dir).CombinedOutput(); err != nil {
		os.Remove(dir)
		t.Fatalf("mount a tmpfs (the test runs as root): %v: %s", err, out)
	}
	t.Cleanup(func() {
		if out, err := exec.Command("umount", dir).CombinedOutput(); err != nil {
			t.Errorf("umount %s: %v: %s", dir, err, out)
			return
		}
		os.Remove(dir)
	})
	return dir
}

// Acceptance 5: a crash-looping service and a full disk each raise their
// alert, which reaches a webhook receiver — the crash loop while the
// appliance is still sealed (evaluation needs no keys) — and GOD lists
// them at GET /api/v1/sys/alerts. One appliance, on a small tmpfs.
func TestAlertsReachWebhook(t *testing.T) {
	hook, got := alertReceiver(t)
	crash := filepath.Join(t.TempDir(), "crash")
	conf := filepath.Join(t.TempDir(), "appliance.yaml")
	yaml := fmt.Sprintf(`programs:
  - name: flaky
    command: sh
    args: ["-c", "if [ -e %s ]; then exit 1; fi; exec sleep 3600"]
    backoff: {initial: 100ms, max: 1s, retries: 5}
alerts:
  - name: disk_full
    for: 0s
`, crash)
	if err := os.WriteFile(conf, []byte(yaml), 0o644); err != nil {
		t.Fatal(err)
	}
	data := tmpfsDataDir(t, 320)
	in := bootWith(t, data, []string{"VANTA_CONFIG=" + conf, "VANTA_ALERT_WEBHOOK=" + hook, "VANTA_ALERT_INTERVAL=1s"})
	in.waitReady()
	in.sawLine("alerts started", func(l map[string]any) bool { return l["msg"] == "background service started" && l["name"] == "alerts" })

	// The service crashes from now on: killed, it is restarted into exit 1.
	if err := os.WriteFile(crash, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	pid := in.service("flaky").PID
	if pid <= 0 {
		t.Fatalf("flaky has no pid (%d) once ready", pid)
	}
	if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	a := awaitAlert(t, got, "service_restart_loop", "firing", "service", "flaky")
	if a.Labels["severity"] != "critical" || !strings.Contains(a.Annotations["summary"], "flaky is restarting in a loop") || a.StartsAt.IsZero() {
		t.Fatalf("crash loop alert %+v", a)
	}
	if !in.sealStatus().Sealed {
		t.Fatal("the appliance was unsealed")
	}

	// Fill the data directory's filesystem past 90 %.
	var fs unix.Statfs_t
	if err := unix.Statfs(data, &fs); err != nil {
		t.Fatal(err)
	}
	bs := int64(fs.Bsize)
	total, free := int64(fs.Blocks)*bs, int64(fs.Bavail)*bs
	fill := free - total*4/100 // leave 4 %: 96 % used
	if fill <= 0 {
		t.Fatalf("the tmpfs is already %d%% full: make it bigger", 100-free*100/total)
	}
	ballast := filepath.Join(data, "ballast")
	f, err := os.Create(ballast)
	if err != nil {
		t.Fatal(err)
	}
	if err := unix.Fallocate(int(f.Fd()), 0, 0, fill); err != nil {
		t.Fatal(err)
	}
	f.Close()
	a = awaitAlert(t, got, "disk_full", "firing", "path", data)
	if a.Labels["severity"] != "critical" || !strings.Contains(a.Annotations["summary"], "% full") {
		t.Fatalf("disk alert %+v", a)
	}
	// Freed, it resolves, and the receiver hears that once too.
	if err := os.Remove(ballast); err != nil {
		t.Fatal(err)
	}
	r := awaitAlert(t, got, "disk_full", "resolved", "path", data)
	if r.Fingerprint != a.Fingerprint || r.EndsAt.IsZero() || !r.StartsAt.Equal(a.StartsAt) {
		t.Fatalf("resolution %+v of %+v", r, a)
	}

	// A failed backup: the set has nowhere to go (its directory is a
	// file), the command says so, and the alert reaches the receiver.
	sets := filepath.Join(data, "backups", "sets")
	if err := os.RemoveAll(sets); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(sets, []byte("not a directory"), 0o600); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command(vantaBin, "backup", "now", "--data", data, "--json").CombinedOutput(); err == nil {
		t.Fatalf("vanta backup now succeeded with no room for its set:\n%s", out)
	}
	if b := awaitAlert(t, got, "backup_failed", "firing", "alertname", "backup_failed"); b.Labels["severity"] != "critical" {
		t.Fatalf("backup alert %+v", b)
	}

	// The operator sees them on the box, sealed.
	out, err := exec.Command(vantaBin, "ctl", "alerts", "--data", data, "--state", "firing").Output()
	if err != nil || !strings.Contains(string(out), "service_restart_loop") || !strings.Contains(string(out), "service=flaky") {
		t.Fatalf("vanta ctl alerts: %v\n%s", err, out)
	}

	// GOD lists them; nobody else does.
	in.unseal(in.initSeal(2, 2))
	var god struct {
		TOTP struct{ Secret string }
	}
	in.mustCall("POST", "/api/v1/sys/setup/god", "", map[string]string{"email": "god@vanta.test", "name": "Creator", "password": "correct horse battery staple"}, 201, &god)
	tok := in.login("god@vanta.test", "correct horse battery staple", god.TOTP.Secret).AccessToken
	if code, body := in.call("GET", "/api/v1/sys/alerts", "", nil); code != 401 {
		t.Fatalf("alerts without a token: %d %s", code, body)
	}
	var list struct {
		Items []struct {
			ID         int64             `json:"id"`
			Rule       string            `json:"rule"`
			Level      string            `json:"level"`
			State      string            `json:"state"`
			Labels     map[string]string `json:"labels"`
			Value      string            `json:"value"`
			Summary    string            `json:"summary"`
			StartedAt  *time.Time        `json:"started_at"`
			ResolvedAt *time.Time        `json:"resolved_at"`
		} `json:"items"`
		NextCursor string `json:"next_cursor"`
	}
	in.mustCall("GET", "/api/v1/sys/alerts?state=firing", tok, nil, 200, &list)
	found := false
	for _, it := range list.Items {
		if it.State != "firing" || it.StartedAt == nil || it.ResolvedAt != nil {
			t.Fatalf("firing list has %+v", it)
		}
		found = found || (it.Rule == "service_restart_loop" && it.Labels["service"] == "flaky" && it.Level == "critical" && atLeast(it.Value, 3))
	}
	if !found {
		t.Fatalf("firing alerts %+v lack the crash loop", list.Items)
	}
	in.mustCall("GET", "/api/v1/sys/alerts?state=resolved&limit=1", tok, nil, 200, &list)
	if len(list.Items) != 1 || list.Items[0].Rule != "disk_full" || list.Items[0].ResolvedAt == nil {
		t.Fatalf("resolved alerts %+v", list.Items)
	}
	if code, body := in.call("GET", "/api/v1/sys/alerts?state=loud", tok, nil); code != 400 || errorCode(body) != "validation_failed" {
		t.Fatalf("a bad state: %d %s", code, body)
	}
}

func atLeast(decimal string, n float64) bool {
	v, err := strconv.ParseFloat(decimal, 64)
	return err == nil && v >= n
}
