package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"os"
	"sort"
	"strings"
	"sync"
	"text/tabwriter"
	"time"

	"golang.org/x/sys/unix"

	"github.com/vanta-ledger/vanta/appliance"
	"github.com/vanta-ledger/vanta/internal/alerts"
	"github.com/vanta-ledger/vanta/internal/background"
)

// alertSources are what the alert evaluator reads every round: the one
// place where a package's alert source joins (metrics' AlertSource, the
// backup scheduler's, trends' advice, security's events).
func alertSources(cfg appliance.Config, a *appliance.Appliance) []alerts.Source {
	return []alerts.Source{
		// Stand-in for metrics' AlertSource (service_restarts_recent,
		// disk_used_percent), which gives the same series and labels:
		// drop it once that one is here.
		newApplianceSource(a, []string{cfg.DataDir}),
		// At the merge, append here: a.BackupAlertSource() (backup
		// scheduler), the metrics registry's AlertSource() (then drop the
		// stand-in above), trends' Advisor.AlertSource(), security's
		// Recorder.AlertSource(). A source that needs the keys must return
		// its series' samples only when it can read them: an error keeps
		// its alerts as they are.
	}
}

// alertService is the alert evaluator as a background service. It runs
// sealed or not (appliance.Always): a full disk, a crashing service or a
// failed backup matter most while nobody has unsealed, and evaluation
// needs no keys — the rules, samples and vanta.alerts are plain.
func alertService(cfg appliance.Config, a *appliance.Appliance) background.Service {
	ac := cfg.AlertConfig
	var notifiers []alerts.Notifier
	if ac.AlertWebhook != "" {
		notifiers = append(notifiers, &alerts.Webhook{URL: ac.AlertWebhook})
	}
	if ac.AlertSMTP != "" {
		addr, user, pass, _ := alerts.ParseSMTP(ac.AlertSMTP) // validated with the config
		notifiers = append(notifiers, &alerts.Email{Addr: addr, User: user, Pass: pass, From: ac.AlertEmailFrom, To: ac.EmailTo()})
	}
	return &alerts.Service{
		Interval:  time.Duration(ac.AlertInterval),
		Notifiers: notifiers,
		Make: func() (*alerts.Evaluator, error) {
			rules, err := ac.Rules()
			if err != nil {
				return nil, err
			}
			st := a.Stores()
			if st == nil {
				return nil, errors.New("alerts: the stores are not open yet")
			}
			return &alerts.Evaluator{DB: st.App, Rules: rules, Sources: alertSources(cfg, a), Logger: a.Logger()}, nil
		},
	}
}

// restartWindow is what service_restarts_recent counts over.
const restartWindow = 10 * time.Minute

// applianceSource reads the supervisor's restart counts and the data
// directory's filesystem.
type applianceSource struct {
	a     *appliance.Appliance
	paths []string

	mu       sync.Mutex
	last     map[string]int         // restart count at the previous round
	restarts map[string][]time.Time // when restarts were seen, within the window
}

func newApplianceSource(a *appliance.Appliance, paths []string) *applianceSource {
	return &applianceSource{a: a, paths: paths, last: map[string]int{}, restarts: map[string][]time.Time{}}
}

func (s *applianceSource) Samples(_ context.Context, now time.Time) ([]alerts.Sample, error) {
	var out []alerts.Sample
	s.mu.Lock()
	for _, st := range s.a.Supervisor().Status() {
		if n := st.Restarts - s.last[st.Name]; n > 0 {
			for range n {
				s.restarts[st.Name] = append(s.restarts[st.Name], now)
			}
		}
		s.last[st.Name] = st.Restarts
		kept := s.restarts[st.Name][:0]
		for _, t := range s.restarts[st.Name] {
			if now.Sub(t) < restartWindow {
				kept = append(kept, t)
			}
		}
		s.restarts[st.Name] = kept
		out = append(out, alerts.Sample{Series: "service_restarts_recent", Labels: map[string]string{"service": st.Name}, Value: float64(len(kept))})
	}
	s.mu.Unlock()
	var errs []error
	for _, p := range s.paths {
		var fs unix.Statfs_t
		if err := unix.Statfs(p, &fs); err != nil {
			errs = append(errs, fmt.Errorf("filesystem of %s: %w", p, err))
			continue
		}
		used := float64(fs.Blocks - fs.Bfree)
		if total := used + float64(fs.Bavail); total > 0 {
			out = append(out, alerts.Sample{Series: "disk_used_percent", Labels: map[string]string{"path": p}, Value: used / total * 100})
		}
	}
	return out, errors.Join(errs...)
}

// ctlAlerts prints the newest alerts from the running init.
func ctlAlerts(c *ctlClient, state string, asJSON bool) int {
	var out struct {
		Items []alerts.Alert `json:"items"`
	}
	if err := c.getJSON("/v1/alerts?state="+url.QueryEscape(state), &out); err != nil {
		fmt.Fprintf(os.Stderr, "vanta ctl alerts: %v\n", err)
		return exitFailure
	}
	if asJSON {
		b, _ := json.MarshalIndent(out, "", "  ")
		fmt.Println(string(b))
		return exitOK
	}
	tw := tabwriter.NewWriter(os.Stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tSTATE\tLEVEL\tRULE\tLABELS\tSINCE\tSUMMARY")
	for _, a := range out.Items {
		var labels []string
		for k, v := range a.Labels {
			labels = append(labels, k+"="+v)
		}
		sort.Strings(labels)
		since := "-"
		switch {
		case a.ResolvedAt != nil:
			since = a.ResolvedAt.UTC().Format(time.RFC3339)
		case a.StartedAt != nil:
			since = a.StartedAt.UTC().Format(time.RFC3339)
		}
		fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\t%s\t%s\n", a.ID, a.State, a.Level, a.Rule, strings.Join(labels, ","), since, a.Summary)
	}
	_ = tw.Flush()
	return exitOK
}
