package appliance

import (
	"errors"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"testing"
)

func TestTLSSwitchFromYAML(t *testing.T) {
	for _, tc := range []struct{ yaml, want string }{
		{"tls: off\n", "off"}, {"tls: false\n", "off"}, {"tls: on\n", "on"}, {"tls: true\n", "on"}, {"", "on"},
	} {
		path := filepath.Join(t.TempDir(), "appliance.yaml")
		if err := os.WriteFile(path, []byte(tc.yaml), 0o600); err != nil {
			t.Fatal(err)
		}
		c := Defaults()
		c.DataDir = t.TempDir()
		if err := c.LoadFile(path, false); err != nil {
			t.Fatalf("%q: %v", tc.yaml, err)
		}
		if err := c.Validate(); err != nil {
			t.Fatalf("%q: %v", tc.yaml, err)
		}
		if string(c.TLS) != tc.want {
			t.Errorf("%q: tls %q, want %q", tc.yaml, c.TLS, tc.want)
		}
	}
}

// The token is made once, survives reboots while unspent, and is never
// made again once spent.
func TestSetupTokenLifecycle(t *testing.T) {
	dir := t.TempDir()
	l := Layout{Root: dir}
	if err := os.MkdirAll(l.Path("secrets"), 0o700); err != nil {
		t.Fatal(err)
	}
	p := &provisioner{layout: l}
	made, err := p.makeSetupToken()
	if err != nil || !made {
		t.Fatalf("first boot: made %v, %v", made, err)
	}
	tok, err := ReadSetupToken(dir)
	if err != nil {
		t.Fatal(err)
	}
	if made, err := p.makeSetupToken(); err != nil || made {
		t.Fatalf("second boot remade it: %v %v", made, err)
	}
	if again, _ := ReadSetupToken(dir); again != tok {
		t.Fatalf("token changed across boots")
	}
	g := &SetupGate{layout: l, logger: slog.New(slog.NewTextHandler(io.Discard, nil)), token: tok}
	for _, bad := range []string{"", tok[:len(tok)-1], tok + "x", "vst_x"} {
		if err := g.Check(bad); !errors.Is(err, ErrSetupTokenRequired) {
			t.Errorf("Check(%q) = %v", bad, err)
		}
	}
	if err := g.Check(tok); err != nil {
		t.Errorf("Check(token) = %v", err)
	}
	g.Spend()
	if err := g.Check(""); err != nil || g.Needed() {
		t.Errorf("after Spend: Check %v, Needed %v", err, g.Needed())
	}
	if _, err := ReadSetupToken(dir); !errors.Is(err, ErrSetupTokenSpent) {
		t.Errorf("ReadSetupToken after Spend: %v", err)
	}
	if made, err := p.makeSetupToken(); err != nil || made {
		t.Errorf("a boot after Spend made a token: %v %v", made, err)
	}
}
