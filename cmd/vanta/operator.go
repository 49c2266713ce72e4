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
	"strings"
	"time"

	"golang.org/x/term"

	"github.com/vanta-ledger/vanta/appliance"
	"github.com/vanta-ledger/vanta/internal/seal"
)

const operatorUsage = `usage: vanta operator <command> [flags]

commands:
  init [--shares N] [--threshold K] [--custodian NAME[=AGE_RECIPIENT]]... [--reissue] [--json]
                  create the master secret and print each custodian's share, once
  confirm         a custodian re-enters their share to finish init (key ceremony)
  unseal [--reset]
                  enter one share; prompts without echo, or reads stdin when piped
  seal            lock the keys away again
  seal-status [--json]
  rekey start [--shares N] [--threshold K] [--custodian ...]
  rekey update    enter a current share; at the threshold prints the new shares
  rekey confirm   a new custodian confirms their new share
  rekey cancel
  rotate          add a root key version
  break-glass     enter a share towards a single-use emergency token

Every command takes --addr (default from VANTA_LISTEN, else 127.0.0.1:8443).
The API is HTTPS unless --addr says http:// (or VANTA_TLS=off). On the box the
appliance's own certificate is trusted (read from --data, env VANTA_DATA);
elsewhere give --ca FILE, or --insecure-skip-verify (not for real use).
init sends the one-time setup token: --setup-token, env VANTA_SETUP_TOKEN, or
read from --data on the box.
`

// operatorClient talks to the local API.
type operatorClient struct {
	base       string
	http       *http.Client
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
}

func (e *apiCallError) Error() string {
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

func cmdOperator(args []string) int {
	if len(args) == 0 {
		fmt.Fprint(os.Stderr, operatorUsage)
		return exitUsage
	}
	sub, args := args[0], args[1:]
	if sub == "rekey" {
		if len(args) == 0 {
			fmt.Fprintln(os.Stderr, "vanta operator rekey: say start, update, confirm or cancel")
			return exitUsage
		}
		sub, args = "rekey "+args[0], args[1:]
	}
	fs := flag.NewFlagSet("vanta operator "+sub, flag.ContinueOnError)
	addr := fs.String("addr", defaultAddr(), "API address (host:port or URL)")
	asJSON := fs.Bool("json", false, "print JSON")
	shares := fs.Int("shares", 0, "number of shares (default 7)")
	threshold := fs.Int("threshold", 0, "shares needed to unseal (default 5)")
	reissue := fs.Bool("reissue", false, "init: replace a share set still waiting for confirmations")
	reset := fs.Bool("reset", false, "unseal: discard the shares entered so far")
	dataDir := appliance.Defaults().DataDir
	if v := os.Getenv("VANTA_DATA"); v != "" {
		dataDir = v
	}
	fs.StringVar(&dataDir, "data", dataDir, "data directory, on the box: its certificate and setup token (env VANTA_DATA)")
	caFile := fs.String("ca", "", "trust the certificate(s) in this PEM file for the API")
	insecure := fs.Bool("insecure-skip-verify", false, "do not verify the API's certificate (warns; a network attacker could read the shares)")
	setupToken := fs.String("setup-token", os.Getenv("VANTA_SETUP_TOKEN"), "init: the first-boot setup token (env VANTA_SETUP_TOKEN; default: read from --data)")
	var custodians custodianFlags
	fs.Var(&custodians, "custodian", "custodian NAME or NAME=AGE_RECIPIENT, in slot order (repeatable)")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return exitOK
		}
		return exitUsage
	}
	c, err := newOperatorClient(*addr, dataDir, *caFile, *insecure)
	if err != nil {
		fmt.Fprintf(os.Stderr, "vanta operator %s: %v\n", sub, err)
		return exitUsage
	}
	if sub == "init" {
		c.setupToken = *setupToken
		if c.setupToken == "" {
			// On the box the token is ours to read; spent or absent is
			// fine: the appliance then asks for none.
			c.setupToken, _ = appliance.ReadSetupToken(dataDir)
		}
	}
	initReq := seal.InitRequest{Shares: *shares, Threshold: *threshold, Custodians: custodians, Reissue: *reissue}

	switch sub {
	case "init":
		var res seal.InitResult
		if err = c.call("POST", "/api/v1/sys/init", initReq, &res); err == nil {
			printShares(res, *asJSON)
		}
	case "confirm":
		err = c.withShare("/api/v1/sys/init/confirm", *asJSON)
	case "unseal":
		if *reset {
			err = c.statusCall("POST", "/api/v1/sys/unseal", map[string]bool{"reset": true}, *asJSON)
			break
		}
		err = c.withShare("/api/v1/sys/unseal", *asJSON)
	case "seal":
		err = c.statusCall("POST", "/api/v1/sys/seal", nil, *asJSON)
	case "seal-status":
		err = c.statusCall("GET", "/api/v1/sys/seal-status", nil, *asJSON)
	case "rekey start":
		err = c.statusCall("POST", "/api/v1/sys/rekey/init", initReq, *asJSON)
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
			printShares(seal.InitResult{Threshold: out.Threshold, Shares: out.Shares}, *asJSON)
			break
		}
		out.Status.Rekey = out.Rekey
		printStatus(out.Status, *asJSON)
	case "rekey confirm":
		err = c.withShare("/api/v1/sys/rekey/confirm", *asJSON)
	case "rekey cancel":
		err = c.statusCall("POST", "/api/v1/sys/rekey/cancel", nil, *asJSON)
	case "rotate":
		err = c.statusCall("POST", "/api/v1/sys/rotate", nil, *asJSON)
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
	case "help", "-h", "--help":
		fmt.Print(operatorUsage)
		return exitOK
	default:
		fmt.Fprintf(os.Stderr, "vanta operator: unknown command %q\n\n%s", sub, operatorUsage)
		return exitUsage
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "vanta operator %s: %v\n", sub, err)
		var ae *apiCallError
		if errors.As(err, &ae) && ae.Status < 500 {
			return exitUsage
		}
		return exitFailure
	}
	return exitOK
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
func readShare() (string, error) {
	fd := int(os.Stdin.Fd())
	if term.IsTerminal(fd) {
		fmt.Fprint(os.Stderr, "Share (input hidden): ")
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
		state = fmt.Sprintf("initializing: %d confirmations pending", st.PendingConfirmations)
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
	if st.Rekey != nil {
		fmt.Printf("Rekey:       %d of %d current shares; %d new shares pending confirmation\n", st.Rekey.Progress, st.Rekey.Required, st.Rekey.PendingConfirmations)
	}
}

func printShares(res seal.InitResult, asJSON bool) {
	if asJSON {
		b, _ := json.MarshalIndent(res, "", "  ")
		fmt.Println(string(b))
		return
	}
	fmt.Printf("%d shares; any %d unseal. They are shown this once: hand each to its custodian now.\n\n", len(res.Shares), res.Threshold)
	for _, s := range res.Shares {
		fmt.Printf("Slot %d (%s):\n%s\n\n", s.Slot, s.Custodian, s.Share)
	}
	fmt.Println("Each custodian then confirms with `vanta operator confirm` (or on /setup).")
}
