package api

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/google/uuid"

	"github.com/vanta-ledger/vanta/appliance"
	"github.com/vanta-ledger/vanta/internal/ai"
	"github.com/vanta-ledger/vanta/internal/background"
	"github.com/vanta-ledger/vanta/internal/documents"
	"github.com/vanta-ledger/vanta/internal/extract"
	"github.com/vanta-ledger/vanta/internal/jobs"
	"github.com/vanta-ledger/vanta/internal/ledger"
	"github.com/vanta-ledger/vanta/internal/quota"
	"github.com/vanta-ledger/vanta/internal/tenancy"
)

// DocumentsConfig are the settings of document intake and its pipeline;
// zero values are the defaults.
type DocumentsConfig struct {
	MaxBytes int64 // the largest document accepted (default appliance.DefaultDocumentMaxBytes)
	Workers  int   // pipeline jobs at once (default: the core count, jobs.Config)
	// Models lists the model servers the router may use, as the appliance
	// runs them (and as VANTA_LLM_URLS names them); nil: rules only.
	Models func() []ai.Endpoint
	// SoleWorker: this appliance alone works the job queue (its own
	// PostgreSQL), so jobs a crash left running resume at once after the
	// next unseal (jobs.Config.SoleWorker).
	SoleWorker bool
}

// docRuntime is what the documents routes and the queue's handler share,
// made once the stores are open: the store, the pipeline, the queue and
// the allowances.
type docRuntime struct {
	stores   *appliance.Stores
	store    documents.Store
	pipeline documents.Pipeline
	queue    documentQueue
	runner   background.Service // the queue's workers
	quotas   quota.Quotas
	temp     string // private plaintext copies while read or downloaded
}

// documentQueue is what the routes and the service need of the job queue
// (internal/jobs' Queue).
type documentQueue interface {
	EnqueueDocument(ctx context.Context, s tenancy.Scope, document, jobID uuid.UUID) error
	Cancel(ctx context.Context, s tenancy.Scope, document uuid.UUID) error
	Job(ctx context.Context, s tenancy.Scope, document uuid.UUID) (jobs.Job, error)
	Depth(ctx context.Context) (waiting int, oldest time.Duration, err error)
	Service() background.Service
}

// jobStopGrace is how long a seal or a stop lets running jobs finish:
// short, because the appliance's whole shutdown budget is 10 s by default
// and an interrupted job loses nothing (it resumes at its unfinished
// stage after the next unseal).
const jobStopGrace = 2 * time.Second

// jobMaxAttempts is how often a document's job runs before its document
// is failed for good (River's backoff spaces them out over minutes).
const jobMaxAttempts = 5

// docState holds the runtime across requests; it is made again only if
// the appliance reopened its stores.
type docState struct {
	mu sync.Mutex
	rt *docRuntime
}

// documentsRuntime returns the documents runtime, making it on first use.
func (s *server) documentsRuntime() (*docRuntime, error) {
	d, err := s.domain()
	if err != nil {
		return nil, err
	}
	s.docState.mu.Lock()
	defer s.docState.mu.Unlock()
	if rt := s.docState.rt; rt != nil && rt.stores == d.stores {
		return rt, nil
	}
	st := d.stores
	cfg := s.Documents
	if cfg.MaxBytes == 0 {
		cfg.MaxBytes = appliance.DefaultDocumentMaxBytes
	}
	quotas := quota.Quotas{Redis: st.Redis, Limits: s.Quotas.Company}
	store := documents.Store{Mongo: st.Mongo, Files: st.Files, Keys: documents.CompanyKeys{DB: st.App, Root: currentKeyring{s.Seal}},
		Ledger: ledger.Store{DB: st.App}, Quota: quotas, MaxBytes: cfg.MaxBytes}
	temp := filepath.Join(filepath.Dir(st.Files), "tmp", "documents")
	if err := os.MkdirAll(temp, 0o700); err != nil {
		return nil, fmt.Errorf("documents: temporary directory: %w", err)
	}
	rt := &docRuntime{stores: st, store: store, quotas: quotas, temp: temp}
	depth := func() int {
		n, _, err := rt.queue.Depth(context.Background())
		if err != nil {
			return 0
		}
		return n
	}
	rt.pipeline = documents.Pipeline{Store: store, Text: extract.ReadText, Extractor: s.documentExtractor(cfg, depth), Limits: extract.DefaultLimits(), Temp: temp}
	q, err := jobs.New(st.App, documentJobs{s}, jobs.Config{Workers: cfg.Workers, StopGrace: jobStopGrace, MaxAttempts: jobMaxAttempts, SoleWorker: cfg.SoleWorker}, s.logger)
	if err != nil {
		return nil, fmt.Errorf("documents: job queue: %w", err)
	}
	rt.queue = q
	rt.runner = q.Service()
	s.docState.rt = rt
	return rt, nil
}

// documentExtractor is the ai.Router over the appliance's model servers,
// falling back to rules. The AI allowance is charged once per document at
// upload (uploadDocument), so the router asks no quota of its own.
func (s *server) documentExtractor(cfg DocumentsConfig, depth func() int) documents.Extractor {
	router := &ai.Router{Rules: extract.Rules(), QueueDepth: depth}
	if s.Metrics != nil {
		router.Observe = s.Metrics.ObserveInference
	}
	if cfg.Models != nil {
		router.Endpoints = cfg.Models()
	}
	return router
}

// documentJobs is the queue's handler: a job names its company and
// document; the worker, a trusted in-process caller, turns the company
// into a scope and runs the pipeline. A company gone since is permanent.
type documentJobs struct{ s *server }

func (h documentJobs) Process(ctx context.Context, company, document uuid.UUID, attempt int) error {
	rt, err := h.s.documentsRuntime()
	if err != nil {
		return err
	}
	sc, err := tenancy.OperatorScope(ctx, rt.stores.App, company)
	if errors.Is(err, tenancy.ErrCompanyNotFound) {
		return jobs.Permanent(err)
	}
	if err != nil {
		return err
	}
	err = rt.pipeline.Process(ctx, sc, document)
	var bad *extract.BadFileError
	if errors.As(err, &bad) || documents.IsPermanent(err) || errors.Is(err, documents.ErrNotFound) {
		return jobs.Permanent(err)
	}
	if err != nil && attempt >= jobMaxAttempts && ctx.Err() == nil {
		// The last attempt: the document must not stay at its stage.
		if ferr := rt.store.Fail(ctx, sc, document, err.Error()); ferr != nil {
			return fmt.Errorf("%w (and failing the document: %v)", err, ferr)
		}
	}
	return err
}

// documentsService runs the queue's workers while the appliance is
// unsealed: the runtime is made at the first unseal after the stores
// opened (until then Start fails and the runner tries again).
type documentsService struct {
	s       *server
	mu      sync.Mutex
	running background.Service
}

func (d *documentsService) Name() string { return "documents" }

func (d *documentsService) Start(ctx context.Context) error {
	rt, err := d.s.documentsRuntime()
	if err != nil {
		return err
	}
	if err := rt.runner.Start(ctx); err != nil {
		return err
	}
	d.mu.Lock()
	d.running = rt.runner
	d.mu.Unlock()
	return nil
}

func (d *documentsService) Stop() {
	d.mu.Lock()
	r := d.running
	d.running = nil
	d.mu.Unlock()
	if r != nil {
		r.Stop()
	}
}
