package api

import (
	"fmt"
	"reflect"
	"strings"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/google/uuid"

	"github.com/vanta-ledger/vanta/internal/tenancy"
)

// bodies are the JSON bodies of routes, as Go values of the types their
// handlers decode and answer with. Their schemas are generated from those
// types, so a field added to a type shows in the document at once.
type bodies struct {
	request  any // decoded by the handler (decode refuses unknown fields)
	status   string
	response any
}

var routeBodies = map[string]bodies{
	"POST /api/v1/companies":                   {tenancy.Company{}, "201", tenancy.Company{}},
	"PATCH /api/v1/companies/{cid}":            {tenancy.CompanyPatch{}, "200", tenancy.Company{}},
	"GET /api/v1/companies/{cid}":              {nil, "200", tenancy.Company{}},
	"POST /api/v1/auth/invitations/preview":    {invitationPreviewRequest{}, "200", invitationPreview{}},
	"POST /api/v1/companies/{cid}/invitations": {inviteRequest{}, "201", nil},
}

// fieldNotes add what a Go type cannot say to a generated property, by
// "Type.json_name"; typeNotes to a generated object, by type name.
func fieldNotes() map[string]gin.H {
	var catalog strings.Builder
	catalog.WriteString("Features the company uses (none is available yet; listing one keeps it ready). Absent: ")
	catalog.WriteString(strings.Join(tenancy.DefaultFeatures, ", ") + ".")
	for _, f := range tenancy.Catalog {
		fmt.Fprintf(&catalog, "\n- %s: %s", f.Name, f.Enables)
	}
	readOnly := gin.H{"readOnly": true}
	return map[string]gin.H{
		"Company.company_id":             readOnly,
		"Company.status":                 {"readOnly": true, "enum": []string{tenancy.StatusProvisioning, tenancy.StatusActive, tenancy.StatusArchived}},
		"Company.created_at":             readOnly,
		"Company.company_name":           {"minLength": 1, "maxLength": 200},
		"Company.tax_id":                 taxIDNote,
		"CompanyPatch.tax_id":            taxIDNote,
		"Company.phone":                  {"description": "e.g. +254 712 345678"},
		"Settings.timezone":              {"description": "an IANA time zone; absent: Africa/Nairobi"},
		"Settings.currency":              {"pattern": "^[A-Z]{3}$", "description": "ISO 4217; absent: KES"},
		"Settings.language":              {"pattern": "^[a-z]{2}(-[A-Z]{2})?$", "description": "absent: en"},
		"Settings.features":              {"description": catalog.String(), "uniqueItems": true},
		"Settings.features.items":        {"enum": tenancy.FeatureNames()},
		"inviteRequest.role":             {"enum": []string{"admin", "manager", "user", "viewer"}},
		"invitationPreview.role":         {"enum": []string{"admin", "manager", "user", "viewer"}},
		"invitationPreviewRequest.token": {"description": "the invitation's token (vinv_…), as in the link's fragment"},
	}
}

var taxIDNote = gin.H{"description": "KRA PIN, e.g. P051234567X; case and spaces are normalised; " +
	"unique among companies that are not archived (409 tax_id_taken)", "pattern": `^\s*[AaPp](\s*[0-9]){9}\s*[A-Za-z]\s*$`}

var typeNotes = map[string]gin.H{
	"Company": {"required": []string{"company_name"}},
}

var (
	timeType = reflect.TypeOf(time.Time{})
	uuidType = reflect.TypeOf(uuid.UUID{})
)

// schemaOf is the JSON Schema of what encoding/json reads and writes for t.
func schemaOf(t reflect.Type, notes map[string]gin.H) gin.H {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch {
	case t == timeType:
		return gin.H{"type": "string", "format": "date-time"}
	case t == uuidType:
		return gin.H{"type": "string", "format": "uuid"}
	}
	switch t.Kind() {
	case reflect.String:
		return gin.H{"type": "string"}
	case reflect.Bool:
		return gin.H{"type": "boolean"}
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return gin.H{"type": "integer"}
	case reflect.Slice, reflect.Array:
		return gin.H{"type": "array", "items": schemaOf(t.Elem(), notes)}
	case reflect.Map:
		return gin.H{"type": "object", "additionalProperties": schemaOf(t.Elem(), notes)}
	case reflect.Struct:
		props := gin.H{}
		for i := range t.NumField() {
			f := t.Field(i)
			name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
			if !f.IsExported() || name == "-" {
				continue
			}
			if name == "" {
				name = f.Name
			}
			p := schemaOf(f.Type, notes)
			key := t.Name() + "." + name
			for k, v := range notes[key] {
				p[k] = v
			}
			if items, ok := p["items"].(gin.H); ok {
				for k, v := range notes[key+".items"] {
					items[k] = v
				}
			}
			props[name] = p
		}
		// Bodies with unknown fields are refused (decode), so the
		// schema says so too.
		out := gin.H{"type": "object", "properties": props, "additionalProperties": false}
		for k, v := range typeNotes[t.Name()] {
			out[k] = v
		}
		return out
	}
	return gin.H{}
}

// describeBodies adds the request and response schemas of routeBodies to
// an operation of the document.
func describeBodies(route string, op gin.H) {
	b, ok := routeBodies[route]
	if !ok {
		return
	}
	notes := fieldNotes()
	if b.request != nil {
		op["requestBody"] = gin.H{"required": true, "content": gin.H{"application/json": gin.H{
			"schema": schemaOf(reflect.TypeOf(b.request), notes)}}}
	}
	resp := gin.H{"description": "OK"}
	if b.response != nil {
		resp["content"] = gin.H{"application/json": gin.H{"schema": schemaOf(reflect.TypeOf(b.response), notes)}}
	}
	responses := op["responses"].(gin.H)
	if b.status != "200" {
		delete(responses, "200")
	}
	responses[b.status] = resp
}
