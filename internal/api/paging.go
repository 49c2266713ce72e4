package api

import (
	"encoding/base64"
	"fmt"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/gin-gonic/gin"
)

// page reads ?limit= (default 50, at most 1000) and ?cursor=, the opaque
// position the previous page ended at. A cursor this API did not give out
// is a 400 naming cursor: its decoded bytes reach SQL, where a NUL or
// invalid UTF-8 was a 500.
func page(c *gin.Context) (limit int, cursor string, err error) {
	limit = 50
	if v := c.Query("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 1000 {
			return 0, "", badRequest("validation_failed", "limit must be a number from 1 to 1000", "limit")
		}
		limit = n
	}
	if v := c.Query("cursor"); v != "" {
		b, err := base64.RawURLEncoding.DecodeString(v)
		if err != nil || !utf8.Valid(b) || strings.IndexByte(string(b), 0) >= 0 {
			return 0, "", badCursor()
		}
		cursor = string(b)
	}
	return limit, cursor, nil
}

func badCursor() *apiError {
	return badRequest("validation_failed", "cursor is not one this API gave out", "cursor")
}

// nextCursor encodes where the next page starts.
func nextCursor(position any) string {
	return base64.RawURLEncoding.EncodeToString([]byte(fmt.Sprint(position)))
}
