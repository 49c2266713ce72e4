// Package ai runs document extraction on local language models: it reads
// GGUF model headers (the registry of $DATA/models), talks to llama-server
// over HTTP (health, slots, JSON-schema constrained completion) and routes
// each document to a model, or to the rules engine when no model fits,
// recording why.
package ai

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"sort"
	"strings"
)

// Model is one GGUF model file as its header describes it.
type Model struct {
	Name          string // from the file name, e.g. "llama-2-tiny-random"
	Path          string
	Arch          string // general.architecture, e.g. "llama"
	Quantization  string // from general.file_type, e.g. "Q4_K_M"
	Params        uint64 // general.parameter_count, else the tensors' element count
	ContextLength int    // <arch>.context_length (training context)
	FileSize      int64
}

// ErrNotGGUF says a file is not a GGUF model (wrong magic).
var ErrNotGGUF = errors.New("not a GGUF file")

// HeaderError says a GGUF header is corrupt or beyond our limits.
type HeaderError struct{ Reason string }

func (e *HeaderError) Error() string { return "corrupt GGUF header: " + e.Reason }

// Limits on what a header may claim. A corrupt or hostile file could claim
// a 2^60-byte string; we refuse rather than allocate. Real models stay far
// below: about 30 keys, a vocabulary of a few 100k tokens, a few thousand
// tensors, names under 100 bytes.
const (
	maxKV        = 1 << 16
	maxTensors   = 1 << 20
	maxString    = 1 << 20
	maxArray     = 1 << 24
	maxDims      = 4 // GGML_MAX_DIMS
	ggufMagic    = "GGUF"
	minVersion   = 2 // version 1 (32-bit counts) predates every model we run
	maxVersion   = 3
	typeUint8    = 0
	typeInt8     = 1
	typeUint16   = 2
	typeInt16    = 3
	typeUint32   = 4
	typeInt32    = 5
	typeFloat32  = 6
	typeBool     = 7
	typeString   = 8
	typeArray    = 9
	typeUint64   = 10
	typeInt64    = 11
	typeFloat64  = 12
	maxValueType = 12
)

// fixedSize is the byte size of each fixed-size GGUF value type.
var fixedSize = map[uint32]int64{
	typeUint8: 1, typeInt8: 1, typeBool: 1,
	typeUint16: 2, typeInt16: 2,
	typeUint32: 4, typeInt32: 4, typeFloat32: 4,
	typeUint64: 8, typeInt64: 8, typeFloat64: 8,
}

// fileTypes names llama.cpp's general.file_type values (enum llama_ftype).
var fileTypes = map[uint64]string{
	0: "F32", 1: "F16", 2: "Q4_0", 3: "Q4_1", 7: "Q8_0", 8: "Q5_0", 9: "Q5_1",
	10: "Q2_K", 11: "Q3_K_S", 12: "Q3_K_M", 13: "Q3_K_L", 14: "Q4_K_S", 15: "Q4_K_M",
	16: "Q5_K_S", 17: "Q5_K_M", 18: "Q6_K", 19: "IQ2_XXS", 20: "IQ2_XS", 21: "Q2_K_S",
	22: "IQ3_XS", 23: "IQ3_XXS", 24: "IQ1_S", 25: "IQ4_NL", 26: "IQ3_S", 27: "IQ3_M",
	28: "IQ2_S", 29: "IQ2_M", 30: "IQ4_XS", 31: "IQ1_M", 32: "BF16", 36: "TQ1_0", 37: "TQ2_0",
}

// tensorTypes names ggml tensor types, used when a file has no
// general.file_type: the most common tensor type then names the file.
var tensorTypes = map[uint32]string{
	0: "F32", 1: "F16", 2: "Q4_0", 3: "Q4_1", 6: "Q5_0", 7: "Q5_1", 8: "Q8_0", 9: "Q8_1",
	10: "Q2_K", 11: "Q3_K", 12: "Q4_K", 13: "Q5_K", 14: "Q6_K", 15: "Q8_K",
	16: "IQ2_XXS", 17: "IQ2_XS", 18: "IQ3_XXS", 19: "IQ1_S", 20: "IQ4_NL", 21: "IQ3_S",
	22: "IQ2_S", 23: "IQ4_XS", 24: "I8", 25: "I16", 26: "I32", 27: "I64", 28: "F64",
	29: "IQ1_M", 30: "BF16", 34: "TQ1_0", 35: "TQ2_0",
}

// ReadGGUF reads a model's header (metadata and tensor table, never the
// weights) and describes it.
func ReadGGUF(path string) (Model, error) {
	f, err := os.Open(path)
	if err != nil {
		return Model{}, fmt.Errorf("read model %s: %w", path, err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return Model{}, fmt.Errorf("read model %s: %w", path, err)
	}
	m, err := parseGGUF(bufio.NewReaderSize(f, 64<<10))
	if err != nil {
		return Model{}, fmt.Errorf("read model %s: %w", path, err)
	}
	m.Path = path
	m.Name = ModelName(path)
	m.FileSize = st.Size()
	return m, nil
}

// ModelName makes a model's name from its file name: lower case, letters,
// digits, '-', '.', '_' kept, anything else '-' (it becomes part of a
// program name, llama-<name>).
func ModelName(path string) string {
	return SafeName(strings.TrimSuffix(filepath.Base(path), filepath.Ext(path)))
}

// SafeName lower-cases s and turns anything but letters, digits, '-', '.'
// and '_' into '-'.
func SafeName(base string) string {
	return strings.Map(func(r rune) rune {
		switch {
		case r >= 'a' && r <= 'z', r >= '0' && r <= '9', r == '-', r == '.', r == '_':
			return r
		case r >= 'A' && r <= 'Z':
			return r + 'a' - 'A'
		}
		return '-'
	}, base)
}

// Discover reads every *.gguf in dir, smallest first (the router's
// fallback order). A missing dir has no models; an unreadable model is
// an error naming it, so that the operator sees why it is not served.
func Discover(dir string) ([]Model, error) {
	paths, err := filepath.Glob(filepath.Join(dir, "*.gguf"))
	if err != nil {
		return nil, fmt.Errorf("discover models in %s: %w", dir, err)
	}
	var models []Model
	var errs []error
	for _, p := range paths {
		m, err := ReadGGUF(p)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		models = append(models, m)
	}
	SortModels(models)
	return models, errors.Join(errs...)
}

// SortModels orders models smallest first (parameters, then file size,
// then name), the order in which the router falls back.
func SortModels(models []Model) {
	sort.SliceStable(models, func(i, j int) bool {
		a, b := models[i], models[j]
		if a.Params != b.Params {
			return a.Params < b.Params
		}
		if a.FileSize != b.FileSize {
			return a.FileSize < b.FileSize
		}
		return a.Name < b.Name
	})
}

// ggufReader reads little-endian GGUF values, turning a short read into a
// HeaderError.
type ggufReader struct {
	r   *bufio.Reader
	buf [8]byte
}

func (g *ggufReader) fail(what string, err error) error {
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		return &HeaderError{Reason: "truncated in " + what}
	}
	return fmt.Errorf("%s: %w", what, err)
}

func (g *ggufReader) u32(what string) (uint32, error) {
	if _, err := io.ReadFull(g.r, g.buf[:4]); err != nil {
		return 0, g.fail(what, err)
	}
	return binary.LittleEndian.Uint32(g.buf[:4]), nil
}

func (g *ggufReader) u64(what string) (uint64, error) {
	if _, err := io.ReadFull(g.r, g.buf[:8]); err != nil {
		return 0, g.fail(what, err)
	}
	return binary.LittleEndian.Uint64(g.buf[:8]), nil
}

func (g *ggufReader) str(what string) (string, error) {
	n, err := g.u64(what)
	if err != nil {
		return "", err
	}
	if n > maxString {
		return "", &HeaderError{Reason: fmt.Sprintf("%s: string of %d bytes (limit %d)", what, n, maxString)}
	}
	b := make([]byte, n)
	if _, err := io.ReadFull(g.r, b); err != nil {
		return "", g.fail(what, err)
	}
	return string(b), nil
}

func (g *ggufReader) skip(what string, n int64) error {
	if _, err := g.r.Discard(int(n)); err != nil {
		return g.fail(what, err)
	}
	return nil
}

// value reads one value of type t. Scalars come back as uint64, int64,
// float64, bool or string; arrays are skipped (the vocabulary is the only
// big one and we need none of them) and come back nil.
func (g *ggufReader) value(key string, t uint32) (any, error) {
	switch t {
	case typeString:
		return g.str(key)
	case typeArray:
		et, err := g.u32(key + " array type")
		if err != nil {
			return nil, err
		}
		n, err := g.u64(key + " array length")
		if err != nil {
			return nil, err
		}
		if n > maxArray {
			return nil, &HeaderError{Reason: fmt.Sprintf("%s: array of %d values (limit %d)", key, n, maxArray)}
		}
		switch {
		case et == typeString:
			for i := uint64(0); i < n; i++ {
				l, err := g.u64(key)
				if err != nil {
					return nil, err
				}
				if l > maxString {
					return nil, &HeaderError{Reason: fmt.Sprintf("%s: string of %d bytes (limit %d)", key, l, maxString)}
				}
				if err := g.skip(key, int64(l)); err != nil {
					return nil, err
				}
			}
		case fixedSize[et] > 0:
			if err := g.skip(key, int64(n)*fixedSize[et]); err != nil {
				return nil, err
			}
		default:
			// Nested arrays are legal GGUF but no model we know uses them.
			return nil, &HeaderError{Reason: fmt.Sprintf("%s: unsupported array element type %d", key, et)}
		}
		return nil, nil
	}
	size, ok := fixedSize[t]
	if !ok {
		return nil, &HeaderError{Reason: fmt.Sprintf("%s: unknown value type %d", key, t)}
	}
	if _, err := io.ReadFull(g.r, g.buf[:size]); err != nil {
		return nil, g.fail(key, err)
	}
	b := g.buf[:size]
	switch t {
	case typeUint8:
		return uint64(b[0]), nil
	case typeInt8:
		return int64(int8(b[0])), nil
	case typeBool:
		return b[0] != 0, nil
	case typeUint16:
		return uint64(binary.LittleEndian.Uint16(b)), nil
	case typeInt16:
		return int64(int16(binary.LittleEndian.Uint16(b))), nil
	case typeUint32:
		return uint64(binary.LittleEndian.Uint32(b)), nil
	case typeInt32:
		return int64(int32(binary.LittleEndian.Uint32(b))), nil
	case typeFloat32:
		return float64(math.Float32frombits(binary.LittleEndian.Uint32(b))), nil
	case typeUint64:
		return binary.LittleEndian.Uint64(b), nil
	case typeInt64:
		return int64(binary.LittleEndian.Uint64(b)), nil
	default: // typeFloat64
		return math.Float64frombits(binary.LittleEndian.Uint64(b)), nil
	}
}

// asUint turns an integer metadata value into a uint64; ok is false for
// negative numbers and other types.
func asUint(v any) (uint64, bool) {
	switch x := v.(type) {
	case uint64:
		return x, true
	case int64:
		if x >= 0 {
			return uint64(x), true
		}
	}
	return 0, false
}

func parseGGUF(r *bufio.Reader) (Model, error) {
	g := &ggufReader{r: r}
	var magic [4]byte
	if _, err := io.ReadFull(r, magic[:]); err != nil {
		return Model{}, ErrNotGGUF
	}
	if string(magic[:]) != ggufMagic {
		return Model{}, ErrNotGGUF
	}
	version, err := g.u32("version")
	if err != nil {
		return Model{}, err
	}
	if version < minVersion || version > maxVersion {
		return Model{}, &HeaderError{Reason: fmt.Sprintf("unsupported version %d", version)}
	}
	nTensors, err := g.u64("tensor count")
	if err != nil {
		return Model{}, err
	}
	if nTensors > maxTensors {
		return Model{}, &HeaderError{Reason: fmt.Sprintf("%d tensors (limit %d)", nTensors, maxTensors)}
	}
	nKV, err := g.u64("metadata count")
	if err != nil {
		return Model{}, err
	}
	if nKV > maxKV {
		return Model{}, &HeaderError{Reason: fmt.Sprintf("%d metadata keys (limit %d)", nKV, maxKV)}
	}
	kv := make(map[string]any, 16)
	for i := uint64(0); i < nKV; i++ {
		key, err := g.str("metadata key")
		if err != nil {
			return Model{}, err
		}
		t, err := g.u32(key + " type")
		if err != nil {
			return Model{}, err
		}
		if t > maxValueType {
			return Model{}, &HeaderError{Reason: fmt.Sprintf("%s: unknown value type %d", key, t)}
		}
		v, err := g.value(key, t)
		if err != nil {
			return Model{}, err
		}
		if v != nil {
			kv[key] = v
		}
	}
	var m Model
	arch, _ := kv["general.architecture"].(string)
	if arch == "" {
		return Model{}, &HeaderError{Reason: "no general.architecture"}
	}
	m.Arch = arch
	if n, ok := asUint(kv[arch+".context_length"]); ok && n <= math.MaxInt32 {
		m.ContextLength = int(n)
	}
	if ft, ok := asUint(kv["general.file_type"]); ok {
		if name, known := fileTypes[ft]; known {
			m.Quantization = name
		} else {
			m.Quantization = fmt.Sprintf("type %d", ft)
		}
	}
	// The tensor table: the parameter count when the metadata lacks it,
	// and the quantisation when general.file_type is missing.
	var params uint64
	typeCount := map[uint32]uint64{}
	for i := uint64(0); i < nTensors; i++ {
		name, err := g.str("tensor name")
		if err != nil {
			return Model{}, err
		}
		nDims, err := g.u32(name + " dimensions")
		if err != nil {
			return Model{}, err
		}
		if nDims == 0 || nDims > maxDims {
			return Model{}, &HeaderError{Reason: fmt.Sprintf("tensor %s: %d dimensions", name, nDims)}
		}
		elems := uint64(1)
		for d := uint32(0); d < nDims; d++ {
			n, err := g.u64(name + " dimension")
			if err != nil {
				return Model{}, err
			}
			if n != 0 && elems > math.MaxUint64/n {
				return Model{}, &HeaderError{Reason: fmt.Sprintf("tensor %s: size overflows", name)}
			}
			elems *= n
		}
		tt, err := g.u32(name + " type")
		if err != nil {
			return Model{}, err
		}
		if _, err := g.u64(name + " offset"); err != nil {
			return Model{}, err
		}
		if params > math.MaxUint64-elems {
			return Model{}, &HeaderError{Reason: "parameter count overflows"}
		}
		params += elems
		typeCount[tt] += elems
	}
	if n, ok := asUint(kv["general.parameter_count"]); ok && n > 0 {
		m.Params = n
	} else {
		m.Params = params
	}
	if m.Quantization == "" {
		var best uint32
		var bestN uint64
		for t, n := range typeCount {
			if n > bestN || (n == bestN && t < best) {
				best, bestN = t, n
			}
		}
		if bestN > 0 {
			if name, ok := tensorTypes[best]; ok {
				m.Quantization = name
			} else {
				m.Quantization = fmt.Sprintf("type %d", best)
			}
		}
	}
	return m, nil
}
