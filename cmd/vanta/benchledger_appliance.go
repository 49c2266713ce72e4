package main

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/vanta-ledger/vanta/appliance"
	"github.com/vanta-ledger/vanta/internal/auth"
)

// benchAppliance is a throwaway `vanta init` in a temporary data
// directory, set up as a person would: key ceremony, GOD with TOTP,
// companies, and a manager in each whose token the load uses.
type benchAppliance struct {
	dir    string
	addr   string
	cmd    *exec.Cmd
	exited chan struct{}
	client *http.Client
	god    string // GOD's access token, after setUp

	logMu sync.Mutex
	tail  []string // the child's last log lines, shown when it fails
}

// benchCompany is one company of the run and its manager.
type benchCompany struct {
	ID       string
	email    string
	password string
	token    string
	accounts []benchAccount
}

type benchAccount struct {
	Code     string `json:"code"`
	Type     string `json:"type"`
	Currency string `json:"currency"`
	Active   bool   `json:"active"`
	Role     string `json:"role"`
}

// startBenchAppliance boots `vanta init` (this binary) on a free port with
// quotas raised out of the way (the load is the point, not the limiter)
// and waits until its services are healthy.
func startBenchAppliance(ctx context.Context, progress io.Writer) (*benchAppliance, error) {
	dir, err := os.MkdirTemp("", "vanta-bench-ledger-")
	if err != nil {
		return nil, err
	}
	if err := os.Chmod(dir, 0o711); err != nil { // postgres and redis run as their own users
		os.RemoveAll(dir)
		return nil, err
	}
	return startBenchApplianceIn(ctx, dir, nil, progress)
}

// startBenchApplianceIn boots an appliance on dir (new or restored) with
// extra environment; on failure dir is removed.
func startBenchApplianceIn(ctx context.Context, dir string, env []string, progress io.Writer) (*benchAppliance, error) {
	self, err := os.Executable()
	if err != nil {
		return nil, err
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	addr := ln.Addr().String()
	ln.Close()
	a := &benchAppliance{dir: dir, addr: addr, exited: make(chan struct{})}
	a.cmd = exec.Command(self, "init", "--data", dir, "--listen", addr)
	a.cmd.Env = append(os.Environ(), "VANTA_CONFIG=/dev/null",
		"VANTA_QUOTA_USER_RPM=1000000000", "VANTA_QUOTA_COMPANY_RPM=1000000000")
	a.cmd.Env = append(a.cmd.Env, env...)
	a.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	stdout, err := a.cmd.StdoutPipe()
	if err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	a.cmd.Stderr = a.cmd.Stdout
	fmt.Fprintf(progress, "booting a throwaway appliance in %s\n", dir)
	if err := a.cmd.Start(); err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	healthy := make(chan struct{})
	go func() {
		sc := bufio.NewScanner(stdout)
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		once := sync.Once{}
		for sc.Scan() {
			line := sc.Text()
			a.logMu.Lock()
			a.tail = append(a.tail, line)
			if len(a.tail) > 20 {
				a.tail = a.tail[1:]
			}
			a.logMu.Unlock()
			var m struct{ Msg string }
			if json.Unmarshal([]byte(line), &m) == nil && m.Msg == "services healthy" {
				once.Do(func() { close(healthy) })
			}
		}
	}()
	go func() { _ = a.cmd.Wait(); close(a.exited) }()
	select {
	case <-healthy:
	case <-a.exited:
		err := fmt.Errorf("vanta init exited before its services were healthy:\n%s", a.lastLines())
		a.stop()
		return nil, err
	case <-time.After(3 * time.Minute):
		a.stop()
		return nil, errors.New("vanta init was not healthy within 3 minutes")
	case <-ctx.Done():
		a.stop()
		return nil, ctx.Err()
	}
	certPEM, err := os.ReadFile(appliance.SelfSignedCert(dir))
	if err != nil {
		a.stop()
		return nil, err
	}
	block, _ := pem.Decode(certPEM)
	if block == nil {
		a.stop()
		return nil, errors.New("the appliance's certificate holds no PEM block")
	}
	cert, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		a.stop()
		return nil, err
	}
	pool := x509.NewCertPool()
	pool.AddCert(cert)
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.TLSClientConfig = &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}
	tr.ForceAttemptHTTP2 = true
	tr.MaxIdleConnsPerHost = 256
	a.client = &http.Client{Transport: tr, Timeout: 2 * time.Minute}
	return a, nil
}

func (a *benchAppliance) lastLines() string {
	a.logMu.Lock()
	defer a.logMu.Unlock()
	return strings.Join(a.tail, "\n")
}

// stop ends the appliance and removes its data directory.
func (a *benchAppliance) stop() {
	a.halt()
	os.RemoveAll(a.dir)
}

// halt ends the appliance, keeping its data directory.
func (a *benchAppliance) halt() {
	select {
	case <-a.exited:
	default:
		_ = a.cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-a.exited:
		case <-time.After(time.Minute):
			_ = syscall.Kill(-a.cmd.Process.Pid, syscall.SIGKILL)
			<-a.exited
		}
	}
}

// call sends one request; body is JSON bytes or nil.
func (a *benchAppliance) call(ctx context.Context, method, path, token string, body []byte) (int, []byte, error) {
	var r io.Reader
	if body != nil {
		r = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, "https://"+a.addr+path, r)
	if err != nil {
		return 0, nil, err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	} else if tok, err := appliance.ReadSetupToken(a.dir); err == nil && tok != "" {
		req.Header.Set(appliance.SetupTokenHeader, tok)
	}
	resp, err := a.client.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	return resp.StatusCode, data, err
}

// must sends a request whose answer must be want, decoding it into out.
func (a *benchAppliance) must(ctx context.Context, method, path, token string, body any, want int, out any) error {
	var b []byte
	if body != nil {
		var err error
		if b, err = json.Marshal(body); err != nil {
			return err
		}
	}
	code, data, err := a.call(ctx, method, path, token, b)
	if err != nil {
		return fmt.Errorf("%s %s: %w", method, path, err)
	}
	if code != want {
		return fmt.Errorf("%s %s: %d %s (want %d)", method, path, code, bytes.TrimSpace(data), want)
	}
	if out != nil {
		if err := json.Unmarshal(data, out); err != nil {
			return fmt.Errorf("%s %s: %w", method, path, err)
		}
	}
	return nil
}

// setUp runs the key ceremony, makes GOD (with TOTP) and n companies with
// a manager each, logged in, and reads each company's chart of accounts.
//
// One more company, last in the list, is for the report timings alone.
func (a *benchAppliance) setUp(ctx context.Context, n int, progress io.Writer) ([]*benchCompany, error) {
	var ceremony struct {
		Shares []struct{ Share string } `json:"shares"`
	}
	if err := a.must(ctx, "POST", "/api/v1/sys/init", "", map[string]int{"shares": 2, "threshold": 2}, 200, &ceremony); err != nil {
		return nil, err
	}
	for _, s := range ceremony.Shares {
		if err := a.must(ctx, "POST", "/api/v1/sys/init/confirm", "", map[string]string{"share": s.Share}, 200, nil); err != nil {
			return nil, err
		}
	}
	var god struct {
		TOTP struct{ Secret string } `json:"totp"`
	}
	const godPass = "seven quiet harbour lamps glowing"
	if err := a.must(ctx, "POST", "/api/v1/sys/setup/god", "", map[string]string{"email": "god@bench.test", "name": "Creator", "password": godPass}, 201, &god); err != nil {
		return nil, err
	}
	code, err := auth.TOTPCode(god.TOTP.Secret, time.Now())
	if err != nil {
		return nil, err
	}
	var godTok benchTokens
	if err := a.must(ctx, "POST", "/api/v1/auth/login", "", map[string]string{"email": "god@bench.test", "password": godPass, "totp": code}, 200, &godTok); err != nil {
		return nil, err
	}
	a.god = godTok.AccessToken
	var out []*benchCompany
	for i := range n + 1 {
		c, err := a.addCompany(ctx, fmt.Sprintf("Bench %02d Ltd", i), i)
		if err != nil {
			return nil, err
		}
		out = append(out, c)
		fmt.Fprintf(progress, "company %d/%d ready\n", i+1, n+1)
	}
	return out, nil
}

// addCompany makes a company with a manager who has set their own
// password, logged in, and reads its chart of accounts.
func (a *benchAppliance) addCompany(ctx context.Context, name string, i int) (*benchCompany, error) {
	var c struct {
		ID string `json:"company_id"`
	}
	if err := a.must(ctx, "POST", "/api/v1/companies", a.god,
		map[string]any{"company_name": name, "tax_id": fmt.Sprintf("P%09dB", 100000+i)}, 201, &c); err != nil {
		return nil, err
	}
	bc := &benchCompany{ID: c.ID, email: fmt.Sprintf("manager%02d@bench.test", i), password: fmt.Sprintf("quiet harbour lamps number %02d", i)}
	if err := a.must(ctx, "POST", "/api/v1/companies/"+c.ID+"/users", a.god,
		map[string]string{"email": bc.email, "name": "Manager", "role": "manager", "password": "initial " + bc.password}, 201, nil); err != nil {
		return nil, err
	}
	var tk benchTokens
	if err := a.must(ctx, "POST", "/api/v1/auth/password", "", map[string]string{"email": bc.email, "password": "initial " + bc.password, "new_password": bc.password}, 200, &tk); err != nil {
		return nil, err
	}
	bc.token = tk.AccessToken
	var list struct{ Items []benchAccount }
	if err := a.must(ctx, "GET", "/api/v1/companies/"+c.ID+"/accounts?limit=1000", bc.token, nil, 200, &list); err != nil {
		return nil, err
	}
	for _, acc := range list.Items {
		if acc.Active && (acc.Currency == "" || acc.Currency == "KES") {
			bc.accounts = append(bc.accounts, acc)
		}
	}
	if len(bc.accounts) < 2 || bc.byRole("ar") == "" {
		return nil, fmt.Errorf("company %s: the chart has %d usable accounts and ar %q", c.ID, len(bc.accounts), bc.byRole("ar"))
	}
	return bc, nil
}

// relogin renews every manager's access token (they last 15 minutes; a
// run with a million lines outlasts one).
func (a *benchAppliance) relogin(ctx context.Context, cs []*benchCompany) error {
	for _, c := range cs {
		var tk benchTokens
		if err := a.must(ctx, "POST", "/api/v1/auth/login", "", map[string]string{"email": c.email, "password": c.password}, 200, &tk); err != nil {
			return err
		}
		c.token = tk.AccessToken
	}
	return nil
}

type benchTokens struct {
	AccessToken string `json:"access_token"`
}

func (c *benchCompany) byRole(role string) string {
	for _, a := range c.accounts {
		if a.Role == role {
			return a.Code
		}
	}
	return ""
}

// superuserDSN reaches the appliance's PostgreSQL as its superuser over
// the socket, for pgbench's own database.
func (a *benchAppliance) superuser() (host, password string, err error) {
	b, err := os.ReadFile(filepath.Join(a.dir, "secrets", "postgres-superuser"))
	if err != nil {
		return "", "", err
	}
	return filepath.Join(a.dir, "run", "postgres"), strings.TrimSpace(string(b)), nil
}

// pgbenchInit makes pgbench's database beside vanta's and fills it at the
// given scale (scale = branches, the rows every tpcb-like transaction
// serialises on, as a company's posting point does).
func (a *benchAppliance) pgbenchInit(ctx context.Context, pgBin string, scale int, progress io.Writer) error {
	host, pass, err := a.superuser()
	if err != nil {
		return err
	}
	dsn := (&url.URL{Scheme: "postgres", User: url.UserPassword("postgres", pass), Path: "/vanta",
		RawQuery: url.Values{"host": {host}, "sslmode": {"disable"}}.Encode()}).String()
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		return fmt.Errorf("connect for pgbench: %w", err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, "CREATE DATABASE bench_pgbench"); err != nil {
		return fmt.Errorf("create pgbench's database: %w", err)
	}
	fmt.Fprintf(progress, "pgbench -i -s %d\n", scale)
	cmd := a.pgbench(ctx, pgBin, "-i", "-q", "-s", strconv.Itoa(scale))
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("pgbench -i: %v: %s", err, out)
	}
	return nil
}

func (a *benchAppliance) pgbench(ctx context.Context, pgBin string, args ...string) *exec.Cmd {
	host, pass, _ := a.superuser()
	cmd := exec.CommandContext(ctx, filepath.Join(pgBin, "pgbench"), append([]string{"-h", host, "-U", "postgres"}, append(args, "bench_pgbench")...)...)
	cmd.Env = append(os.Environ(), "PGPASSWORD="+pass)
	return cmd
}

// pgbenchTPS runs `pgbench -b tpcb-like` with the clients as threads too
// and returns its TPS (without initial connection time).
func (a *benchAppliance) pgbenchTPS(ctx context.Context, pgBin string, clients int, d time.Duration) (float64, string, error) {
	// pgbench's -T counts from before its clients connect, and a SCRAM
	// login costs tens of milliseconds of CPU on a busy machine (64 took
	// 3.4 s here): allow 100 ms a client on top, which its "tps without
	// initial connection time" leaves out.
	secs := int((d + time.Duration(clients)*100*time.Millisecond + time.Second - 1) / time.Second)
	args := []string{"-b", "tpcb-like", "-c", strconv.Itoa(clients), "-j", strconv.Itoa(clients), "-T", strconv.Itoa(secs)}
	out, err := a.pgbench(ctx, pgBin, args...).CombinedOutput()
	command := "pgbench " + strings.Join(args, " ")
	if err != nil {
		return 0, command, fmt.Errorf("%s: %v: %s", command, err, out)
	}
	for _, l := range strings.Split(string(out), "\n") {
		if rest, ok := strings.CutPrefix(strings.TrimSpace(l), "tps = "); ok {
			f, err := strconv.ParseFloat(strings.Fields(rest)[0], 64)
			return f, command, err
		}
	}
	return 0, command, fmt.Errorf("%s printed no tps: %s", command, out)
}
