package api

import (
	"encoding/base64"
	"fmt"
	"strconv"

	"github.com/gin-gonic/gin"
)

// page reads ?limit= (default 50, at most 1000) and ?cursor=, the opaque
// position the previous page ended at.
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
		if err != nil {
			return 0, "", badRequest("validation_failed", "cursor is not one this API gave out", "cursor")
		}
		cursor = string(b)
	}
	return limit, cursor, nil
}

// nextCursor encodes where the next page starts.
func nextCursor(position any) string {
	return base64.RawURLEncoding.EncodeToString([]byte(fmt.Sprint(position)))
}
