package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"mime/multipart"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"time"
)

// docPollEvery is how often the bench asks for the status of the
// documents still in the pipeline; it bounds the latency's resolution.
const docPollEvery = 250 * time.Millisecond

// idleSpan is how long the idle appliance's CPU is measured.
const idleSpan = 10 * time.Second

// docPollWindow is how many of the oldest unfinished documents are asked
// about each time. The queue works through one company's documents in
// upload order with NumCPU workers, so the next to finish are among the
// oldest; asking about all of them would make the bench's own GETs (each
// opening a sealed document) a visible share of the appliance's CPU. A
// younger document that overtakes one in the window is seen a little
// late, which can only overstate its latency.
func docPollWindow() int { return 2 * runtime.NumCPU() }

// docStall ends a run in which no document changed status for this long:
// a pipeline that does not move (a build whose pipeline is not wired, a
// dead worker) is reported instead of waited on for the whole timeout.
const docStall = 5 * time.Minute

// benchPipeline boots a throwaway appliance, uploads every document into
// one company as fast as the API takes them (a bulk upload, the queue's
// real load) and polls each until it is done, needs review or failed.
// Then one document alone into a second company (no duplicate of the
// bulk: duplicates are detected per company) gives the latency without a
// queue in front. A build without the documents API is reported in the
// note, not as a failure, so the bare side still gets measured.
func benchPipeline(ctx context.Context, docs []benchDoc, progress io.Writer) (*docRate, float64, string, error) {
	a, err := startBenchAppliance(ctx, progress)
	if err != nil {
		return nil, 0, "", err
	}
	defer a.stop()
	cs, err := a.setUp(ctx, 1, progress)
	if err != nil {
		return nil, 0, "", err
	}
	bulk, alone := cs[0], cs[1]
	// The appliance works when idle too (supervisor health checks, the
	// queue's fetch loop, timers): measured here, over a fixed span, and
	// taken out of the pipeline's CPU per document.
	fmt.Fprintf(progress, "measuring the idle appliance's CPU for %s\n", idleSpan)
	idle0, t0 := a.cpu(), time.Now()
	select {
	case <-time.After(idleSpan):
	case <-ctx.Done():
		return nil, 0, "", ctx.Err()
	}
	idle := float64(a.cpu()-idle0) / float64(time.Since(t0))
	fmt.Fprintf(progress, "uploading %d documents\n", len(docs))
	r, note, err := a.pipelineRun(ctx, bulk, docs, progress)
	if err != nil || r == nil {
		return nil, 0, note, err
	}
	r.setIdle(idle)
	one, _, err := a.pipelineRun(ctx, alone, docs[:1], progress)
	if err != nil {
		return nil, 0, "", err
	}
	return r, one.P50MS, note, nil
}

// pipelineRun uploads docs into company c and waits for all of them.
func (a *benchAppliance) pipelineRun(ctx context.Context, c *benchCompany, docs []benchDoc, progress io.Writer) (*docRate, string, error) {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Minute+time.Duration(len(docs))*time.Minute)
	defer cancel()
	type pending struct {
		id     string
		start  time.Time
		status string
	}
	var (
		waiting []pending
		begin   = time.Now()
		cpu     = a.cpu()
	)
	for _, d := range docs {
		start := time.Now()
		code, body, err := a.upload(ctx, c, d.Path)
		if err != nil {
			return nil, "", err
		}
		if code == http.StatusNotFound || code == http.StatusMethodNotAllowed {
			return nil, fmt.Sprintf("not measured: this build has no documents API (POST documents answered %d)", code), nil
		}
		if code != http.StatusAccepted {
			return nil, "", fmt.Errorf("upload %s: %d %s", filepath.Base(d.Path), code, bytes.TrimSpace(body))
		}
		var out struct {
			DocumentID string `json:"document_id"`
		}
		if err := json.Unmarshal(body, &out); err != nil || out.DocumentID == "" {
			return nil, "", fmt.Errorf("upload %s: answer %s", filepath.Base(d.Path), body)
		}
		waiting = append(waiting, pending{out.DocumentID, start, "queued"})
	}
	var (
		lat      []time.Duration
		failed   int
		note     string
		lastDone time.Time
		moved    = time.Now() // when a document last changed status
		through  int
	)
	tick := time.NewTicker(docPollEvery)
	defer tick.Stop()
	for len(waiting) > 0 {
		select {
		case <-ctx.Done():
			return nil, "", fmt.Errorf("%d documents not done: %w", len(waiting), ctx.Err())
		case <-tick.C:
		}
		if time.Since(moved) > docStall {
			counts := map[string]int{}
			for _, p := range waiting {
				counts[p.status]++
			}
			return nil, "", fmt.Errorf("pipeline stalled: no document changed status for %s; still waiting: %v", docStall, counts)
		}
		still := waiting[:0]
		for i, p := range waiting {
			if i >= docPollWindow() {
				still = append(still, p)
				continue
			}
			var doc struct {
				Status string `json:"status"`
				Error  string `json:"error"`
			}
			if err := a.must(ctx, "GET", c.path("/documents/"+p.id), c.token, nil, http.StatusOK, &doc); err != nil {
				return nil, "", err
			}
			if doc.Status != p.status {
				p.status, moved = doc.Status, time.Now()
			}
			switch doc.Status {
			case "done", "needs_review":
				lastDone = time.Now()
				lat = append(lat, lastDone.Sub(p.start))
			case "failed":
				lastDone = time.Now()
				failed++
				if note == "" {
					note = "first failure: " + doc.Error
				}
			default:
				still = append(still, p)
			}
		}
		waiting = still
		if n := len(docs) - len(waiting); n/10 > through/10 {
			fmt.Fprintf(progress, "%d/%d documents through\n", n, len(docs))
		}
		through = len(docs) - len(waiting)
	}
	r := newDocRate(len(docs), failed, lastDone.Sub(begin), lat)
	r.setCPU(a.cpu() - cpu)
	return &r, note, nil
}

// cpu is the appliance's CPU time and that of its children it has waited
// for (/proc/PID/stat utime, stime, cutime, cstime): vanta init itself
// (intake, encryption, the pipeline) and every tool the pipeline ran.
// PostgreSQL, Redis and the docdb are children still running, so their
// share is not in it: the pipeline's CPU per document is a lower bound.
func (a *benchAppliance) cpu() time.Duration {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", a.cmd.Process.Pid))
	if err != nil {
		return 0
	}
	// Fields after the command name, which is in parentheses and may
	// hold spaces: state is field 3, utime..cstime are fields 14..17.
	i := bytes.LastIndexByte(b, ')')
	f := strings.Fields(string(b[i+1:]))
	if len(f) < 15 {
		return 0
	}
	var ticks int64
	for _, s := range f[11:15] {
		n, _ := strconv.ParseInt(s, 10, 64)
		ticks += n
	}
	// /proc reports USER_HZ ticks, 100 per second on Linux whatever the
	// kernel's own HZ.
	return time.Duration(ticks) * (time.Second / 100)
}

// upload posts one file as the multipart field "file", streamed from
// disk as the API streams it to disk.
func (a *benchAppliance) upload(ctx context.Context, c *benchCompany, path string) (int, []byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return 0, nil, err
	}
	defer f.Close()
	pr, pw := io.Pipe()
	mw := multipart.NewWriter(pw)
	go func() {
		part, err := mw.CreateFormFile("file", filepath.Base(path))
		if err == nil {
			_, err = io.Copy(part, f)
		}
		if err == nil {
			err = mw.Close()
		}
		pw.CloseWithError(err)
	}()
	req, err := http.NewRequestWithContext(ctx, "POST", "https://"+a.addr+c.path("/documents"), pr)
	if err != nil {
		return 0, nil, err
	}
	req.Header.Set("Content-Type", mw.FormDataContentType())
	req.Header.Set("Authorization", "Bearer "+c.token)
	resp, err := a.client.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	return resp.StatusCode, body, err
}
