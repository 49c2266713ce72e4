package audit

import "embed"

// Migrations are this domain's SQL migrations, migrations/system/*.sql and
// migrations/company/*.sql; the appliance's migrate registry merges every
// domain's (internal/migrate).
//
//go:embed migrations
var Migrations embed.FS
