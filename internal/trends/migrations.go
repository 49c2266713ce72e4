package trends

import "embed"

// Migrations are this package's SQL migrations (migrations/system/*.sql);
// the appliance's migrate registry merges them with every domain's.
//
//go:embed migrations
var Migrations embed.FS
