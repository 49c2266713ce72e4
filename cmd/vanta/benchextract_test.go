package main

import (
	"bytes"
	"encoding/json"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

func writeBenchData(t *testing.T, name, data string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, []byte(data), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// TestBenchExtractScores runs the command on a hand-made file whose
// predicted and truth counts differ, so swapped precision and recall show.
func TestBenchExtractScores(t *testing.T) {
	data := writeBenchData(t, "tiny.jsonl", strings.Join([]string{
		`{"key":"K1","entities":{"company":"ABC HO TRADING","date":"09/01/2019","address":"","total":"31.00"},"words":["ABC HO TRADING","DATE: 09/01/2019","TOTAL :","31.00"]}`,
		`{"key":"K2","entities":{"company":"XYZ SDN BHD","date":"02 APR 2018","address":"","total":"8.20"},"words":["XYZ SDN BHD","02 APR 2018 18:31","NETT TOTAL: RM8.20"]}`,
		`{"key":"K3","entities":{"company":"FOO ENTERPRISE","date":"2018-05-01","address":"","total":"10.00"},"words":["FOO ENTERPRISE","01/05/2018","TOTAL 12.00"]}`,
		`{"key":"K4","entities":{"company":"BAR MART","date":"2018-05-02","address":"","total":"5.00"},"words":["*** ***"]}`,
	}, "\n"))
	var out, errb bytes.Buffer
	if code := benchExtract([]string{"--data", data, "--json"}, &out, &errb); code != exitOK {
		t.Fatalf("exit %d: %s", code, errb.String())
	}
	rulesOut := out.String()
	var res struct {
		Documents int    `json:"documents"`
		Engine    string `json:"engine"`
		Fields    map[string]struct {
			Precision float64 `json:"precision"`
			Recall    float64 `json:"recall"`
			F1        float64 `json:"f1"`
		} `json:"fields"`
	}
	if err := json.Unmarshal(out.Bytes(), &res); err != nil {
		t.Fatalf("%v: %s", err, out.String())
	}
	if res.Documents != 4 || res.Engine != "rules" {
		t.Errorf("documents %d engine %q", res.Documents, res.Engine)
	}
	// total: 3 predicted (K4 has no amount), 2 right (K3 says 12.00), 4 truths.
	want := map[string][2]float64{"total": {2.0 / 3, 0.5}, "date": {1, 0.75}, "company": {1, 0.75}}
	for f, pr := range want {
		got := res.Fields[f]
		if !benchNear(got.Precision, pr[0]) || !benchNear(got.Recall, pr[1]) {
			t.Errorf("%s: precision %.3f recall %.3f, want %.3f %.3f", f, got.Precision, got.Recall, pr[0], pr[1])
		}
	}
	for _, f := range []string{"total", "date", "company", "address"} {
		if _, ok := res.Fields[f]; !ok {
			t.Errorf("no %q in %s", f, out.String())
		}
	}

	// The table names every field too.
	out.Reset()
	if code := benchExtract([]string{"--data", data, "--split", "all"}, &out, &errb); code != exitOK {
		t.Fatalf("exit %d: %s", code, errb.String())
	}
	for _, w := range []string{"engine rules", "4 documents", "total", "date", "company", "address", "precision", "recall", "f1"} {
		if !strings.Contains(out.String(), w) {
			t.Errorf("table has no %q:\n%s", w, out.String())
		}
	}

	// The LLM engine goes through the router: with no server answering,
	// every document falls back to the rules, is counted as such, and
	// scores as the rules do.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	dead := "http://" + ln.Addr().String()
	ln.Close()
	out.Reset()
	errb.Reset()
	if code := benchExtract([]string{"--data", data, "--engine", "llm", "--llm-url", dead, "--json"}, &out, &errb); code != exitOK {
		t.Fatalf("llm: exit %d: %s", code, errb.String())
	}
	var llm struct {
		Engine    string          `json:"engine"`
		Fallbacks int             `json:"fallbacks"`
		Fields    json.RawMessage `json:"fields"`
	}
	if err := json.Unmarshal(out.Bytes(), &llm); err != nil {
		t.Fatalf("%v: %s", err, out.String())
	}
	var rules struct {
		Fields json.RawMessage `json:"fields"`
	}
	if err := json.Unmarshal([]byte(rulesOut), &rules); err != nil {
		t.Fatal(err)
	}
	if llm.Engine != "llm" || llm.Fallbacks != 4 || string(llm.Fields) != string(rules.Fields) {
		t.Errorf("llm with no server: engine %q, %d fallbacks, fields %s; want llm, 4, the rules' %s", llm.Engine, llm.Fallbacks, llm.Fields, rules.Fields)
	}
	if !strings.Contains(errb.String(), "4 of 4 documents fell back to rules") {
		t.Errorf("stderr does not say the fallbacks: %q", errb.String())
	}
}

func benchNear(a, b float64) bool { return a-b < 1e-9 && b-a < 1e-9 }

func TestBenchExtractErrors(t *testing.T) {
	dir := t.TempDir()
	bad := writeBenchData(t, "bad.jsonl", `{"key":"K1","entities":{},"words":["x"]}`+"\n"+`{"key": oops}`+"\n")
	empty := writeBenchData(t, "empty.jsonl", "")
	for _, tc := range []struct {
		name string
		args []string
		code int
		msg  []string
	}{
		{"no data", []string{}, exitUsage, []string{"--data FILE is required"}},
		{"missing file", []string{"--data", filepath.Join(dir, "nope.jsonl")}, exitUsage, []string{"--data", "nope.jsonl", "no such file"}},
		{"bad line", []string{"--data", bad}, exitUsage, []string{"--data", "line 2", "not a JSON object"}},
		{"empty file", []string{"--data", empty}, exitUsage, []string{"--data", "no records"}},
		{"bad split", []string{"--data", bad, "--split", "test"}, exitUsage, []string{"--split", "train, holdout or all"}},
		{"bad engine", []string{"--data", bad, "--engine", "magic"}, exitUsage, []string{"--engine", "rules or llm"}},
		{"llm without server", []string{"--data", bad, "--engine", "llm"}, exitUsage, []string{"--llm-url", "model server"}},
		{"stray argument", []string{"--data", bad, "extra"}, exitUsage, []string{"unexpected argument"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var out, errb bytes.Buffer
			code := benchExtract(tc.args, &out, &errb)
			if code != tc.code {
				t.Errorf("exit %d, want %d (%s)", code, tc.code, errb.String())
			}
			for _, m := range tc.msg {
				if !strings.Contains(errb.String(), m) {
					t.Errorf("stderr %q does not mention %q", errb.String(), m)
				}
			}
		})
	}
}

// TestBenchExtractCommand: `vanta bench extract` is wired into the binary.
func TestBenchExtractCommand(t *testing.T) {
	data := writeBenchData(t, "one.jsonl", `{"key":"K1","entities":{"company":"ABC HO TRADING","date":"09/01/2019","address":"","total":"31.00"},"words":["ABC HO TRADING","DATE: 09/01/2019","TOTAL :","31.00"]}`+"\n")
	out, err := exec.Command(vantaBin, "bench", "extract", "--data", data, "--json").Output()
	if err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	if !strings.Contains(string(out), `"f1": 1`) || !strings.Contains(string(out), `"documents": 1`) {
		t.Errorf("output %s", out)
	}
	cmd := exec.Command(vantaBin, "bench", "extract")
	b, err := cmd.CombinedOutput()
	if cmd.ProcessState == nil || cmd.ProcessState.ExitCode() != exitUsage || !strings.Contains(string(b), "--data") {
		t.Errorf("no --data: exit %v, %v: %s", cmd.ProcessState, err, b)
	}
}
