package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/vanta-ledger/vanta/appliance"
	"github.com/vanta-ledger/vanta/internal/seal"
)

const ctlUsage = `usage: vanta ctl <command> [flags]

commands:
  status [--json] [--check [--allow-sealed]]
                                the seal, and services: state, pid, uptime, restarts
  restart NAME                  stop and start one service
  logs NAME [-n N] [-f] [--json]  a service's recent output
  events                        state changes as they happen (JSON lines)
  setup-token [--json]          the one-time first-boot token (until a GOD exists)
  alerts [--state S] [--json]   the newest alerts: firing, pending, resolved

Every command takes --data DIR (env VANTA_DATA, default /var/lib/vanta) and
talks to the running 'vanta init' over DIR/run/vanta.sock.
`

func cmdCtl(args []string) int {
	if len(args) == 0 {
		fmt.Fprint(os.Stderr, ctlUsage)
		return exitUsage
	}
	sub, args := args[0], args[1:]
	fs := flag.NewFlagSet("vanta ctl "+sub, flag.ContinueOnError)
	dataDir := appliance.Defaults().DataDir
	if v := os.Getenv("VANTA_DATA"); v != "" {
		dataDir = v
	}
	fs.StringVar(&dataDir, "data", dataDir, "data directory of the running init (env VANTA_DATA)")
	asJSON := fs.Bool("json", false, "print JSON")
	var run func(c *ctlClient, fs *flag.FlagSet) int
	switch sub {
	case "status":
		check := fs.Bool("check", false, "exit 1 unless unsealed and every enabled critical service is healthy")
		allowSealed := fs.Bool("allow-sealed", false, "with --check: a sealed appliance with healthy services passes (the image's HEALTHCHECK, so custodians are not interrupted by a restart)")
		run = func(c *ctlClient, _ *flag.FlagSet) int { return ctlStatus(c, *asJSON, *check, *allowSealed) }
	case "restart":
		run = ctlRestart
	case "logs":
		n := fs.Int("n", 100, "number of recent lines")
		follow := fs.Bool("f", false, "keep printing new lines")
		run = func(c *ctlClient, fs *flag.FlagSet) int { return ctlLogs(c, fs, *n, *follow, *asJSON) }
	case "events":
		run = func(c *ctlClient, _ *flag.FlagSet) int { return ctlEvents(c) }
	case "setup-token":
		run = func(c *ctlClient, _ *flag.FlagSet) int { return ctlSetupToken(c, dataDir, *asJSON) }
	case "alerts":
		state := fs.String("state", "", "only alerts in this state: firing, pending or resolved")
		run = func(c *ctlClient, _ *flag.FlagSet) int { return ctlAlerts(c, *state, *asJSON) }
	case "help", "-h", "--help":
		fmt.Print(ctlUsage)
		return exitOK
	default:
		fmt.Fprintf(os.Stderr, "vanta ctl: unknown command %q\n\n%s", sub, ctlUsage)
		return exitUsage
	}
	// Let flags follow a positional NAME: `logs postgres -n 5`.
	if err := parseInterspersed(fs, args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return exitOK
		}
		return exitUsage
	}
	return run(newCtlClient(dataDir), fs)
}

// parseInterspersed parses flags wherever they stand among the arguments,
// leaving the positional ones in fs.Args().
func parseInterspersed(fs *flag.FlagSet, args []string) error {
	var positional []string
	for {
		if err := fs.Parse(args); err != nil {
			return err
		}
		if fs.NArg() == 0 {
			break
		}
		positional = append(positional, fs.Arg(0))
		args = fs.Args()[1:]
	}
	return fs.Parse(append([]string{"--"}, positional...))
}

type ctlClient struct {
	socket string
	http   *http.Client
}

func newCtlClient(dataDir string) *ctlClient {
	socket := appliance.ControlSocket(dataDir)
	return &ctlClient{socket: socket, http: &http.Client{Transport: &http.Transport{
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			return (&net.Dialer{}).DialContext(ctx, "unix", socket)
		},
	}}}
}

func (c *ctlClient) do(method, path string) (*http.Response, error) {
	req, err := http.NewRequest(method, "http://vanta"+path, nil)
	if err != nil {
		return nil, err
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return nil, &ctlUnreachable{socket: c.socket, err: err}
	}
	if resp.StatusCode >= 400 {
		defer resp.Body.Close()
		var body struct {
			Error struct{ Message string } `json:"error"`
		}
		_ = json.NewDecoder(resp.Body).Decode(&body)
		return nil, errors.New(body.Error.Message)
	}
	return resp, nil
}

// ctlUnreachable says the control socket did not answer.
type ctlUnreachable struct {
	socket string
	err    error
}

func (e *ctlUnreachable) Error() string {
	return fmt.Sprintf("cannot reach vanta init at %s (is it running? is --data right?): %v", e.socket, e.err)
}

func (e *ctlUnreachable) Unwrap() error { return e.err }

func (c *ctlClient) getJSON(path string, v any) error {
	resp, err := c.do(http.MethodGet, path)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	return json.NewDecoder(resp.Body).Decode(v)
}

// ctlSeal is the seal as `ctl status` shows it: seal-status's object with
// its state in one word.
type ctlSeal struct {
	State string `json:"state"` // sealed, unsealed, uninitialized or initializing
	seal.Status
}

func sealState(st seal.Status) string {
	switch {
	case !st.Initialized && st.PendingConfirmations > 0:
		return "initializing"
	case !st.Initialized:
		return "uninitialized"
	case st.Sealed:
		return "sealed"
	}
	return "unsealed"
}

// sealLine is the seal in one line, with the unseal progress k/n.
func sealLine(s ctlSeal) string {
	switch s.State {
	case "sealed":
		return fmt.Sprintf("sealed (%d/%d shares entered; custodians: vanta operator unseal)", s.Progress, s.Threshold)
	case "initializing":
		return "initializing (" + confirmationsPending(s.PendingConfirmations) + "; custodians: vanta operator confirm)"
	case "uninitialized":
		return "uninitialized (run the key ceremony: vanta operator init, or /setup)"
	}
	return fmt.Sprintf("unsealed (key version %d, %d of %d shares unseal)", s.KeyVersion, s.Threshold, s.Shares)
}

func ctlStatus(c *ctlClient, asJSON, check, allowSealed bool) int {
	var rep appliance.ServicesReport
	if err := c.getJSON("/v1/services", &rep); err != nil {
		fmt.Fprintf(os.Stderr, "vanta ctl status: %v\n", err)
		return exitFailure
	}
	var sl ctlSeal
	if err := c.getJSON("/v1/seal", &sl.Status); err != nil {
		fmt.Fprintf(os.Stderr, "vanta ctl status: seal: %v\n", err)
		return exitFailure
	}
	sl.State = sealState(sl.Status)
	// The listener's certificate: an older init without the route leaves it out.
	var tlsInfo *appliance.TLSInfo
	if !check {
		var ti appliance.TLSInfo
		if err := c.getJSON("/v1/tls", &ti); err == nil && ti.Mode != "" {
			tlsInfo = &ti
		}
	}
	if asJSON {
		enc := json.NewEncoder(os.Stdout)
		enc.SetIndent("", "  ")
		_ = enc.Encode(struct {
			appliance.ServicesReport
			Seal ctlSeal            `json:"seal"`
			TLS  *appliance.TLSInfo `json:"tls,omitempty"`
		}{rep, sl, tlsInfo})
	} else if !check {
		fmt.Printf("Seal: %s\n\n", sealLine(sl))
		tw := tabwriter.NewWriter(os.Stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "NAME\tSTATE\tPID\tUPTIME\tRESTARTS\tLAST EXIT\tREASON")
		for _, s := range rep.Services {
			pid, uptime := "-", "-"
			if s.PID > 0 {
				pid, uptime = fmt.Sprint(s.PID), (time.Duration(s.UptimeS) * time.Second).String()
			}
			name := s.Name
			if s.Engine != "" {
				name += " (" + s.Engine + ")"
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%d\t%s\t%s\n", name, s.State, pid, uptime, s.Restarts, dash(s.LastExit), s.Reason)
		}
		tw.Flush()
		if tlsInfo != nil {
			fmt.Println()
			switch tlsInfo.Mode {
			case appliance.TLSOff:
				fmt.Println("TLS:         off (plain HTTP; VANTA_TLS=off, for running behind a TLS proxy)")
			default:
				fmt.Printf("TLS:         %s certificate %s (until %s)\n", tlsInfo.Mode, tlsInfo.Cert, tlsInfo.NotAfter.Format("2006-01-02"))
				fmt.Printf("SHA-256:     %s\n", tlsInfo.Fingerprint)
			}
		}
	}
	if check {
		for _, s := range rep.Services {
			if s.Critical && s.State != "healthy" && s.State != "disabled" {
				fmt.Fprintf(os.Stderr, "%s is %s %s\n", s.Name, s.State, s.Reason)
				return exitFailure
			}
		}
		// Services up but sealed serve nothing: not healthy either, unless
		// the caller (an orchestrator that restarts unhealthy containers,
		// losing the custodians' progress) asks to look at services only.
		if sl.State != "unsealed" && !allowSealed {
			fmt.Fprintf(os.Stderr, "%s\n", sealLine(sl))
			return exitFailure
		}
	}
	return exitOK
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func ctlRestart(c *ctlClient, fs *flag.FlagSet) int {
	if fs.NArg() != 1 {
		fmt.Fprintln(os.Stderr, "vanta ctl restart: name one service (see 'vanta ctl status')")
		return exitUsage
	}
	resp, err := c.do(http.MethodPost, "/v1/services/"+url.PathEscape(fs.Arg(0))+"/restart")
	if err != nil {
		fmt.Fprintf(os.Stderr, "vanta ctl restart: %v\n", err)
		return exitFailure
	}
	resp.Body.Close()
	fmt.Printf("restarting %s\n", fs.Arg(0))
	return exitOK
}

func ctlLogs(c *ctlClient, fs *flag.FlagSet, n int, follow, asJSON bool) int {
	if fs.NArg() != 1 {
		fmt.Fprintln(os.Stderr, "vanta ctl logs: name one service (see 'vanta ctl status')")
		return exitUsage
	}
	if n < 0 {
		fmt.Fprintln(os.Stderr, "vanta ctl logs: -n must not be negative")
		return exitUsage
	}
	path := fmt.Sprintf("/v1/services/%s/logs?n=%d", url.PathEscape(fs.Arg(0)), n)
	if follow {
		path += "&follow=1"
	}
	resp, err := c.do(http.MethodGet, path)
	if err != nil {
		fmt.Fprintf(os.Stderr, "vanta ctl logs: %v\n", err)
		return exitFailure
	}
	defer resp.Body.Close()
	return printLines(resp.Body, func(raw []byte) string {
		if asJSON {
			return string(raw)
		}
		var l struct {
			Time   time.Time `json:"time"`
			Stream string    `json:"stream"`
			Line   string    `json:"line"`
		}
		if json.Unmarshal(raw, &l) != nil {
			return string(raw)
		}
		prefix := ""
		if l.Stream == "stderr" {
			prefix = "! "
		}
		return l.Time.Local().Format("15:04:05.000") + " " + prefix + l.Line
	})
}

func ctlEvents(c *ctlClient) int {
	resp, err := c.do(http.MethodGet, "/v1/events")
	if err != nil {
		fmt.Fprintf(os.Stderr, "vanta ctl events: %v\n", err)
		return exitFailure
	}
	defer resp.Body.Close()
	return printLines(resp.Body, func(raw []byte) string { return string(raw) })
}

func printLines(r io.Reader, format func([]byte) string) int {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		fmt.Println(strings.TrimRight(format(sc.Bytes()), "\n"))
	}
	return exitOK
}

// ctlSetupToken prints the first-boot setup token: from the running init
// over the control socket, else from the data directory. Both need the
// box: the socket and the file are the operator's (0600).
func ctlSetupToken(c *ctlClient, dataDir string, asJSON bool) int {
	out := struct {
		Token  string `json:"token"`
		File   string `json:"file"`
		Header string `json:"header"`
	}{File: appliance.SetupTokenPath(dataDir), Header: appliance.SetupTokenHeader}
	err := c.getJSON("/v1/setup-token", &out)
	var reach *ctlUnreachable
	if errors.As(err, &reach) {
		out.Token, err = appliance.ReadSetupToken(dataDir)
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "vanta ctl setup-token: %v\n", err)
		return exitFailure
	}
	if asJSON {
		b, _ := json.MarshalIndent(out, "", "  ")
		fmt.Println(string(b))
		return exitOK
	}
	fmt.Println(out.Token)
	fmt.Fprintf(os.Stderr, "Enter it on /setup, or send it as the %s header; it is spent when the creator account (GOD) is made.\n", out.Header)
	return exitOK
}
