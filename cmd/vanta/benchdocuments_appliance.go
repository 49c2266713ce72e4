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
	"time"
)

// docPollEvery is how often the bench asks for the status of the
// documents still in the pipeline; it bounds the latency's resolution.
const docPollEvery = 100 * time.Millisecond

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
	fmt.Fprintf(progress, "uploading %d documents\n", len(docs))
	r, note, err := a.pipelineRun(ctx, bulk, docs, progress)
	if err != nil || r == nil {
		return nil, 0, note, err
	}
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
		id    string
		start time.Time
	}
	var (
		waiting []pending
		begin   = time.Now()
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
		waiting = append(waiting, pending{out.DocumentID, start})
	}
	var (
		lat      []time.Duration
		failed   int
		note     string
		lastDone time.Time
	)
	tick := time.NewTicker(docPollEvery)
	defer tick.Stop()
	for len(waiting) > 0 {
		select {
		case <-ctx.Done():
			return nil, "", fmt.Errorf("%d documents not done: %w", len(waiting), ctx.Err())
		case <-tick.C:
		}
		still := waiting[:0]
		for _, p := range waiting {
			var doc struct {
				Status string `json:"status"`
				Error  string `json:"error"`
			}
			if err := a.must(ctx, "GET", c.path("/documents/"+p.id), c.token, nil, http.StatusOK, &doc); err != nil {
				return nil, "", err
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
		if n := len(docs) - len(waiting); n > 0 && n%10 == 0 && len(waiting) > 0 {
			fmt.Fprintf(progress, "%d/%d documents through\n", n, len(docs))
		}
	}
	r := newDocRate(len(docs), failed, lastDone.Sub(begin), lat)
	return &r, note, nil
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
