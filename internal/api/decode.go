package api

import (
	"bytes"
	"encoding"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"reflect"
	"strconv"
	"strings"

	"github.com/gin-gonic/gin"
)

// maxBody bounds request bodies of the JSON API.
const maxBody = 64 << 10

// maxDepth bounds how deeply a body may nest; no request type nests more
// than a few levels, and the check walks the body recursively.
const maxDepth = 32

// decode reads exactly one JSON object into v, with an error that names
// the field at fault. Before encoding/json sees the body, one token pass
// holds it to what encoding/json lets through silently: keys must match a
// field's json name exactly (encoding/json folds case), a key may appear
// once per object (encoding/json keeps the last), and no string may hold a
// NUL (PostgreSQL text cannot store one, so it surfaced as a 500).
func decode(c *gin.Context, v any) error {
	decodeObserver(c, v)
	if err := requireJSON(c.Request); err != nil {
		return err
	}
	body, err := io.ReadAll(http.MaxBytesReader(c.Writer, c.Request.Body, maxBody))
	if err != nil {
		return describeJSONError(err)
	}
	return decodeBytes(body, v)
}

// requireJSON refuses a body that is not declared as JSON. A browser sends
// a cross-origin text/plain or form body (fetch with no-cors, sendBeacon,
// a form post) without a CORS preflight; application/json needs one, which
// this API never grants.
func requireJSON(r *http.Request) error {
	mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil || mt != "application/json" {
		return &apiError{http.StatusUnsupportedMediaType, "unsupported_media_type", "send Content-Type: application/json", "", 0}
	}
	return nil
}

func decodeBytes(body []byte, v any) error {
	if err := checkJSON(body, reflect.TypeOf(v)); err != nil {
		return err
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return describeJSONError(err)
	}
	if dec.More() {
		return badRequest("invalid_json", "body holds more than one JSON value", "")
	}
	if _, err := dec.Token(); err != io.EOF {
		return badRequest("invalid_json", "unexpected data after the JSON object", "")
	}
	return nil
}

// checkJSON walks the tokens of body alongside the Go type t.
func checkJSON(body []byte, t reflect.Type) error {
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	w := walker{dec: dec}
	tok, err := dec.Token()
	if err != nil {
		// Empty or malformed: encoding/json's own message says which.
		return nil
	}
	err = w.value(tok, t, "", 0)
	var ae *apiError
	if errors.As(err, &ae) {
		return ae
	}
	// A syntax error part-way: leave its message to encoding/json, which
	// reports the offset the same way for every request.
	return nil
}

type walker struct{ dec *json.Decoder }

var (
	unmarshalerType     = reflect.TypeFor[json.Unmarshaler]()
	textUnmarshalerType = reflect.TypeFor[encoding.TextUnmarshaler]()
	rawMessageType      = reflect.TypeFor[json.RawMessage]()
)

// value checks the value that begins with tok, expected to fill a t (nil:
// unknown, only duplicates and NULs are checked below).
func (w walker) value(tok json.Token, t reflect.Type, path string, depth int) error {
	if depth > maxDepth {
		return badRequest("invalid_json", fmt.Sprintf("nested more than %d levels deep", maxDepth), "")
	}
	t = concrete(t)
	switch tok := tok.(type) {
	case string:
		if strings.IndexByte(tok, 0) >= 0 {
			return badRequest("validation_failed", fieldName(path)+" must not contain NUL characters", path)
		}
		return nil
	case json.Delim:
		switch tok {
		case '{':
			return w.object(t, path, depth)
		case '[':
			var elem reflect.Type
			if t != nil && (t.Kind() == reflect.Slice || t.Kind() == reflect.Array) {
				elem = t.Elem()
			}
			for i := 0; w.dec.More(); i++ {
				next, err := w.dec.Token()
				if err != nil {
					return err
				}
				if err := w.value(next, elem, path+"["+strconv.Itoa(i)+"]", depth+1); err != nil {
					return err
				}
			}
			_, err := w.dec.Token() // ']'
			return err
		}
	}
	return nil // numbers, booleans, null
}

func (w walker) object(t reflect.Type, path string, depth int) error {
	var fields map[string]reflect.Type // nil: any key goes (a map, or a type decoding itself)
	var elem reflect.Type
	if t != nil {
		switch t.Kind() {
		case reflect.Struct:
			fields = jsonFields(t)
		case reflect.Map:
			elem = t.Elem()
		}
	}
	seen := map[string]bool{}
	for w.dec.More() {
		tok, err := w.dec.Token()
		if err != nil {
			return err
		}
		key, _ := tok.(string)
		at := key
		if path != "" {
			at = path + "." + key
		}
		if strings.IndexByte(key, 0) >= 0 {
			return badRequest("validation_failed", "a key must not contain NUL characters", path)
		}
		if seen[key] {
			return badRequest("duplicate_field", fmt.Sprintf("%s appears more than once", at), at)
		}
		seen[key] = true
		ft := elem
		if fields != nil {
			var ok bool
			if ft, ok = fields[key]; !ok {
				return badRequest("unknown_field", fmt.Sprintf("unknown field %q (names are case-sensitive)", at), at)
			}
		}
		next, err := w.dec.Token()
		if err != nil {
			return err
		}
		if err := w.value(next, ft, at, depth+1); err != nil {
			return err
		}
	}
	_, err := w.dec.Token() // '}'
	return err
}

// concrete strips pointers and forgets types that decode themselves (their
// keys are theirs to judge).
func concrete(t reflect.Type) reflect.Type {
	for t != nil && t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if t == nil || t == rawMessageType || t.Kind() == reflect.Interface {
		return nil
	}
	pt := reflect.PointerTo(t)
	if pt.Implements(unmarshalerType) || pt.Implements(textUnmarshalerType) {
		return nil
	}
	return t
}

// jsonFields maps the JSON names of t's fields, as encoding/json would see
// them (tags, embedded structs promoted), to their types.
func jsonFields(t reflect.Type) map[string]reflect.Type {
	out := map[string]reflect.Type{}
	for i := range t.NumField() {
		f := t.Field(i)
		tag := f.Tag.Get("json")
		if tag == "-" {
			continue
		}
		name, _, _ := strings.Cut(tag, ",")
		if f.Anonymous && name == "" {
			ft := f.Type
			if ft.Kind() == reflect.Pointer {
				ft = ft.Elem()
			}
			if ft.Kind() == reflect.Struct {
				for k, v := range jsonFields(ft) {
					if _, ok := out[k]; !ok {
						out[k] = v
					}
				}
				continue
			}
		}
		if !f.IsExported() {
			continue
		}
		if name == "" {
			name = f.Name
		}
		out[name] = f.Type
	}
	return out
}

// fieldName is how a message names the field at path.
func fieldName(path string) string {
	if path == "" {
		return "the body"
	}
	return path
}

func describeJSONError(err error) error {
	var syntax *json.SyntaxError
	var typ *json.UnmarshalTypeError
	var tooBig *http.MaxBytesError
	switch {
	case errors.Is(err, io.EOF):
		return badRequest("invalid_json", "request body is empty", "")
	case errors.As(err, &syntax):
		return badRequest("invalid_json", fmt.Sprintf("malformed JSON at byte %d", syntax.Offset), "")
	case errors.As(err, &typ):
		return badRequest("validation_failed", fmt.Sprintf("%s must be %s", typ.Field, typ.Type), typ.Field)
	case errors.As(err, &tooBig):
		return &apiError{http.StatusRequestEntityTooLarge, "too_large", fmt.Sprintf("body exceeds %d bytes", tooBig.Limit), "", 0}
	case strings.HasPrefix(err.Error(), "json: unknown field "):
		field := strings.Trim(strings.TrimPrefix(err.Error(), "json: unknown field "), `"`)
		return badRequest("unknown_field", fmt.Sprintf("unknown field %q", field), field)
	}
	return badRequest("invalid_json", err.Error(), "")
}
