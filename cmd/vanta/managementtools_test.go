package main

import (
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/vanta-ledger/vanta/appliance"
)

// TestManagementToolsStatus boots with Mongo Express on (installed by
// scripts/install-deps in its default directory): `vanta ctl status
// --json` lists every service in boot order, Mongo Express started only
// once the document store was healthy and is healthy itself, pgAdmin is
// disabled with its reason, Mongo Express answers on its loopback port
// only, and only with its login, and it stops with the appliance.
func TestManagementToolsStatus(t *testing.T) {
	if _, err := os.Stat(appliance.DefaultMongoExpressDir + "/node_modules/mongo-express/app.js"); err != nil {
		t.Fatalf("Mongo Express is not installed (run scripts/install-deps): %v", err)
	}
	data := dataDir(t)
	port := freePort(t)
	in := bootWith(t, data, []string{"VANTA_MONGO_EXPRESS=" + appliance.DefaultMongoExpressDir, "VANTA_MONGO_EXPRESS_PORT=" + port})
	in.waitReady()
	in.waitAnyLine("mongo-express healthy", stateLine(appliance.ServiceMongoExpress, "healthy"))

	t.Run("ctl status", func(t *testing.T) {
		out, err := exec.Command(vantaBin, "ctl", "status", "--json", "--data", data).Output()
		if err != nil {
			t.Fatalf("ctl status --json: %v", err)
		}
		var rep appliance.ServicesReport
		if err := json.Unmarshal(out, &rep); err != nil {
			t.Fatalf("ctl status --json: %v\n%s", err, out)
		}
		var names []string
		byName := map[string]appliance.ServiceReport{}
		for _, s := range rep.Services {
			names = append(names, s.Name)
			byName[s.Name] = s
		}
		want := []string{"postgres", "redis", "mongodb", "llama", "pgadmin", "mongo-express"}
		if strings.Join(names, " ") != strings.Join(want, " ") {
			t.Errorf("services in order %v, want %v", names, want)
		}
		if me := byName["mongo-express"]; me.State != "healthy" || me.PID == 0 || me.Critical {
			t.Errorf("mongo-express %+v, want healthy, running, non-critical", me)
		}
		if pa := byName["pgadmin"]; pa.State != "disabled" || pa.Reason != "not installed: pgAdmin 4 ships in the image only (Debian 12 has no package)" {
			t.Errorf("pgadmin %+v", pa)
		}
	})

	t.Run("started after the document store", func(t *testing.T) {
		in.mu.Lock()
		lines := in.lines
		in.mu.Unlock()
		mongoHealthy, meStarted := -1, -1
		for i, l := range lines {
			if mongoHealthy < 0 && stateLine(appliance.ServiceMongo, "healthy")(l) {
				mongoHealthy = i
			}
			if meStarted < 0 && stateLine(appliance.ServiceMongoExpress, "starting")(l) {
				meStarted = i
			}
		}
		if mongoHealthy < 0 || meStarted < mongoHealthy {
			t.Fatalf("mongo-express started at log line %d, mongodb healthy at %d", meStarted, mongoHealthy)
		}
		healthy := in.waitAnyLine("mongo-express healthy", stateLine(appliance.ServiceMongoExpress, "healthy"))
		start, _ := time.Parse(time.RFC3339Nano, lines[meStarted]["time"].(string))
		up, _ := time.Parse(time.RFC3339Nano, healthy["time"].(string))
		t.Logf("Mongo Express took %s from its start to healthy", up.Sub(start).Round(time.Millisecond))
	})

	t.Run("its login, on loopback only", func(t *testing.T) {
		ctx := context.Background()
		mc := mongoClient(t, data)
		if _, err := mc.Database("tools_probe").Collection("c").InsertOne(ctx, bson.D{{Key: "k", Value: 1}}); err != nil {
			t.Fatal(err)
		}
		base := "http://127.0.0.1:" + port + "/admin/mongo/"
		pass := secret(t, data, "mongo-express")
		for _, tc := range []struct {
			name, user, pass string
			want             int
		}{
			{"no login", "", "", http.StatusUnauthorized},
			{"wrong password", "vanta", "nope", http.StatusUnauthorized},
			{"wrong user", "admin", pass, http.StatusUnauthorized},
			{"its login", "vanta", pass, http.StatusOK},
		} {
			req, _ := http.NewRequest("GET", base, nil)
			if tc.user != "" {
				req.SetBasicAuth(tc.user, tc.pass)
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != tc.want {
				t.Errorf("%s: %d, want %d", tc.name, resp.StatusCode, tc.want)
			}
			if tc.want == http.StatusOK && !strings.Contains(string(body), "tools_probe") {
				t.Errorf("%s: the database list lacks tools_probe:\n%.2000s", tc.name, body)
			}
		}
		addrs, err := net.InterfaceAddrs()
		if err != nil {
			t.Fatal(err)
		}
		for _, a := range addrs {
			ip, ok := a.(*net.IPNet)
			if !ok || ip.IP.IsLoopback() || ip.IP.IsLinkLocalUnicast() {
				continue
			}
			if c, err := net.DialTimeout("tcp", net.JoinHostPort(ip.IP.String(), port), time.Second); err == nil {
				c.Close()
				t.Errorf("Mongo Express answers on %s", ip.IP)
			}
		}
	})

	t.Run("stops with the appliance", func(t *testing.T) {
		var node bool
		for _, cmdline := range processesUnder(data) {
			node = node || strings.Contains(cmdline, "mongo-express/app.js")
		}
		if !node {
			t.Fatalf("no Mongo Express among the appliance's processes: %v", processesUnder(data))
		}
		in.stop()
		if in.err != nil {
			t.Errorf("vanta init exited with %v", in.err)
		}
		if left := processesUnder(data); len(left) > 0 {
			t.Errorf("processes left after shutdown: %v", left)
		}
	})
}
