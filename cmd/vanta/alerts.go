package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"os"
	"sort"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/vanta-ledger/vanta/appliance"
	"github.com/vanta-ledger/vanta/internal/alerts"
	"github.com/vanta-ledger/vanta/internal/background"
)

// alertSources are what the alert evaluator reads every round: the one
// place where a package's alert source joins (metrics' AlertSource, the
// backup scheduler's, trends' advice, security's events).
func alertSources(cfg appliance.Config, a *appliance.Appliance, live []alerts.Source) []alerts.Source {
	return append(live,
		trendsAdvisor(cfg, a).AlertSource(),
		a.BackupAlertSource(),
	)
}

// alertService is the alert evaluator as a background service. It runs
// sealed or not (appliance.Always): a full disk, a crashing service or a
// failed backup matter most while nobody has unsealed, and evaluation
// needs no keys — the rules, samples and vanta.alerts are plain.
func alertService(cfg appliance.Config, a *appliance.Appliance, live ...alerts.Source) background.Service {
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
			return &alerts.Evaluator{DB: st.App, Rules: rules, Sources: alertSources(cfg, a, live), Logger: a.Logger()}, nil
		},
	}
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
