package api

import (
	"bytes"
	"embed"
	"encoding/json"
	"fmt"
	"html/template"
	"net/http"
	"sort"
	"strings"

	"github.com/gin-gonic/gin"
)

// The API reference page is rendered here, on the server, from the same
// document /api/v1/openapi.json serves: no script, no third-party viewer,
// nothing fetched from elsewhere, and the appliance's strict CSP holds
// (its one style sheet is served from the same origin).
//
//go:embed reference
var referenceFS embed.FS

var referenceTmpl = template.Must(template.New("reference.html").Funcs(template.FuncMap{"text": inlineCode}).
	ParseFS(referenceFS, "reference/reference.html"))

// inlineCode renders the document's `code` spans (its descriptions are
// CommonMark) as <code>; everything else is escaped as text.
func inlineCode(s string) template.HTML {
	var b strings.Builder
	for i, part := range strings.Split(s, "`") {
		if i%2 == 1 {
			b.WriteString("<code>" + template.HTMLEscapeString(part) + "</code>")
		} else {
			b.WriteString(template.HTMLEscapeString(part))
		}
	}
	return template.HTML(b.String()) // #nosec: every part is escaped above
}

// serveReference registers the reference page and its style sheet.
func serveReference(r *gin.Engine) {
	css, err := referenceFS.ReadFile("reference/reference.css")
	if err != nil {
		panic(err) // embedded at build time
	}
	r.GET("/api/v1/docs/reference.css", func(c *gin.Context) {
		c.Data(http.StatusOK, "text/css; charset=utf-8", css)
	})
	r.GET("/api/v1/docs", func(c *gin.Context) {
		page, err := renderReference(openAPI(r.Routes()))
		if err != nil {
			c.AbortWithStatus(http.StatusInternalServerError)
			return
		}
		c.Data(http.StatusOK, "text/html; charset=utf-8", page)
	})
}

// docSchema is the part of a JSON Schema the page shows.
type docSchema struct {
	Ref         string                `json:"$ref"`
	Type        any                   `json:"type"`
	Format      string                `json:"format"`
	Enum        []any                 `json:"enum"`
	Properties  map[string]*docSchema `json:"properties"`
	Required    []string              `json:"required"`
	Items       *docSchema            `json:"items"`
	Additional  any                   `json:"additionalProperties"`
	OneOf       []*docSchema          `json:"oneOf"`
	AllOf       []*docSchema          `json:"allOf"`
	Description string                `json:"description"`
	Pattern     string                `json:"pattern"`
	ReadOnly    bool                  `json:"readOnly"`
	Minimum     *int64                `json:"minimum"`
	Maximum     *int64                `json:"maximum"`
	Default     any                   `json:"default"`
}

type docMedia struct {
	Schema *docSchema `json:"schema"`
}

type docOperation struct {
	OperationID string              `json:"operationId"`
	Summary     string              `json:"summary"`
	Description string              `json:"description"`
	Tags        []string            `json:"tags"`
	Security    []map[string][]any  `json:"security"`
	Parameters  []docParameter      `json:"parameters"`
	RequestBody *docRequestBody     `json:"requestBody"`
	Responses   map[string]docReply `json:"responses"`
}

type docParameter struct {
	Name        string     `json:"name"`
	In          string     `json:"in"`
	Required    bool       `json:"required"`
	Description string     `json:"description"`
	Schema      *docSchema `json:"schema"`
}

type docRequestBody struct {
	Required bool                `json:"required"`
	Content  map[string]docMedia `json:"content"`
}

type docReply struct {
	Ref         string              `json:"$ref"`
	Description string              `json:"description"`
	Content     map[string]docMedia `json:"content"`
}

type docDocument struct {
	Info struct {
		Title       string `json:"title"`
		Version     string `json:"version"`
		Description string `json:"description"`
	} `json:"info"`
	Tags []struct {
		Name        string `json:"name"`
		Description string `json:"description"`
	} `json:"tags"`
	Paths      map[string]map[string]docOperation `json:"paths"`
	Components struct {
		Schemas   map[string]*docSchema `json:"schemas"`
		Responses map[string]docReply   `json:"responses"`
	} `json:"components"`
}

// What the template shows.
type (
	refPage struct {
		Title, Version, Description string
		Tags                        []refTag
		Schemas                     []refNamed
	}
	refTag struct {
		Name, Description string
		Ops               []refOp
	}
	refOp struct {
		ID, Method, Path, Summary, Description, Security string
		Params                                           []refField
		Body                                             *refBody
		Replies                                          []refBody
	}
	refBody struct {
		Status, Description, Media string
		Required                   bool
		Type                       []refLink
		Fields                     []refField
	}
	refField struct {
		Name     string
		Required bool
		Type     []refLink
		Notes    string
		Fields   []refField
	}
	refLink  struct{ Text, Anchor string }
	refNamed struct {
		Name   string
		Type   []refLink
		Fields []refField
	}
)

// renderReference renders the document as the reference page.
func renderReference(doc any) ([]byte, error) {
	raw, err := json.Marshal(doc)
	if err != nil {
		return nil, fmt.Errorf("reference: encode the document: %w", err)
	}
	var d docDocument
	if err := json.Unmarshal(raw, &d); err != nil {
		return nil, fmt.Errorf("reference: read the document: %w", err)
	}
	page := refPage{Title: d.Info.Title, Version: d.Info.Version, Description: d.Info.Description}
	byTag := map[string]*refTag{}
	for _, t := range d.Tags {
		page.Tags = append(page.Tags, refTag{Name: t.Name, Description: t.Description})
	}
	for i := range page.Tags {
		byTag[page.Tags[i].Name] = &page.Tags[i]
	}
	paths := make([]string, 0, len(d.Paths))
	for p := range d.Paths {
		paths = append(paths, p)
	}
	sort.Strings(paths)
	for _, p := range paths {
		for _, method := range []string{"get", "post", "put", "patch", "delete"} {
			o, ok := d.Paths[p][method]
			if !ok {
				continue
			}
			op := refOp{ID: o.OperationID, Method: strings.ToUpper(method), Path: p, Summary: o.Summary, Description: o.Description,
				Security: securityText(o.Security)}
			for _, prm := range o.Parameters {
				f := field(prm.Name, prm.Schema, prm.Required)
				f.Notes = strings.TrimSpace(prm.In + " parameter. " + prm.Description + " " + f.Notes)
				op.Params = append(op.Params, f)
			}
			if rb := o.RequestBody; rb != nil {
				for media, m := range rb.Content {
					ty, fields := describe(m.Schema)
					op.Body = &refBody{Media: media, Required: rb.Required, Type: ty, Fields: fields}
				}
			}
			statuses := make([]string, 0, len(o.Responses))
			for st := range o.Responses {
				statuses = append(statuses, st)
			}
			sort.Strings(statuses)
			for _, st := range statuses {
				r := o.Responses[st]
				if r.Ref != "" {
					r = d.Components.Responses[r.Ref[strings.LastIndex(r.Ref, "/")+1:]]
				}
				reply := refBody{Status: st, Description: r.Description}
				for media, m := range r.Content {
					reply.Media = media
					reply.Type, reply.Fields = describe(m.Schema)
				}
				op.Replies = append(op.Replies, reply)
			}
			tag := "Other"
			if len(o.Tags) > 0 {
				tag = o.Tags[0]
			}
			if byTag[tag] == nil {
				page.Tags = append(page.Tags, refTag{Name: tag})
				byTag = map[string]*refTag{}
				for i := range page.Tags {
					byTag[page.Tags[i].Name] = &page.Tags[i]
				}
			}
			byTag[tag].Ops = append(byTag[tag].Ops, op)
		}
	}
	// Within a group, operations keep the order of the route table.
	order := map[string]int{}
	for i, o := range apiOps {
		order[o.id] = i
	}
	for i := range page.Tags {
		ops := page.Tags[i].Ops
		sort.SliceStable(ops, func(a, b int) bool { return order[ops[a].ID] < order[ops[b].ID] })
	}
	names := make([]string, 0, len(d.Components.Schemas))
	for n := range d.Components.Schemas {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		s := d.Components.Schemas[n]
		ty, fields := describe(s)
		if s.Ref == "" && len(fields) > 0 {
			ty = []refLink{{Text: "object"}}
		}
		page.Schemas = append(page.Schemas, refNamed{Name: n, Type: ty, Fields: fields})
	}
	var buf bytes.Buffer
	if err := referenceTmpl.Execute(&buf, page); err != nil {
		return nil, fmt.Errorf("reference: render: %w", err)
	}
	return buf.Bytes(), nil
}

// securityText says in words what an operation's security asks for.
func securityText(reqs []map[string][]any) string {
	if reqs == nil {
		return "bearer (the default)"
	}
	var alts []string
	for _, r := range reqs {
		if len(r) == 0 {
			alts = append(alts, "none")
			continue
		}
		var names []string
		for n := range r {
			names = append(names, n)
		}
		sort.Strings(names)
		alts = append(alts, strings.Join(names, " and "))
	}
	if len(alts) == 0 {
		return "none"
	}
	return strings.Join(alts, " or ")
}

// describe is a schema's type as text and links to the components it
// names, and the fields of an object it spells out.
func describe(s *docSchema) ([]refLink, []refField) {
	switch {
	case s == nil:
		return []refLink{{Text: "any"}}, nil
	case s.Ref != "":
		name := s.Ref[strings.LastIndex(s.Ref, "/")+1:]
		return []refLink{{Text: name, Anchor: "schema-" + name}}, nil
	case len(s.OneOf) > 0:
		var out []refLink
		var fields []refField
		for i, alt := range s.OneOf {
			if i > 0 {
				out = append(out, refLink{Text: " or "})
			}
			ty, f := describe(alt)
			out = append(out, ty...)
			fields = append(fields, f...)
		}
		return out, fields
	case len(s.AllOf) == 1:
		return describe(s.AllOf[0])
	}
	types := typeNames(s.Type)
	switch {
	case contains(types, "array"):
		ty, fields := describe(s.Items)
		return append([]refLink{{Text: "array of "}}, ty...), fields
	case contains(types, "object") && s.Properties != nil:
		names := make([]string, 0, len(s.Properties))
		for n := range s.Properties {
			names = append(names, n)
		}
		sort.Strings(names)
		var fields []refField
		for _, n := range names {
			fields = append(fields, field(n, s.Properties[n], contains(s.Required, n)))
		}
		return []refLink{{Text: "object"}}, fields
	case contains(types, "object"):
		if add, ok := s.Additional.(map[string]any); ok && len(add) > 0 {
			raw, _ := json.Marshal(add)
			var inner docSchema
			if json.Unmarshal(raw, &inner) == nil {
				ty, _ := describe(&inner)
				return append([]refLink{{Text: "object of "}}, ty...), nil
			}
		}
		return []refLink{{Text: "object"}}, nil
	case len(types) == 0:
		return []refLink{{Text: "any"}}, nil
	}
	text := strings.Join(types, " or ")
	if s.Format != "" {
		text += " (" + s.Format + ")"
	}
	return []refLink{{Text: text}}, nil
}

func field(name string, s *docSchema, required bool) refField {
	ty, fields := describe(s)
	f := refField{Name: name, Required: required, Type: ty, Fields: fields}
	if s == nil {
		return f
	}
	var notes []string
	if s.ReadOnly {
		notes = append(notes, "read-only")
	}
	if s.Description != "" {
		notes = append(notes, s.Description)
	}
	if len(s.Enum) > 0 {
		var vals []string
		for _, v := range s.Enum {
			b, _ := json.Marshal(v)
			vals = append(vals, string(b))
		}
		notes = append(notes, "one of "+strings.Join(vals, ", "))
	}
	if s.Pattern != "" {
		notes = append(notes, "pattern "+s.Pattern)
	}
	if s.Minimum != nil && s.Maximum != nil {
		notes = append(notes, fmt.Sprintf("from %d to %d", *s.Minimum, *s.Maximum))
	}
	if s.Default != nil {
		notes = append(notes, fmt.Sprintf("default %v", s.Default))
	}
	f.Notes = strings.Join(notes, "; ")
	return f
}

func typeNames(t any) []string {
	switch t := t.(type) {
	case string:
		return []string{t}
	case []any:
		var out []string
		for _, v := range t {
			if s, ok := v.(string); ok {
				out = append(out, s)
			}
		}
		return out
	}
	return nil
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}
