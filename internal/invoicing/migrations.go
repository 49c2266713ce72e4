package invoicing

import "embed"

// Migrations are this domain's SQL (migrations/company/0003_invoicing.sql);
// the appliance's registry merges them with every other domain's.
//
//go:embed migrations
var Migrations embed.FS
