package main

import (
	"bufio"
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"

	"golang.org/x/term"

	"github.com/vanta-ledger/vanta/appliance"
	"github.com/vanta-ledger/vanta/internal/seal"
)

const operatorUsage = `usage: vanta operator <command> [flags]

commands:
  init [--shares N] [--threshold K] [--custodian NAME[=AGE_RECIPIENT]]... [--reissue] [--json]
                  create the master secret and print each custodian's share and
                  the ceremony token, once; --reissue starts over and needs the
                  ceremony token (VANTA_CEREMONY_TOKEN, or entered like a share)
                  or one share of the pending set
  confirm         a custodian re-enters their share to finish init (key ceremony)
  unseal [--reset]
                  enter one share; prompts without echo, or reads stdin when piped;
                  --reset discards the round and needs a share entered in it
                  (or GOD's token in VANTA_TOKEN)
  seal [--data DIR]
                  lock the keys away again; on the box, through the control
                  socket (root only), so no GOD token is needed
  seal-status [--json]
  rekey start [--shares N] [--threshold K] [--custodian ...]
                  needs GOD's token (VANTA_TOKEN) while unsealed
  rekey update    enter a current share; at the threshold prints the new shares
  rekey confirm   a new custodian confirms their new share
  rekey cancel    with VANTA_TOKEN: GOD cancels; without: enter a current share,
                  the threshold of them cancels
  rotate          add a root key version (GOD's token in VANTA_TOKEN)
  break-glass     enter a share towards a single-use emergency token

Every command but seal takes --addr (default from VANTA_LISTEN, else
127.0.0.1:8443). 'vanta operator COMMAND -h' lists that command's flags.
The API is HTTPS unless --addr says http:// (or VANTA_TLS=off). On the box the
appliance's own certificate is trusted (read from --data, env VANTA_DATA);
elsewhere give --ca FILE, or --insecure-skip-verify (not for real use).
init sends the one-time setup token: --setup-token, env VANTA_SETUP_TOKEN, or
read from --data on the box.
GOD's access token, when a command needs it, is read from VANTA_TOKEN (never
a flag: it would show in the process list).
`

// operatorClient talks to the local API.
type operatorClient struct {
	base       string
	http       *http.Client
	token      string // GOD's access token (VANTA_TOKEN), sent when set
	setupToken string // sent when set (init, before a GOD exists)
}

// newOperatorClient reaches addr over HTTPS unless it says http://,
// trusting caFile, else the appliance's own certificate when dataDir holds
// it (on the box), else the system's roots.
func newOperatorClient(addr, dataDir, caFile string, insecure bool) (*operatorClient, error) {
	base := addr
	if !strings.Contains(base, "://") {
		scheme := "https://"
		if strings.EqualFold(os.Getenv("VANTA_TLS"), "off") {
			scheme = "http://"
		}
		base = scheme + base
	}
	u, err := url.Parse(base)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("--addr %q: want host:port, https://host:port or http://host:port", addr)
	}
	tr := http.DefaultTransport.(*http.Transport).Clone()
	if u.Scheme == "https" {
		cfg := &tls.Config{MinVersion: tls.VersionTLS12}
		switch {
		case insecure:
			fmt.Fprintln(os.Stderr, "warning: --insecure-skip-verify: the API's certificate is not checked; anyone on the network path could read the shares and the setup token")
			cfg.InsecureSkipVerify = true
		case caFile != "":
			pool, err := pemPool(caFile)
			if err != nil {
				return nil, fmt.Errorf("--ca: %w", err)
			}
			cfg.RootCAs = pool
		default:
			// On the box: the certificate made at first boot. Absent (not
			// on the box, or the operator's own certificate): system roots.
			if pool, err := pemPool(appliance.SelfSignedCert(dataDir)); err == nil {
				cfg.RootCAs = pool
			}
		}
		tr.TLSClientConfig = cfg
	}
	return &operatorClient{base: strings.TrimRight(base, "/"), http: &http.Client{Timeout: 30 * time.Second, Transport: tr}}, nil
}

func pemPool(path string) (*x509.CertPool, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(b) {
		return nil, fmt.Errorf("%s holds no PEM certificate", path)
	}
	return pool, nil
}

func defaultAddr() string {
	listen := os.Getenv("VANTA_LISTEN")
	if listen == "" {
		listen = ":8443"
	}
	host, port, err := net.SplitHostPort(listen)
	if err != nil {
		return listen
	}
	if host == "" || host == "0.0.0.0" || host == "::" {
		host = "127.0.0.1"
	}
	return net.JoinHostPort(host, port)
}

// apiError is an error answer of the API.
type apiCallError struct {
	Status  int
	Code    string
	Message string
	Field   string
	Flag    string // the flag (or input) behind Field, when known
}

func (e *apiCallError) Error() string {
	if e.Flag != "" {
		return fmt.Sprintf("%s: %s (%s)", e.Flag, e.Message, e.Code)
	}
	if e.Field != "" {
		return fmt.Sprintf("%s (%s, field %s)", e.Message, e.Code, e.Field)
	}
	return fmt.Sprintf("%s (%s)", e.Message, e.Code)
}

func (c *operatorClient) call(method, path string, body, out any) error {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return err
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, c.base+path, rd)
	if err != nil {
		return err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	if c.setupToken != "" {
		req.Header.Set(appliance.SetupTokenHeader, c.setupToken)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		var unknown x509.UnknownAuthorityError
		var host x509.HostnameError
		if errors.As(err, &unknown) || errors.As(err, &host) {
			return fmt.Errorf("the API at %s has a certificate this computer does not trust: on the box pass --data DIR (its certificate is DIR/tls/cert.pem), elsewhere --ca FILE: %w", c.base, err)
		}
		return fmt.Errorf("cannot reach the API at %s (is vanta init running? set --addr): %w", c.base, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		return err
	}
	if resp.StatusCode >= 400 {
		var e struct {
			Error struct{ Code, Message, Field string } `json:"error"`
		}
		if json.Unmarshal(data, &e) != nil || e.Error.Code == "" {
			return fmt.Errorf("%s %s: %s", method, path, resp.Status)
		}
		return &apiCallError{Status: resp.StatusCode, Code: e.Error.Code, Message: e.Error.Message, Field: e.Error.Field}
	}
	if out != nil {
		return json.Unmarshal(data, out)
	}
	return nil
}

// custodianFlags collects --custodian NAME[=AGE_RECIPIENT].
type custodianFlags []seal.Custodian

func (c *custodianFlags) String() string { return fmt.Sprint(*c) }

func (c *custodianFlags) Set(v string) error {
	name, recipient, _ := strings.Cut(v, "=")
	if strings.TrimSpace(name) == "" {
		return errors.New("want NAME or NAME=AGE_RECIPIENT")
	}
	*c = append(*c, seal.Custodian{Name: name, AgeRecipient: recipient})
	return nil
}

// operatorFlags says which flags each subcommand takes, so that `-h`
// lists only those and a flag another subcommand uses is refused.
var operatorFlags = map[string][]string{
	"init":          {"addr", "data", "ca", "insecure-skip-verify", "setup-token", "json", "shares", "threshold", "custodian", "reissue"},
	"confirm":       {"addr", "data", "ca", "insecure-skip-verify", "json"},
	"unseal":        {"addr", "data", "ca", "insecure-skip-verify", "json", "reset"},
	"seal":          {"data", "json"},
	"seal-status":   {"addr", "data", "ca", "insecure-skip-verify", "json"},
	"rekey start":   {"addr", "data", "ca", "insecure-skip-verify", "json", "shares", "threshold", "custodian"},
	"rekey update":  {"addr", "data", "ca", "insecure-skip-verify", "json"},
	"rekey confirm": {"addr", "data", "ca", "insecure-skip-verify", "json"},
	"rekey cancel":  {"addr", "data", "ca", "insecure-skip-verify", "json"},
	"rotate":        {"addr", "data", "ca", "insecure-skip-verify", "json"},
	"break-glass":   {"addr", "data", "ca", "insecure-skip-verify"},
}

// flagOfField names the flag (or input) behind a field the API refused.
func flagOfField(field string) string {
	switch {
	case field == "shares", field == "threshold", field == "reissue", field == "reset":
		return "--" + field
	case field == "custodians":
		return "--custodian"
	case strings.HasPrefix(field, "custodians["):
		// custodians[2].name is the third --custodian.
		i, err := strconv.Atoi(field[len("custodians["):strings.IndexByte(field, ']')])
		if err == nil {
			return fmt.Sprintf("--custodian (the %s)", ordinal(i+1))
		}
		return "--custodian"
	case field == "share", field == "nonce":
		return "the share on standard input"
	}
	return field
}

func ordinal(n int) string {
	suffix := "th"
	switch {
	case n%100 >= 11 && n%100 <= 13:
	case n%10 == 1:
		suffix = "st"
	case n%10 == 2:
		suffix = "nd"
	case n%10 == 3:
		suffix = "rd"
	}
	return strconv.Itoa(n) + suffix
}

func cmdOperator(args []string) int {
	if len(args) == 0 {
		fmt.Fprint(os.Stderr, operatorUsage)
		return exitUsage
	}
	sub, args := args[0], args[1:]
	switch sub {
	case "help", "-h", "--help":
		fmt.Print(operatorUsage)
		return exitOK
	case "rekey":
		if len(args) == 0 || strings.HasPrefix(args[0], "-") {
			fmt.Fprintln(os.Stderr, "vanta operator rekey: say start, update, confirm or cancel")
			return exitUsage
		}
		sub, args = "rekey "+args[0], args[1:]
	}
	names, ok := operatorFlags[sub]
	if !ok {
		fmt.Fprintf(os.Stderr, "vanta operator: unknown command %q\n\n%s", sub, operatorUsage)
		return exitUsage
	}
	fs := flag.NewFlagSet("vanta operator "+sub, flag.ContinueOnError)
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "usage: vanta operator %s [flags]\n\nflags:\n", sub)
		fs.PrintDefaults()
	}
	var (
		addr, dataDir, caFile  string
		setupToken             string
		insecure               bool
		asJSON, reissue, reset bool
		shares, threshold      int
		custodians             custodianFlags
	)
	for _, name := range names {
		switch name {
		case "addr":
			fs.StringVar(&addr, "addr", defaultAddr(), "API address (host:port or URL; env VANTA_LISTEN)")
		case "data":
			dataDir = appliance.Defaults().DataDir
			if v := os.Getenv("VANTA_DATA"); v != "" {
				dataDir = v
			}
			fs.StringVar(&dataDir, "data", dataDir, "data directory of the running init, on the box: its control socket, certificate and setup token (env VANTA_DATA)")
		case "json":
			fs.BoolVar(&asJSON, "json", false, "print JSON")
		case "shares":
			fs.IntVar(&shares, "shares", 0, "number of shares (default 7)")
		case "threshold":
			fs.IntVar(&threshold, "threshold", 0, "shares needed to unseal (default 5)")
		case "custodian":
			fs.Var(&custodians, "custodian", "custodian NAME or NAME=AGE_RECIPIENT, in slot order (repeatable)")
		case "ca":
			fs.StringVar(&caFile, "ca", "", "trust the certificate(s) in this PEM file for the API")
		case "insecure-skip-verify":
			fs.BoolVar(&insecure, "insecure-skip-verify", false, "do not verify the API's certificate (warns; a network attacker could read the shares)")
		case "setup-token":
			fs.StringVar(&setupToken, "setup-token", os.Getenv("VANTA_SETUP_TOKEN"), "the first-boot setup token (env VANTA_SETUP_TOKEN; default: read from --data)")
		case "reissue":
			fs.BoolVar(&reissue, "reissue", false, "replace a share set still waiting for confirmations (needs the ceremony token or a pending share)")
		case "reset":
			fs.BoolVar(&reset, "reset", false, "discard the shares entered so far (enter your share, entered in this round)")
		}
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return exitOK
		}
		return exitUsage
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(os.Stderr, "vanta operator %s: unexpected argument %q (see vanta operator %s -h)\n", sub, fs.Arg(0), sub)
		return exitUsage
	}
	var (
		c   *operatorClient
		err error
	)
	if sub != "seal" { // seal goes through the control socket
		if c, err = newOperatorClient(addr, dataDir, caFile, insecure); err != nil {
			fmt.Fprintf(os.Stderr, "vanta operator %s: %v\n", sub, err)
			return exitUsage
		}
		c.token = os.Getenv("VANTA_TOKEN")
	}
	if sub == "init" {
		c.setupToken = setupToken
		if c.setupToken == "" {
			// On the box the token is ours to read; spent or absent is
			// fine: the appliance then asks for none.
			c.setupToken, _ = appliance.ReadSetupToken(dataDir)
		}
	}
	initReq := seal.InitRequest{Shares: shares, Threshold: threshold, Custodians: custodians, Reissue: reissue}

	switch sub {
	case "init":
		if reissue {
			// The proof of running this ceremony: its token, or a share
			// of the pending set. Without one the API says what it needs.
			proof := os.Getenv("VANTA_CEREMONY_TOKEN")
			if proof == "" {
				proof, _ = readSecret("Ceremony token or a share of the pending set (input hidden): ")
			}
			if strings.HasPrefix(proof, "vct_") {
				initReq.CeremonyToken = proof
			} else {
				initReq.Share = proof
			}
		}
		var res seal.InitResult
		if err = c.call("POST", "/api/v1/sys/init", initReq, &res); err == nil {
			printShares(res, asJSON)
		}
	case "confirm":
		err = c.withShare("/api/v1/sys/init/confirm", asJSON)
	case "unseal":
		if reset {
			body := map[string]any{"reset": true}
			if c.token == "" {
				var share string
				if share, err = readShare(); err != nil {
					break
				}
				body["share"] = share
			}
			err = c.statusCall("POST", "/api/v1/sys/unseal", body, asJSON)
			break
		}
		err = c.withShare("/api/v1/sys/unseal", asJSON)
	case "seal":
		err = sealOverSocket(dataDir, asJSON)
	case "seal-status":
		err = c.statusCall("GET", "/api/v1/sys/seal-status", nil, asJSON)
	case "rekey start":
		err = c.statusCall("POST", "/api/v1/sys/rekey/init", initReq, asJSON)
	case "rekey update":
		var share string
		if share, err = readShare(); err != nil {
			break
		}
		var out struct {
			seal.Status
			Complete  bool               `json:"complete"`
			Threshold int                `json:"threshold"`
			Shares    []seal.IssuedShare `json:"shares"`
			Rekey     *seal.RekeyStatus  `json:"rekey"`
		}
		if err = c.call("POST", "/api/v1/sys/rekey/update", map[string]string{"share": share}, &out); err != nil {
			break
		}
		if out.Complete {
			printShares(seal.InitResult{Threshold: out.Threshold, Shares: out.Shares}, asJSON)
			break
		}
		out.Status.Rekey = out.Rekey
		printStatus(out.Status, asJSON)
	case "rekey confirm":
		err = c.withShare("/api/v1/sys/rekey/confirm", asJSON)
	case "rekey cancel":
		if c.token != "" {
			err = c.statusCall("POST", "/api/v1/sys/rekey/cancel", nil, asJSON)
			break
		}
		err = c.withShare("/api/v1/sys/rekey/cancel", asJSON)
	case "rotate":
		err = c.statusCall("POST", "/api/v1/sys/rotate", nil, asJSON)
	case "break-glass":
		var share string
		if share, err = readShare(); err != nil {
			break
		}
		var out map[string]any
		if err = c.call("POST", "/api/v1/sys/break-glass", map[string]string{"share": share}, &out); err == nil {
			b, _ := json.MarshalIndent(out, "", "  ")
			fmt.Println(string(b))
		}
	}
	if err != nil {
		var ae *apiCallError
		if errors.As(err, &ae) && ae.Field != "" {
			ae.Flag = flagOfField(ae.Field)
		}
		fmt.Fprintf(os.Stderr, "vanta operator %s: %v\n", sub, err)
		if errors.As(err, &ae) && ae.Status < 500 {
			return exitUsage
		}
		return exitFailure
	}
	return exitOK
}

// sealOverSocket seals through the control socket: the operator on the
// box (root, who alone can open the 0600 socket) needs no GOD token, and
// the audit chain records "operator via control socket".
func sealOverSocket(dataDir string, asJSON bool) error {
	c := newCtlClient(dataDir)
	resp, err := c.do(http.MethodPost, "/v1/seal")
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	var st seal.Status
	if err := json.NewDecoder(resp.Body).Decode(&st); err != nil {
		return fmt.Errorf("control socket answer: %w", err)
	}
	printStatus(st, asJSON)
	return nil
}

// withShare reads a share and posts it, printing the seal status.
func (c *operatorClient) withShare(path string, asJSON bool) error {
	share, err := readShare()
	if err != nil {
		return err
	}
	return c.statusCall("POST", path, map[string]string{"share": share}, asJSON)
}

// statusCall makes a call that answers with the seal status, and prints it.
func (c *operatorClient) statusCall(method, path string, body any, asJSON bool) error {
	var st seal.Status
	if err := c.call(method, path, body, &st); err != nil {
		return err
	}
	printStatus(st, asJSON)
	return nil
}

// readShare reads a share without echo from a terminal, or from stdin
// when piped (an age-encrypted share decrypted on the fly, say). Never
// from a flag: it would sit in shell history and the process list.
func readShare() (string, error) { return readSecret("Share (input hidden): ") }

// readSecret reads one secret as readShare does, prompting with prompt.
func readSecret(prompt string) (string, error) {
	fd := int(os.Stdin.Fd())
	if term.IsTerminal(fd) {
		fmt.Fprint(os.Stderr, prompt)
		b, err := term.ReadPassword(fd)
		fmt.Fprintln(os.Stderr)
		if err != nil {
			return "", err
		}
		return strings.TrimSpace(string(b)), nil
	}
	b, err := io.ReadAll(bufio.NewReader(io.LimitReader(os.Stdin, 64<<10)))
	if err != nil {
		return "", err
	}
	share := strings.TrimSpace(string(b))
	if share == "" {
		return "", errors.New("no share on standard input")
	}
	return share, nil
}

func printStatus(st seal.Status, asJSON bool) {
	if asJSON {
		b, _ := json.MarshalIndent(st, "", "  ")
		fmt.Println(string(b))
		return
	}
	state := "sealed"
	switch {
	case !st.Initialized && st.PendingConfirmations > 0:
		state = "initializing: " + confirmationsPending(st.PendingConfirmations)
	case !st.Initialized:
		state = "not initialized"
	case !st.Sealed:
		state = "unsealed"
	}
	fmt.Printf("State:       %s\n", state)
	if st.Shares > 0 {
		fmt.Printf("Shares:      %d (threshold %d)\n", st.Shares, st.Threshold)
		fmt.Printf("Progress:    %d of %d\n", st.Progress, st.Threshold)
		fmt.Printf("Key version: %d\n", st.KeyVersion)
		for _, cs := range st.Custodians {
			mark := " "
			if cs.Entered {
				mark = "✓"
			}
			fmt.Printf("  [%s] slot %d  %s\n", mark, cs.Slot, cs.Name)
		}
	}
	if r := st.Rekey; r != nil {
		fmt.Printf("Rekey:       %d of %d current shares; %d new shares pending confirmation\n", r.Progress, r.Required, r.PendingConfirmations)
		by := r.StartedBy
		if r.StartedByUser != "" {
			by += " (user " + r.StartedByUser + ")"
		}
		fmt.Printf("  started by %s from %s at %s; expires if idle until %s\n", by, r.StartedIP,
			r.StartedAt.Format(time.RFC3339), r.ExpiresAt.Format(time.RFC3339))
		fmt.Printf("  new set: %d shares, any %d unseal; they go to:\n", r.NewShares, r.NewThreshold)
		for i, nc := range r.NewCustodians {
			to := "shown in plain text"
			if nc.AgeRecipient != "" {
				to = "encrypted to " + nc.AgeRecipient
			}
			fmt.Printf("    slot %d  %s  (%s)\n", i+1, nc.Name, to)
		}
		if r.CancelProgress > 0 {
			fmt.Printf("  cancelling: %d of %d current shares\n", r.CancelProgress, r.Required)
		}
	}
}

// shareLines lays a typed share out seven groups to a line, the way a
// person copies it; an age-encrypted share is printed as it is.
func shareLines(s seal.IssuedShare) string {
	if s.Encrypted || !strings.Contains(s.Share, "-") {
		return s.Share
	}
	groups := strings.Split(s.Share, "-")
	var lines []string
	for len(groups) > 0 {
		n := min(7, len(groups))
		lines = append(lines, "  "+strings.Join(groups[:n], " "))
		groups = groups[n:]
	}
	return strings.Join(lines, "\n")
}

func printShares(res seal.InitResult, asJSON bool) {
	if asJSON {
		b, _ := json.MarshalIndent(res, "", "  ")
		fmt.Println(string(b))
		return
	}
	fmt.Printf("%d shares; any %d unseal. They are shown this once: hand each to its custodian now.\n\n", len(res.Shares), res.Threshold)
	for _, s := range res.Shares {
		fmt.Printf("Slot %d (%s):\n%s\n\n", s.Slot, s.Custodian, shareLines(s))
	}
	fmt.Println("Each custodian then confirms with `vanta operator confirm` (or on /setup).")
	if res.CeremonyToken != "" {
		fmt.Printf("\nCeremony token (keep it until every custodian has confirmed; starting over\nwith `vanta operator init --reissue` needs it):\n%s\n", res.CeremonyToken)
	}
}

// confirmationsPending says how many custodians have yet to confirm.
func confirmationsPending(n int) string {
	if n == 1 {
		return "1 confirmation pending"
	}
	return fmt.Sprintf("%d confirmations pending", n)
}
