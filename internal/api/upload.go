package api

import (
	"errors"
	"net/http"

	"github.com/vanta-ledger/vanta/internal/upload"
)

// uploadStatus maps the errors of a streamed upload (internal/upload),
// which documents and imports receive: the limit or the field is named,
// so the client knows what to change.
func uploadStatus(err error) *apiError {
	var tooLarge *upload.TooLargeError
	var badType *upload.TypeError
	var form *upload.FormError
	switch {
	case errors.As(err, &tooLarge):
		return &apiError{status: http.StatusRequestEntityTooLarge, code: "too_large", message: tooLarge.Error(), field: tooLarge.Field}
	case errors.As(err, &badType):
		return &apiError{status: http.StatusUnsupportedMediaType, code: "unsupported_media_type", message: badType.Error(), field: badType.Field}
	case errors.As(err, &form):
		return &apiError{status: http.StatusBadRequest, code: "invalid_upload", message: form.Error(), field: form.Field}
	}
	return nil
}
