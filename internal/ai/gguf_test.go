package ai

import (
	"bytes"
	"encoding/binary"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// tinyModel is the shared test model (random weights; see its README).
const tinyModel = "/work/shared/models/llama-2-tiny-random.gguf"

func TestReadGGUFTinyModel(t *testing.T) {
	m, err := ReadGGUF(tinyModel)
	if err != nil {
		t.Fatalf("ReadGGUF(%s): %v", tinyModel, err)
	}
	want := Model{
		Name: "llama-2-tiny-random", Path: tinyModel, Arch: "llama", Quantization: "F16",
		Params: 513048, ContextLength: 4096, FileSize: 1750560,
	}
	if m != want {
		t.Fatalf("ReadGGUF = %+v, want %+v", m, want)
	}
}

// header builds a GGUF header for the tests, little-endian as on disk.
type header struct{ bytes.Buffer }

func (h *header) u32(v uint32) *header {
	_ = binary.Write(&h.Buffer, binary.LittleEndian, v)
	return h
}

func (h *header) u64(v uint64) *header {
	_ = binary.Write(&h.Buffer, binary.LittleEndian, v)
	return h
}

func (h *header) str(s string) *header {
	h.u64(uint64(len(s)))
	h.WriteString(s)
	return h
}

func (h *header) kvString(k, v string) *header { return h.str(k).u32(typeString).str(v) }
func (h *header) kvU32(k string, v uint32) *header {
	return h.str(k).u32(typeUint32).u32(v)
}

func (h *header) tensor(name string, typ uint32, dims ...uint64) *header {
	h.str(name).u32(uint32(len(dims)))
	for _, d := range dims {
		h.u64(d)
	}
	return h.u32(typ).u64(0)
}

func start(version uint32, tensors, kvs uint64) *header {
	h := &header{}
	h.WriteString("GGUF")
	return h.u32(version).u64(tensors).u64(kvs)
}

func TestReadGGUFHeaders(t *testing.T) {
	valid := func() *header {
		h := start(3, 2, 4)
		h.kvString("general.architecture", "phi3")
		h.kvU32("phi3.context_length", 4096)
		h.kvU32("general.file_type", 15)
		// A vocabulary-like array of strings, skipped.
		h.str("tokenizer.ggml.tokens").u32(typeArray).u32(typeString).u64(2).str("a").str("bc")
		h.tensor("w1", 12, 4, 8)
		h.tensor("w2", 12, 10)
		return h
	}
	noFileType := func() *header {
		h := start(3, 3, 2)
		h.kvString("general.architecture", "llama")
		h.str("general.parameter_count").u32(typeUint64).u64(1100000000)
		h.tensor("a", 2, 100)
		h.tensor("b", 2, 100)
		h.tensor("c", 0, 10)
		return h
	}
	cases := []struct {
		name    string
		data    []byte
		want    Model
		wantErr string // substring; "" = valid
		notGGUF bool
	}{
		{name: "valid", data: valid().Bytes(), want: Model{Arch: "phi3", Quantization: "Q4_K_M", Params: 42, ContextLength: 4096}},
		{name: "quantisation from tensors, parameter count from metadata", data: noFileType().Bytes(),
			want: Model{Arch: "llama", Quantization: "Q4_0", Params: 1100000000}},
		{name: "empty file", data: nil, notGGUF: true},
		{name: "wrong magic", data: []byte("GGML\x03\x00\x00\x00"), notGGUF: true},
		{name: "a PDF", data: []byte("%PDF-1.7\n"), notGGUF: true},
		{name: "version 1", data: start(1, 0, 0).Bytes(), wantErr: "unsupported version 1"},
		{name: "version 99", data: start(99, 0, 0).Bytes(), wantErr: "unsupported version 99"},
		{name: "truncated after magic", data: []byte("GGUF\x03"), wantErr: "truncated in version"},
		{name: "truncated counts", data: start(3, 0, 0).Bytes()[:12], wantErr: "truncated in tensor count"},
		{name: "huge tensor count", data: start(3, 1<<40, 0).Bytes(), wantErr: "tensors (limit"},
		{name: "huge metadata count", data: start(3, 0, 1<<40).Bytes(), wantErr: "metadata keys (limit"},
		{name: "huge key", data: start(3, 0, 1).u64(1 << 50).Bytes(), wantErr: "metadata key: string of"},
		{name: "truncated key", data: start(3, 0, 1).u64(20).Bytes(), wantErr: "truncated in metadata key"},
		{name: "unknown value type", data: start(3, 0, 1).str("x").u32(77).Bytes(), wantErr: "x: unknown value type 77"},
		{name: "huge array", data: start(3, 0, 1).str("t").u32(typeArray).u32(typeUint8).u64(1 << 40).Bytes(), wantErr: "array of"},
		{name: "array cut short", data: start(3, 0, 1).str("t").u32(typeArray).u32(typeUint32).u64(1000).Bytes(), wantErr: "truncated in t"},
		{name: "nested array", data: start(3, 0, 1).str("t").u32(typeArray).u32(typeArray).u64(1).Bytes(), wantErr: "unsupported array element type"},
		{name: "no architecture", data: start(3, 0, 1).kvU32("general.file_type", 1).Bytes(), wantErr: "no general.architecture"},
		{name: "tensor with 9 dimensions",
			data:    start(3, 1, 1).kvString("general.architecture", "llama").str("w").u32(9).Bytes(),
			wantErr: "tensor w: 9 dimensions"},
		{name: "tensor size overflows",
			data:    start(3, 1, 1).kvString("general.architecture", "llama").tensor("w", 0, 1<<40, 1<<40).Bytes(),
			wantErr: "size overflows"},
		{name: "tensor table truncated",
			data:    start(3, 2, 1).kvString("general.architecture", "llama").tensor("w", 0, 4).Bytes(),
			wantErr: "truncated in tensor name"},
	}
	dir := t.TempDir()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(dir, strings.ReplaceAll(tc.name, " ", "_")+".gguf")
			if err := os.WriteFile(path, tc.data, 0o600); err != nil {
				t.Fatal(err)
			}
			m, err := ReadGGUF(path)
			switch {
			case tc.notGGUF:
				if !errors.Is(err, ErrNotGGUF) {
					t.Fatalf("err = %v, want ErrNotGGUF", err)
				}
			case tc.wantErr != "":
				var he *HeaderError
				if !errors.As(err, &he) || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err = %v, want a HeaderError containing %q", err, tc.wantErr)
				}
			default:
				if err != nil {
					t.Fatalf("ReadGGUF: %v", err)
				}
				tc.want.Path, tc.want.Name, tc.want.FileSize = path, ModelName(path), int64(len(tc.data))
				if m != tc.want {
					t.Fatalf("ReadGGUF = %+v, want %+v", m, tc.want)
				}
			}
		})
	}
}

func TestDiscover(t *testing.T) {
	dir := t.TempDir()
	tiny, err := os.ReadFile(tinyModel)
	if err != nil {
		t.Fatal(err)
	}
	big := start(3, 0, 2)
	big.kvString("general.architecture", "llama")
	big.str("general.parameter_count").u32(typeUint64).u64(7_000_000_000)
	files := map[string][]byte{
		"Mistral-7B.Q4_K_M.gguf": big.Bytes(),
		"tiny.gguf":              tiny,
		"notes.txt":              []byte("not a model"),
	}
	for name, data := range files {
		if err := os.WriteFile(filepath.Join(dir, name), data, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	models, err := Discover(dir)
	if err != nil {
		t.Fatalf("Discover: %v", err)
	}
	var names []string
	for _, m := range models {
		names = append(names, m.Name)
	}
	if got, want := strings.Join(names, ","), "tiny,mistral-7b.q4_k_m"; got != want {
		t.Fatalf("Discover names (smallest first) = %s, want %s", got, want)
	}

	// A broken model is reported by name; the good ones are still listed.
	if err := os.WriteFile(filepath.Join(dir, "broken.gguf"), []byte("GGUF\x03"), 0o600); err != nil {
		t.Fatal(err)
	}
	models, err = Discover(dir)
	if err == nil || !strings.Contains(err.Error(), "broken.gguf") || len(models) != 2 {
		t.Fatalf("Discover with a broken model = %d models, %v; want 2 and an error naming broken.gguf", len(models), err)
	}

	models, err = Discover(filepath.Join(dir, "missing"))
	if err != nil || len(models) != 0 {
		t.Fatalf("Discover(missing dir) = %v, %v; want none, nil", models, err)
	}
}
