package seal

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"errors"
	"testing"
)

func TestDataKeyMAC(t *testing.T) {
	kr, err := NewKeyring()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(kr.Destroy)
	key := func(owner string) *DataKey {
		w, err := kr.NewDataKey(owner)
		if err != nil {
			t.Fatal(err)
		}
		d, err := kr.DataKey(owner, w)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(d.Destroy)
		return d
	}
	a, a2, b := key("company-a"), key("company-a"), key("company-b")
	mac := func(d *DataKey, purpose, data string) []byte {
		m, err := d.MAC(purpose, []byte(data))
		if err != nil {
			t.Fatal(err)
		}
		if len(m) != sha256.Size {
			t.Fatalf("MAC is %d bytes, want %d", len(m), sha256.Size)
		}
		return m
	}
	base := mac(a, "term", "invoice")
	cases := []struct {
		name  string
		other []byte
		equal bool
	}{
		{"same key, purpose and data", mac(a, "term", "invoice"), true},
		{"other data", mac(a, "term", "invoices"), false},
		{"other purpose", mac(a, "content", "invoice"), false},
		{"another data key of the same owner", mac(a2, "term", "invoice"), false},
		{"another company's key", mac(b, "term", "invoice"), false},
		{"HMAC under the raw data key", func() []byte {
			h := hmac.New(sha256.New, a.key.bytes())
			h.Write([]byte("invoice"))
			return h.Sum(nil)
		}(), false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if got := bytes.Equal(base, c.other); got != c.equal {
				t.Fatalf("equal = %v, want %v", got, c.equal)
			}
		})
	}
	t.Run("destroyed key", func(t *testing.T) {
		d := key("company-c")
		d.Destroy()
		if _, err := d.MAC("term", []byte("x")); !errors.Is(err, ErrSealed) {
			t.Fatalf("MAC after Destroy: %v, want ErrSealed", err)
		}
	})
}
