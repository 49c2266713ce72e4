package security

import "embed"

// Migrations are this domain's SQL migrations (migrations/system/*.sql);
// the appliance's migrate registry merges every domain's.
//
//go:embed migrations
var Migrations embed.FS
