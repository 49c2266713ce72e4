package api

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"

	"github.com/gin-gonic/gin"
)

// maxBody bounds request bodies of the JSON API.
const maxBody = 64 << 10

// decode reads exactly one JSON object into v, rejecting unknown fields
// and trailing data, with an error that names the field at fault.
func decode(c *gin.Context, v any) error {
	if ct := c.ContentType(); ct != "" && ct != "application/json" {
		return &apiError{http.StatusUnsupportedMediaType, "unsupported_media_type", "send Content-Type: application/json", "", 0}
	}
	body := http.MaxBytesReader(c.Writer, c.Request.Body, maxBody)
	dec := json.NewDecoder(body)
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
