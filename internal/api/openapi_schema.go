package api

import (
	"encoding/json"
	"fmt"
	"reflect"
	"strings"
	"time"
	"unicode"

	"github.com/gin-gonic/gin"
	"github.com/google/uuid"

	"github.com/vanta-ledger/vanta/appliance"
	"github.com/vanta-ledger/vanta/internal/auth"
	"github.com/vanta-ledger/vanta/internal/tenancy"
	"github.com/vanta-ledger/vanta/supervisor"
)

// fieldNotes add what a Go type cannot say to a generated property, by
// "Type.json_name" (the type that declares the field); ".items" notes go
// to an array's items.
func fieldNotes() map[string]gin.H {
	var catalog strings.Builder
	catalog.WriteString("Features the company uses (none is available yet; listing one keeps it ready). Absent: ")
	catalog.WriteString(strings.Join(tenancy.DefaultFeatures, ", ") + ".")
	for _, f := range tenancy.Catalog {
		fmt.Fprintf(&catalog, "\n- %s: %s", f.Name, f.Enables)
	}
	readOnly := gin.H{"readOnly": true}
	companyRoles := gin.H{"enum": auth.CompanyRoles}
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
		"inviteRequest.role":             companyRoles,
		"newMemberRequest.role":          companyRoles,
		"roleRequest.role":               companyRoles,
		"invitationPreview.role":         companyRoles,
		"Invitation.role":                companyRoles,
		"Membership.role":                companyRoles,
		"acceptance.role":                companyRoles,
		"pendingInvitation.role":         companyRoles,
		"newMember.role":                 companyRoles,
		"memberRole.role":                companyRoles,
		"Invitation.status":              {"enum": []string{"pending", "accepted", "revoked", "expired"}},
		"invitationPreviewRequest.token": {"description": "the invitation's token (vinv_…), as in the link's fragment"},
		"acceptInvitationRequest.name":   {"description": "for a new account"},
		"acceptInvitationRequest.totp":   {"description": "the existing account's current code, when it has a second factor"},
		"loginRequest.totp":              {"description": "a current code, when the account has a second factor"},
		"totpBeginRequest.totp":          {"description": "a current code, when replacing a factor"},
		"shareRequest.share":             {"description": "one custodian's share as issued"},
		"shareRequest.nonce":             {"description": "the round's nonce from seal-status (or the rekey's), so that a share meant for an older round is refused"},
		"shareRequest.reset":             {"description": "unseal only: start the round again"},
		"archiveRequest.confirm":         {"description": "the company's exact name"},
		"archiveRequest.purge":           {"description": "crypto-shred: destroy the company's key and data for good"},
		"archived.status":                {"enum": []string{"archived", "purged"}},
		"memberDisabled.status":          {"enum": []string{string(auth.StatusDisabled)}},
		"Readiness.status":               {"enum": []string{appliance.StatusReady, appliance.StatusSealed, appliance.StatusStarting, appliance.StatusDegraded, appliance.StatusStopping}},
		"ServiceReport.state":            {"enum": serviceStates},
		"ServiceBrief.state":             {"enum": serviceStates},
		"totpSecret.qr_png":              {"description": "the otpauth URI as a QR code, a data: URL of a PNG"},
		"errorDetail.code":               {"description": "machine-readable, e.g. validation_failed, not_found, sealed"},
		"errorDetail.field":              {"description": "the request field at fault, when one is"},
		"listPage.next_cursor":           {"description": "pass as ?cursor= for the next page; empty on the last"},
	}
}

var serviceStates = []supervisor.State{supervisor.StateStopped, supervisor.StateStarting, supervisor.StateHealthy, supervisor.StateUnhealthy,
	supervisor.StateBackoff, supervisor.StateStopping, supervisor.StateExited, supervisor.StateFatal, supervisor.StateDisabled}

var taxIDNote = gin.H{"description": "KRA PIN, e.g. P051234567X; case and spaces are normalised; " +
	"unique among companies that are not archived (409 tax_id_taken)", "pattern": `^\s*[AaPp](\s*[0-9]){9}\s*[A-Za-z]\s*$`}

// requestRequired are the fields a handler needs in a body; a body field
// is otherwise optional (encoding/json leaves a missing one at its zero
// value, and the handler's validation names it if it mattered).
var requestRequired = map[string][]string{
	"Company":                  {"company_name"},
	"InitRequest":              {"shares", "threshold"},
	"godSetupRequest":          {"email", "name", "password"},
	"loginRequest":             {"email", "password"},
	"refreshRequest":           {"refresh_token"},
	"passwordChangeRequest":    {"email", "password", "new_password"},
	"passwordResetRequest":     {"token", "new_password"},
	"acceptInvitationRequest":  {"token", "password"},
	"invitationPreviewRequest": {"token"},
	"totpBeginRequest":         {"password"},
	"totpConfirmRequest":       {"code"},
	"godResetRequest":          {"token", "password"},
	"newMemberRequest":         {"email", "name", "role", "password"},
	"inviteRequest":            {"email", "role"},
	"archiveRequest":           {"confirm"},
	"roleRequest":              {"role"},
	"breakGlassUseRequest":     {"token"},
}

// componentNames name the components of types whose Go name would read
// badly in the document.
var componentNames = map[reflect.Type]string{
	reflect.TypeFor[errorBody]():     "Error",
	reflect.TypeFor[errorDetail]():   "ErrorDetail",
	reflect.TypeFor[auditListItem](): "AuditRecord",
}

// typeEnums are the fixed sets of named string types.
var typeEnums = map[reflect.Type]any{
	reflect.TypeFor[auth.Role]():        auth.Roles,
	reflect.TypeFor[auth.Status]():      []auth.Status{auth.StatusActive, auth.StatusDisabled},
	reflect.TypeFor[supervisor.State](): serviceStates,
}

// localNames names the unnamed request structs of the table for their
// notes (their Go aliases are not visible to reflection).
var localNames = map[reflect.Type]string{
	reflect.TypeFor[archiveBody]():       "archiveRequest",
	reflect.TypeFor[roleBody]():          "roleRequest",
	reflect.TypeFor[breakGlassUseBody](): "breakGlassUseRequest",
}

var (
	timeType = reflect.TypeFor[time.Time]()
	uuidType = reflect.TypeFor[uuid.UUID]()
	rawType  = reflect.TypeFor[json.RawMessage]()
)

// schemas generates JSON Schemas (2020-12, as OpenAPI 3.1 uses) of what
// encoding/json reads and writes for Go types. Answers are described by
// components (one per named struct, referenced), request bodies inline
// and closed (decode refuses unknown fields).
type schemas struct {
	notes      map[string]gin.H
	components gin.H
	names      map[string]reflect.Type
}

func newSchemas() *schemas {
	return &schemas{notes: fieldNotes(), components: gin.H{}, names: map[string]reflect.Type{}}
}

// request is the schema of a body decoded into a value of t.
func (g *schemas) request(t reflect.Type) gin.H { return g.of(t, true) }

// response is the schema of an answer encoded from a value of t.
func (g *schemas) response(t reflect.Type) gin.H { return g.of(t, false) }

func (g *schemas) of(t reflect.Type, req bool) gin.H {
	if t.Kind() == reflect.Pointer {
		return nullable(g.of(t.Elem(), req))
	}
	switch {
	case t == timeType:
		return gin.H{"type": "string", "format": "date-time"}
	case t == uuidType:
		return gin.H{"type": "string", "format": "uuid"}
	case t == rawType:
		return gin.H{}
	case typeEnums[t] != nil:
		return gin.H{"type": "string", "enum": typeEnums[t]}
	}
	switch t.Kind() {
	case reflect.String:
		return gin.H{"type": "string"}
	case reflect.Bool:
		return gin.H{"type": "boolean"}
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Uint8, reflect.Uint16:
		return gin.H{"type": "integer"}
	case reflect.Int64, reflect.Uint, reflect.Uint32, reflect.Uint64:
		return gin.H{"type": "integer", "format": "int64"}
	case reflect.Float32, reflect.Float64:
		// Never for money; TestOpenAPINoFloats keeps every body free of it.
		return gin.H{"type": "number"}
	case reflect.Slice, reflect.Array:
		if t.Elem().Kind() == reflect.Uint8 {
			return gin.H{"type": "string", "contentEncoding": "base64"}
		}
		return gin.H{"type": "array", "items": g.of(t.Elem(), req)}
	case reflect.Map:
		return gin.H{"type": "object", "additionalProperties": g.of(t.Elem(), req)}
	case reflect.Struct:
		if req || t.Name() == "" {
			return g.object(t, req)
		}
		return gin.H{"$ref": "#/components/schemas/" + g.component(t)}
	}
	return gin.H{}
}

// component names t's schema among the components, making it once.
func (g *schemas) component(t reflect.Type) string {
	name := componentName(t)
	if have, ok := g.names[name]; ok {
		if have != t {
			panic(fmt.Sprintf("openapi: two types named %s (%v, %v)", name, have, t))
		}
		return name
	}
	g.names[name] = t
	g.components[name] = gin.H{} // placeholder, for types that refer to themselves
	g.components[name] = g.object(t, false)
	return name
}

// componentName: Company, Member; a page of T is TList.
func componentName(t reflect.Type) string {
	if n, ok := componentNames[t]; ok {
		return n
	}
	name := t.Name()
	if base, _, generic := strings.Cut(name, "["); generic {
		arg := t.Field(0).Type.Elem() // listPage's items
		return upperFirst(componentName(arg)) + upperFirst(strings.TrimSuffix(base, "Page"))
	}
	return upperFirst(name)
}

func upperFirst(s string) string {
	r := []rune(s)
	if len(r) > 0 {
		r[0] = unicode.ToUpper(r[0])
	}
	return string(r)
}

// noteName is how notes and requestRequired name t.
func noteName(t reflect.Type) string {
	if n, ok := localNames[t]; ok {
		return n
	}
	name, _, _ := strings.Cut(t.Name(), "[")
	return name
}

// object is a struct's schema: its fields as encoding/json names them
// (embedded structs promoted), omitempty fields not required in answers.
func (g *schemas) object(t reflect.Type, req bool) gin.H {
	props := gin.H{}
	var required []string
	g.fields(t, req, props, &required)
	out := gin.H{"type": "object", "properties": props}
	if req {
		required = requestRequired[noteName(t)]
		// Bodies with unknown fields are refused (decode), so the schema
		// says so too.
		out["additionalProperties"] = false
	}
	if len(required) > 0 {
		out["required"] = required
	}
	return out
}

func (g *schemas) fields(t reflect.Type, req bool, props gin.H, required *[]string) {
	for i := range t.NumField() {
		f := t.Field(i)
		tag := f.Tag.Get("json")
		if tag == "-" {
			continue
		}
		name, opts, _ := strings.Cut(tag, ",")
		if f.Anonymous && name == "" && f.Type.Kind() == reflect.Struct {
			g.fields(f.Type, req, props, required)
			continue
		}
		if !f.IsExported() {
			continue
		}
		if name == "" {
			name = f.Name
		}
		if _, dup := props[name]; dup {
			continue // the outer field wins, as in encoding/json
		}
		p := g.of(f.Type, req)
		key := noteName(t) + "." + name
		if notes := g.notes[key]; notes != nil {
			if _, isRef := p["$ref"]; isRef {
				p = gin.H{"allOf": []any{p}} // siblings of $ref are ignored by some tools
			}
			for k, v := range notes {
				p[k] = v
			}
		}
		if items, ok := p["items"].(gin.H); ok {
			for k, v := range g.notes[key+".items"] {
				items[k] = v
			}
		}
		props[name] = p
		if !strings.Contains(","+opts+",", ",omitempty,") {
			*required = append(*required, name)
		}
	}
}

// nullable lets a schema also be null, as a nil pointer encodes.
func nullable(s gin.H) gin.H {
	if _, ok := s["$ref"]; ok {
		return gin.H{"oneOf": []any{s, gin.H{"type": "null"}}}
	}
	if ty, ok := s["type"].(string); ok {
		s["type"] = []string{ty, "null"}
		if enum, ok := s["enum"]; ok {
			s["enum"] = append(toAnySlice(enum), nil)
		}
	}
	return s
}

func toAnySlice(v any) []any {
	rv := reflect.ValueOf(v)
	out := make([]any, 0, rv.Len()+1)
	for i := range rv.Len() {
		out = append(out, rv.Index(i).Interface())
	}
	return out
}
