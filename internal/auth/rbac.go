package auth

import (
	"fmt"
	"strings"
)

// Role is what a user may do in one company; GOD is the system's creator
// and is above every company.
type Role string

const (
	RoleGOD     Role = "god"
	RoleAdmin   Role = "admin"
	RoleManager Role = "manager"
	RoleUser    Role = "user"
	RoleViewer  Role = "viewer"
)

// Roles in the order the matrix is shown.
var Roles = []Role{RoleGOD, RoleAdmin, RoleManager, RoleUser, RoleViewer}

// CompanyRoles are the roles a membership can hold.
var CompanyRoles = []Role{RoleAdmin, RoleManager, RoleUser, RoleViewer}

// ParseRole accepts a company role name (not "god": nobody is made GOD
// through a membership).
func ParseRole(s string) (Role, error) {
	for _, r := range CompanyRoles {
		if string(r) == s {
			return r, nil
		}
	}
	return "", fmt.Errorf("auth: unknown role %q (want admin, manager, user or viewer)", s)
}

// Action is something a request does in a company (or, for
// company.create, in the system).
type Action string

const (
	ActCompanyRead      Action = "company.read"
	ActCompanyUpdate    Action = "company.update"
	ActCompanyArchive   Action = "company.archive"
	ActCompanyCreate    Action = "company.create"
	ActUsersManage      Action = "users.manage"
	ActLedgerRead       Action = "ledger.read"
	ActLedgerDraft      Action = "ledger.draft"
	ActLedgerPost       Action = "ledger.post"
	ActLedgerApprove    Action = "ledger.approve"
	ActReportsRead      Action = "reports.read"
	ActDocumentsRead    Action = "documents.read"
	ActDocumentsUpload  Action = "documents.upload"
	ActDocumentsApprove Action = "documents.approve"
	ActAuditRead        Action = "audit.read"
)

// Actions in the order the matrix is shown.
var Actions = []Action{
	ActCompanyCreate, ActCompanyArchive, ActCompanyUpdate, ActCompanyRead,
	ActUsersManage, ActAuditRead,
	ActLedgerRead, ActLedgerDraft, ActLedgerPost, ActLedgerApprove,
	ActReportsRead,
	ActDocumentsRead, ActDocumentsUpload, ActDocumentsApprove,
}

// Matrix is the one statement of who may do what. GOD may do everything;
// admin runs the company (settings, users, all finance, the audit trail);
// manager posts, approves, reports and handles documents; user drafts,
// uploads and reads reports; viewer reads. Creating and archiving
// companies is GOD's alone. Anything not listed is refused.
var Matrix = map[Action]map[Role]bool{
	ActCompanyCreate:    {RoleGOD: true},
	ActCompanyArchive:   {RoleGOD: true},
	ActCompanyUpdate:    {RoleGOD: true, RoleAdmin: true},
	ActCompanyRead:      {RoleGOD: true, RoleAdmin: true, RoleManager: true, RoleUser: true, RoleViewer: true},
	ActUsersManage:      {RoleGOD: true, RoleAdmin: true},
	ActAuditRead:        {RoleGOD: true, RoleAdmin: true},
	ActLedgerRead:       {RoleGOD: true, RoleAdmin: true, RoleManager: true, RoleUser: true, RoleViewer: true},
	ActLedgerDraft:      {RoleGOD: true, RoleAdmin: true, RoleManager: true, RoleUser: true},
	ActLedgerPost:       {RoleGOD: true, RoleAdmin: true, RoleManager: true},
	ActLedgerApprove:    {RoleGOD: true, RoleAdmin: true, RoleManager: true},
	ActReportsRead:      {RoleGOD: true, RoleAdmin: true, RoleManager: true, RoleUser: true, RoleViewer: true},
	ActDocumentsRead:    {RoleGOD: true, RoleAdmin: true, RoleManager: true, RoleUser: true, RoleViewer: true},
	ActDocumentsUpload:  {RoleGOD: true, RoleAdmin: true, RoleManager: true, RoleUser: true},
	ActDocumentsApprove: {RoleGOD: true, RoleAdmin: true, RoleManager: true},
}

// Allowed reports whether role may perform action; unknown roles and
// actions are refused.
func Allowed(role Role, action Action) bool {
	return Matrix[action][role]
}

// roleTitle is how a role heads its column.
func roleTitle(r Role) string {
	if r == RoleGOD {
		return "GOD"
	}
	return string(r)
}

// MatrixMarkdown renders Matrix as a Markdown table, for docs/SECURITY.md.
func MatrixMarkdown() string {
	var b strings.Builder
	b.WriteString("| action |")
	for _, r := range Roles {
		b.WriteString(" " + roleTitle(r) + " |")
	}
	b.WriteString("\n| --- |")
	for range Roles {
		b.WriteString(" :-: |")
	}
	b.WriteString("\n")
	for _, a := range Actions {
		b.WriteString("| `" + string(a) + "` |")
		for _, r := range Roles {
			if Allowed(r, a) {
				b.WriteString(" ✓ |")
			} else {
				b.WriteString(" — |")
			}
		}
		b.WriteString("\n")
	}
	return b.String()
}
