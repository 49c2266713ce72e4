package main

import (
	"bytes"
	"encoding/json"
	"os/exec"
	"strings"
	"testing"
	"time"
)

func TestBenchDocumentsStats(t *testing.T) {
	ms := func(v ...int) []time.Duration {
		var d []time.Duration
		for _, x := range v {
			d = append(d, time.Duration(x)*time.Millisecond)
		}
		return d
	}
	hundred := make([]int, 100)
	for i := range hundred {
		hundred[i] = 100 - i // unsorted on purpose
	}
	tests := []struct {
		name      string
		n, failed int
		wall      time.Duration
		lat       []time.Duration
		perMin    float64
		p50, p99  float64
	}{
		{"none", 0, 0, 0, nil, 0, 0, 0},
		{"one", 1, 0, 2 * time.Second, ms(1500), 30, 1500, 1500},
		{"odd count: nearest rank", 3, 0, time.Minute, ms(300, 100, 200), 3, 200, 300},
		{"even count: lower middle", 4, 0, time.Minute, ms(40, 10, 30, 20), 4, 20, 40},
		{"failed documents do not count as throughput", 4, 1, 30 * time.Second, ms(1, 2, 3), 6, 2, 3},
		{"100: p99 is the 99th", 100, 0, 10 * time.Second, ms(hundred...), 600, 50, 99},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := newDocRate(tc.n, tc.failed, tc.wall, tc.lat)
			if r.PerMin != tc.perMin || r.P50MS != tc.p50 || r.P99MS != tc.p99 || r.Failed != tc.failed || r.Documents != tc.n {
				t.Errorf("got %+v, want %v/min p50 %v p99 %v", r, tc.perMin, tc.p50, tc.p99)
			}
		})
	}
	// 4 documents in 10 s at 1,500 ms CPU each, on an appliance idling at
	// 0.1 CPU-s/s: 1 s of the 6 s was idle work, 1,250 ms per document net.
	r := docRate{Documents: 5, Failed: 1, WallMS: 10000}
	r.setCPU(6 * time.Second)
	r.setIdle(0.1)
	if r.CPUPerDocMS != 1500 || r.NetCPUPerDocMS == nil || *r.NetCPUPerDocMS != 1250 {
		t.Errorf("cpu per doc %v, net %v; want 1500, 1250", r.CPUPerDocMS, r.NetCPUPerDocMS)
	}
	if r := ratio(45, 50); r != 0.9 {
		t.Errorf("ratio(45, 50) = %v", r)
	}
	if r := ratio(45, 0); r != 0 {
		t.Errorf("ratio over a side that did not run = %v, want 0", r)
	}
}

func TestBenchDocumentsFlags(t *testing.T) {
	tests := []struct {
		name    string
		args    []string
		want    docBenchConfig
		wantErr string
	}{
		{"defaults render 20", nil, docBenchConfig{Count: 20, DPI: 300, Appliance: true}, ""},
		{"a directory, all of it", []string{"--data", "/srv/scans"}, docBenchConfig{Data: "/srv/scans", DPI: 300, Appliance: true}, ""},
		{"llm url trimmed", []string{"--llm-url", "http://127.0.0.1:8081/", "--appliance=false"}, docBenchConfig{Count: 20, DPI: 300, LLMURL: "http://127.0.0.1:8081"}, ""},
		{"bad dpi", []string{"--dpi", "5"}, docBenchConfig{}, "--dpi"},
		{"bad count", []string{"--count", "-1"}, docBenchConfig{}, "--count"},
		{"stray argument", []string{"now"}, docBenchConfig{}, "unexpected argument"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, _, err := parseDocBenchFlags(tc.args)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err = %v, want %q", err, tc.wantErr)
				}
				return
			}
			if err != nil || got != tc.want {
				t.Fatalf("got %+v, %v; want %+v", got, err, tc.want)
			}
		})
	}
}

// TestBenchDocumentsBare runs the real command without an appliance on
// two small rendered scans: both sides read every document and the JSON
// report has the fields docs/BENCHMARKS.md quotes.
func TestBenchDocumentsBare(t *testing.T) {
	cmd := exec.Command(vantaBin, "bench", "documents", "--count", "2", "--dpi", "150", "--appliance=false", "--json")
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("vanta bench documents: %v\n%s", err, stderr.String())
	}
	var res docBenchResult
	if err := json.Unmarshal(stdout.Bytes(), &res); err != nil {
		t.Fatalf("%v: %s", err, stdout.String())
	}
	if res.Documents != 2 || res.Kinds["png"] != 2 {
		t.Errorf("documents %d kinds %v", res.Documents, res.Kinds)
	}
	for name, r := range map[string]docRate{"bare": res.Bare, "text": res.Text} {
		if r.Documents != 2 || r.Failed != 0 || r.PerMin <= 0 || r.P50MS <= 0 || r.P99MS < r.P50MS || r.CPUPerDocMS <= 0 {
			t.Errorf("%s: %+v", name, r)
		}
	}
	if res.TextOverBare <= 0 || res.TextOverBareCPU <= 0 || res.Pipeline != nil || !strings.Contains(res.PipelineNote, "--appliance=false") {
		t.Errorf("ratio %v pipeline %+v note %q", res.TextOverBare, res.Pipeline, res.PipelineNote)
	}
}
