package main

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"sync/atomic"
	"time"

	"filippo.io/age"
	"github.com/google/uuid"
	"golang.org/x/term"

	"github.com/vanta-ledger/vanta/appliance"
	"github.com/vanta-ledger/vanta/internal/transfer"
)

const companyUsage = `usage: vanta company <command> [flags]

commands:
  export --company ID --out FILE --recipient AGE_RECIPIENT
        write one company (its books, documents, files and audit chain) to FILE,
        encrypted with its data key; the key is encrypted to the age recipient
  import --in FILE --identity FILE
        make the company of a bundle in this appliance, under a new data key;
        refused if the appliance already has (or had) a company with its id

Both take --data DIR (env VANTA_DATA, default /var/lib/vanta) and --json, and
talk to the running, unsealed 'vanta init' over DIR/run/vanta.sock.
`

func cmdCompany(args []string) int {
	if len(args) == 0 {
		fmt.Fprint(os.Stderr, companyUsage)
		return exitUsage
	}
	sub, args := args[0], args[1:]
	fs := flag.NewFlagSet("vanta company "+sub, flag.ContinueOnError)
	dataDir := appliance.Defaults().DataDir
	if v := os.Getenv("VANTA_DATA"); v != "" {
		dataDir = v
	}
	fs.StringVar(&dataDir, "data", dataDir, "data directory of the running init (env VANTA_DATA)")
	asJSON := fs.Bool("json", false, "print JSON")
	switch sub {
	case "export":
		company := fs.String("company", "", "the company's id")
		out := fs.String("out", "", "the bundle file to write")
		recipient := fs.String("recipient", "", "the age recipient (age1…) whose identity will open the bundle")
		if err := fs.Parse(args); err != nil {
			return exitUsage
		}
		if *company == "" || *out == "" || *recipient == "" {
			fmt.Fprintln(os.Stderr, "vanta company export: --company, --out and --recipient are required")
			return exitUsage
		}
		return companyExport(newCtlClient(dataDir), *company, *out, *recipient, *asJSON)
	case "import":
		in := fs.String("in", "", "the bundle file")
		identity := fs.String("identity", "", "the age identity file that opens the bundle")
		if err := fs.Parse(args); err != nil {
			return exitUsage
		}
		if *in == "" || *identity == "" {
			fmt.Fprintln(os.Stderr, "vanta company import: --in and --identity are required")
			return exitUsage
		}
		return companyImport(newCtlClient(dataDir), *in, *identity, *asJSON)
	case "help", "-h", "--help":
		fmt.Print(companyUsage)
		return exitOK
	}
	fmt.Fprintf(os.Stderr, "vanta company: unknown command %q\n\n%s", sub, companyUsage)
	return exitUsage
}

// companyFail prints err as the command's failure, as JSON with --json.
func companyFail(cmd string, err error, asJSON bool) int {
	if asJSON {
		_ = json.NewEncoder(os.Stdout).Encode(map[string]any{"error": err.Error()})
	} else {
		fmt.Fprintf(os.Stderr, "vanta company %s: %v\n", cmd, err)
	}
	return exitFailure
}

// progress prints a byte count on a terminal, every few hundred ms.
type progress struct {
	label string
	n     atomic.Int64
	total int64
	stop  chan struct{}
	done  chan struct{}
}

func startProgress(label string, total int64) *progress {
	p := &progress{label: label, total: total, stop: make(chan struct{}), done: make(chan struct{})}
	if !term.IsTerminal(int(os.Stderr.Fd())) {
		close(p.done)
		return p
	}
	go func() {
		defer close(p.done)
		t := time.NewTicker(200 * time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-p.stop:
				p.print()
				fmt.Fprintln(os.Stderr)
				return
			case <-t.C:
				p.print()
			}
		}
	}()
	return p
}

func (p *progress) print() {
	n := p.n.Load()
	if p.total > 0 {
		width := 30
		fill := int(int64(width) * n / p.total)
		fill = min(fill, width)
		fmt.Fprintf(os.Stderr, "\r%s [%s%s] %s / %s", p.label, bytes.Repeat([]byte("#"), fill), bytes.Repeat([]byte(" "), width-fill),
			humanBytes(n), humanBytes(p.total))
		return
	}
	fmt.Fprintf(os.Stderr, "\r%s %s", p.label, humanBytes(n))
}

func (p *progress) Write(b []byte) (int, error) { p.n.Add(int64(len(b))); return len(b), nil }

func (p *progress) finish() {
	select {
	case <-p.done:
	default:
		close(p.stop)
		<-p.done
	}
}

func companyExport(c *ctlClient, company, out, recipient string, asJSON bool) int {
	if _, err := uuid.Parse(company); err != nil {
		return companyFail("export", fmt.Errorf("--company %q is not a company id", company), asJSON)
	}
	if _, err := age.ParseX25519Recipient(recipient); err != nil {
		return companyFail("export", fmt.Errorf("--recipient: %v", err), asJSON)
	}
	resp, err := c.do(http.MethodPost, "/v1/companies/"+company+"/export?recipient="+url.QueryEscape(recipient))
	if err != nil {
		return companyFail("export", err, asJSON)
	}
	defer resp.Body.Close()
	// Written beside the destination and renamed once whole and checked:
	// a bundle at --out is always complete.
	tmp, err := os.CreateTemp(filepath.Dir(out), ".vanta-export-*")
	if err != nil {
		return companyFail("export", err, asJSON)
	}
	defer os.Remove(tmp.Name())
	defer tmp.Close()
	p := startProgress("export", 0)
	n, err := io.Copy(io.MultiWriter(tmp, p), resp.Body)
	p.finish()
	if err == nil {
		if msg := resp.Trailer.Get(appliance.ExportErrorTrailer); msg != "" {
			err = errors.New(msg)
		}
	}
	if err == nil {
		err = tmp.Sync()
	}
	if err != nil {
		return companyFail("export", err, asJSON)
	}
	if _, err := tmp.Seek(0, io.SeekStart); err != nil {
		return companyFail("export", err, asJSON)
	}
	h, err := transfer.Verify(tmp)
	if err != nil {
		return companyFail("export", fmt.Errorf("the bundle received does not check: %w", err), asJSON)
	}
	if err := tmp.Close(); err != nil {
		return companyFail("export", err, asJSON)
	}
	if err := os.Rename(tmp.Name(), out); err != nil {
		return companyFail("export", err, asJSON)
	}
	if asJSON {
		_ = json.NewEncoder(os.Stdout).Encode(map[string]any{"file": out, "bytes": n, "header": h})
		return exitOK
	}
	fmt.Printf("exported company %s to %s (%s)\nkeep the identity of %s: only it opens the bundle\n", h.Company, out, humanBytes(n), recipient)
	return exitOK
}

func companyImport(c *ctlClient, in, identityFile string, asJSON bool) int {
	idf, err := os.Open(identityFile)
	if err != nil {
		return companyFail("import", err, asJSON)
	}
	ids, err := age.ParseIdentities(idf)
	idf.Close()
	if err != nil {
		return companyFail("import", fmt.Errorf("--identity %s: %w", identityFile, err), asJSON)
	}
	f, err := os.Open(in)
	if err != nil {
		return companyFail("import", err, asJSON)
	}
	defer f.Close()
	// Check the whole bundle first: a damaged one is refused before the
	// appliance reads a byte of it.
	if _, err := transfer.Verify(f); err != nil {
		return companyFail("import", fmt.Errorf("%s: %w", in, err), asJSON)
	}
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		return companyFail("import", err, asJSON)
	}
	r, err := transfer.NewReader(f)
	if err != nil {
		return companyFail("import", err, asJSON)
	}
	raw, err := r.UnwrapKey(ids...)
	if err != nil {
		return companyFail("import", err, asJSON)
	}
	fi, err := f.Stat()
	if err != nil {
		return companyFail("import", err, asJSON)
	}
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		return companyFail("import", err, asJSON)
	}
	p := startProgress("import", fi.Size())
	req, err := http.NewRequest(http.MethodPost, "http://vanta/v1/companies/import", io.TeeReader(f, p))
	if err != nil {
		return companyFail("import", err, asJSON)
	}
	req.ContentLength = fi.Size()
	req.Header.Set(appliance.CompanyKeyHeader, base64.StdEncoding.EncodeToString(raw))
	clear(raw)
	resp, err := c.http.Do(req)
	p.finish()
	if err != nil {
		return companyFail("import", &ctlUnreachable{socket: c.socket, err: err}, asJSON)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		var body struct {
			Error struct{ Code, Message string } `json:"error"`
		}
		_ = json.NewDecoder(resp.Body).Decode(&body)
		return companyFail("import", errors.New(body.Error.Message), asJSON)
	}
	var res transfer.ImportResult
	if err := json.NewDecoder(resp.Body).Decode(&res); err != nil {
		return companyFail("import", err, asJSON)
	}
	if asJSON {
		_ = json.NewEncoder(os.Stdout).Encode(res)
		return exitOK
	}
	fmt.Printf("imported company %s %q under a new data key: %d tables, %d documents re-encrypted, audit chain of %d records verified\n",
		res.Company, res.Name, len(res.Tables), res.Rekeyed.Documents, res.AuditChain.Records)
	if len(res.Members) > 0 {
		fmt.Println("members on the source appliance (accounts are not carried; invite them here):")
		for _, m := range res.Members {
			fmt.Printf("  %s\t%s\n", m.Email, m.Role)
		}
	}
	return exitOK
}
