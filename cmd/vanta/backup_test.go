package main

import (
	"bytes"
	"context"
	"encoding/json"
	"math/big"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/vanta-ledger/vanta/internal/auth"
	"github.com/vanta-ledger/vanta/internal/backup"
)

// backupDrill is a populated appliance: GOD, a company with a manager,
// entries, document-store rows.
type backupDrill struct {
	t                 *testing.T
	godEmail, godPass string
	godTOTP           string
	mgrEmail, mgrPass string
	company           string
	marker            string
	debit, credit     string // account codes
}

func vantaRun(t *testing.T, args ...string) ([]byte, error) {
	t.Helper()
	cmd := exec.Command(vantaBin, args...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return append(out, stderr.Bytes()...), err
	}
	return out, nil
}

// loginAhead signs GOD in with the next step's code (within the allowed
// skew): a restored database remembers the step used before the backup.
func (d *backupDrill) loginAhead(in *instance) string {
	code, err := auth.TOTPCode(d.godTOTP, time.Now().Add(30*time.Second))
	if err != nil {
		d.t.Fatal(err)
	}
	var tk tokens
	in.mustCall("POST", "/api/v1/auth/login", "", map[string]string{"email": d.godEmail, "password": d.godPass, "totp": code}, 200, &tk)
	return tk.AccessToken
}

func (d *backupDrill) post(in *instance, token, description string) {
	in.mustCall("POST", "/api/v1/companies/"+d.company+"/journal-entries", token, map[string]any{
		"date": time.Now().UTC().Format(time.DateOnly), "description": description, "status": "posted",
		"lines": []map[string]string{{"account": d.debit, "debit": "1234.56"}, {"account": d.credit, "credit": "1234.56"}}}, 201, nil)
}

func (d *backupDrill) note(data, text string) {
	_, err := mongoClient(d.t, data).Database("backupdrill").Collection("notes").InsertOne(context.Background(), bson.M{"text": text})
	if err != nil {
		d.t.Fatalf("document store write: %v", err)
	}
}

// check boots nothing: it looks at a restored, unsealed appliance and
// wants exactly the first writes.
func (d *backupDrill) check(in *instance, data string) {
	t := d.t
	god := d.loginAhead(in)
	var cs struct{ Items []company }
	in.mustCall("GET", "/api/v1/companies?limit=100", god, nil, 200, &cs)
	var names []string
	for _, c := range cs.Items {
		names = append(names, c.Name)
	}
	if got := strings.Join(names, "|"); !strings.Contains(got, "Kestrel Drill "+d.marker) || strings.Contains(got, "Later Co "+d.marker) {
		t.Errorf("companies after restore: %s", got)
	}
	mgr := in.login(d.mgrEmail, d.mgrPass, "").AccessToken
	code, body := in.call("GET", "/api/v1/companies/"+d.company+"/journal-entries?limit=1000", mgr, nil)
	if code != 200 || !strings.Contains(string(body), "first entry "+d.marker) || strings.Contains(string(body), "second entry "+d.marker) {
		t.Errorf("entries after restore: %d %s", code, body)
	}
	var notes []bson.M
	cur, err := mongoClient(t, data).Database("backupdrill").Collection("notes").Find(context.Background(), bson.M{})
	if err != nil || cur.All(context.Background(), &notes) != nil || len(notes) != 1 || notes[0]["text"] != "first note "+d.marker {
		t.Errorf("document store after restore: %v %v", notes, err)
	}
	var verify struct {
		OK bool `json:"ok"`
	}
	in.mustCall("GET", "/api/v1/sys/audit/verify", god, nil, 200, &verify)
	if !verify.OK {
		t.Error("the system audit chain does not verify after restore")
	}
	tb := trialBalances(in, mgr, "/api/v1/companies/"+d.company)
	if len(tb) == 0 {
		t.Error("empty trial balance after restore")
	}
	total := new(big.Rat)
	for _, cur := range tb {
		for _, v := range cur {
			q, ok := new(big.Rat).SetString(v)
			if !ok {
				t.Fatalf("balance %q", v)
			}
			total.Add(total, q)
		}
	}
	if total.Sign() != 0 {
		t.Errorf("trial balance does not balance after restore: %v", tb)
	}
}

// TestBackupRestoreDrill is acceptance 1 and 3: a populated appliance is
// backed up, written to again, stopped and restored to a time between,
// onto a fresh data directory (with --identity) and onto its own; each
// boots sealed, opens with the same shares and holds exactly the first
// writes, its audit chain verifying and its books balancing. No known
// plaintext is found anywhere in the backup directory.
func TestBackupRestoreDrill(t *testing.T) {
	data := dataDir(t)
	env := []string{"VANTA_BACKUP_SCHEDULE=off"}
	in := bootWith(t, data, env)
	in.waitReady()
	shares := in.initSeal(2, 2)
	in.unseal(shares)
	d := &backupDrill{t: t, godEmail: "god@drill.test", godPass: "correct horse battery staple",
		mgrEmail: "manager@drill.test", mgrPass: "tall trees by the river two", marker: uuid.NewString()[:8]}
	var god struct {
		TOTP struct{ Secret string } `json:"totp"`
	}
	in.mustCall("POST", "/api/v1/sys/setup/god", "", map[string]string{"email": d.godEmail, "name": "Creator", "password": d.godPass}, 201, &god)
	d.godTOTP = god.TOTP.Secret
	godTok := in.login(d.godEmail, d.godPass, d.godTOTP).AccessToken
	var c company
	in.mustCall("POST", "/api/v1/companies", godTok, map[string]any{"company_name": "Kestrel Drill " + d.marker, "tax_id": "P051234567Z"}, 201, &c)
	d.company = c.ID
	in.mustCall("POST", "/api/v1/companies/"+c.ID+"/users", godTok,
		map[string]string{"email": d.mgrEmail, "name": "Manager", "role": string(auth.RoleManager), "password": initialPassword(d.mgrPass)}, 201, nil)
	mgr := in.setOwnPassword(d.mgrEmail, initialPassword(d.mgrPass), d.mgrPass, "").AccessToken
	var accounts struct {
		Items []struct{ Code, Role string }
	}
	in.mustCall("GET", "/api/v1/companies/"+c.ID+"/accounts?limit=1000", mgr, nil, 200, &accounts)
	for _, a := range accounts.Items {
		switch a.Role {
		case "bank":
			d.debit = a.Code
		case "revenue":
			d.credit = a.Code
		}
	}
	d.post(in, mgr, "first entry "+d.marker)
	d.note(data, "first note "+d.marker)

	// The backup, over the control socket; then its list and verify.
	out, err := vantaRun(t, "backup", "now", "--data", data, "--json")
	if err != nil {
		t.Fatalf("backup now: %v\n%s", err, out)
	}
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	var first struct{ Set backup.Manifest }
	if err := json.Unmarshal([]byte(lines[len(lines)-1]), &first); err != nil || first.Set.ID == "" || len(lines) < 3 {
		t.Fatalf("backup now printed %s", out)
	}
	if first.Set.Postgres == nil || first.Set.Postgres.Label == "" {
		t.Errorf("the set has no PostgreSQL backup: %+v", first.Set)
	}
	out, err = vantaRun(t, "backup", "verify", first.Set.ID, "--data", data, "--json")
	var rep backup.VerifyReport
	if err != nil || json.Unmarshal(out, &rep) != nil || !rep.Decrypted || !rep.Postgres {
		t.Errorf("backup verify: %v %s", err, out)
	}
	at := time.Now().UTC()

	// More writes, then a second set (its WAL switch archives what the
	// restore reads past the target).
	d.post(in, mgr, "second entry "+d.marker)
	d.note(data, "second note "+d.marker)
	in.mustCall("POST", "/api/v1/companies", godTok, map[string]any{"company_name": "Later Co " + d.marker, "tax_id": "P051234568Z"}, 201, nil)
	if out, err := vantaRun(t, "backup", "now", "--kind", "incr", "--data", data); err != nil {
		t.Fatalf("second backup: %v\n%s", err, out)
	}
	out, err = vantaRun(t, "backup", "list", "--data", data, "--json")
	var listed struct{ Sets []backup.Manifest }
	if err != nil || json.Unmarshal(out, &listed) != nil || len(listed.Sets) != 2 || listed.Sets[1].Kind != backup.KindIncr {
		t.Errorf("backup list: %v %s", err, out)
	}

	// Acceptance 3: nothing known is in the backup directory in the clear.
	backups := filepath.Join(data, "backups")
	known := []string{"Kestrel Drill " + d.marker, "first entry " + d.marker, "first note " + d.marker, "Later Co " + d.marker,
		secret(t, data, "postgres-app"), secret(t, data, "postgres-superuser"), secret(t, data, "redis"), secret(t, data, "pgbackrest-cipher")}
	if seal, err := os.ReadDir(filepath.Join(data, "seal")); err == nil {
		for _, e := range seal {
			if b, err := os.ReadFile(filepath.Join(data, "seal", e.Name())); err == nil && len(b) >= 48 {
				known = append(known, string(b[len(b)/2-16:len(b)/2+16])) // a slice of sealed key material
			}
		}
	}
	files := 0
	err = filepath.Walk(backups, func(p string, fi os.FileInfo, err error) error {
		if err != nil || !fi.Mode().IsRegular() {
			return err
		}
		files++
		b, err := os.ReadFile(p)
		for _, k := range known {
			if bytes.Contains(b, []byte(k)) {
				t.Errorf("%s holds plaintext %.20q", p, k)
			}
		}
		return err
	})
	if err != nil || files < 10 {
		t.Fatalf("walking %s: %v (%d files)", backups, err, files)
	}

	// Restore refuses a running appliance.
	if out, err := vantaRun(t, "restore", "--data", data, "--to", at.Format(time.RFC3339Nano)); err == nil || !strings.Contains(string(out), "stop it first") {
		t.Errorf("restore onto a running appliance: %v %s", err, out)
	}
	in.stop()

	// Onto a fresh data directory, with the identity copied off the box.
	fresh := dataDir(t)
	dumpLogs := func(dir string) {
		t.Cleanup(func() {
			if !t.Failed() {
				return
			}
			logs, _ := filepath.Glob(filepath.Join(dir, "log", "*"))
			for _, l := range logs {
				b, _ := os.ReadFile(l)
				if len(b) > 3000 {
					b = b[len(b)-3000:]
				}
				t.Logf("%s:\n%s", l, b)
			}
		})
	}
	dumpLogs(fresh)
	dumpLogs(data)
	idFile := filepath.Join(t.TempDir(), "backup.key")
	key, _ := os.ReadFile(backup.IdentityFile(data))
	if err := os.WriteFile(idFile, key, 0o600); err != nil {
		t.Fatal(err)
	}
	if out, err := vantaRun(t, "restore", "--data", fresh, "--from", backups, "--identity", idFile, "--to", at.Format(time.RFC3339Nano), "--json"); err != nil {
		t.Fatalf("restore onto a fresh directory: %v\n%s", err, out)
	}
	in2 := bootWith(t, fresh, append(env, "VANTA_BACKUP_DIR="+backups))
	in2.waitReady()
	if st := in2.sealStatus(); !st.Sealed || !st.Initialized {
		t.Fatalf("fresh restore boots %+v, want sealed", st)
	}
	in2.unseal(shares)
	d.check(in2, fresh)
	in2.stop()

	// Onto its own data directory.
	if out, err := vantaRun(t, "restore", "--data", data, "--to", at.Format(time.RFC3339Nano)); err != nil {
		t.Fatalf("restore: %v\n%s", err, out)
	}
	in3 := bootWith(t, data, env)
	in3.waitReady()
	if st := in3.sealStatus(); !st.Sealed {
		t.Fatalf("restored appliance boots %+v, want sealed", st)
	}
	in3.unseal(shares)
	d.check(in3, data)
}
