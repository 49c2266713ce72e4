package appliance

import (
	"errors"
	"path/filepath"
	"strconv"
)

// ToolsConfig is the management tools vanta init runs beside the data
// services, reached only through the API's GOD-only proxy.
type ToolsConfig struct {
	// MongoExpress is the directory Mongo Express is installed in (npm ci
	// of tools/mongo-express), or "off". A directory without it, or no
	// node on PATH, leaves the program listed as not installed.
	MongoExpress string `yaml:"mongo_express"`
	// MongoExpressPort is its loopback port; 0: a free one, chosen at
	// each boot.
	MongoExpressPort int `yaml:"mongo_express_port"`
	// PgAdminPort is pgAdmin's loopback port (image only); 0: a free one,
	// chosen at each boot.
	PgAdminPort int `yaml:"pgadmin_port"`
}

// DefaultMongoExpressDir is where scripts/install-deps and the image
// install Mongo Express.
const DefaultMongoExpressDir = "/usr/local/lib/vanta/mongo-express"

// Defaults is the tools section when nothing is set: Mongo Express from
// its default directory, both tools on free loopback ports.
func (ToolsConfig) Defaults() ToolsConfig { return ToolsConfig{MongoExpress: DefaultMongoExpressDir} }

func (c *ToolsConfig) validate(bad badFunc) {
	if c.MongoExpress != "off" && !filepath.IsAbs(c.MongoExpress) {
		bad("mongo_express", c.MongoExpress, errors.New("want the absolute directory Mongo Express is installed in, or off"))
	}
	if c.MongoExpressPort < 0 || c.MongoExpressPort > 65535 {
		bad("mongo_express_port", strconv.Itoa(c.MongoExpressPort), errors.New("must be a port from 1 to 65535 (0: a free one at each boot)"))
	}
	if c.PgAdminPort < 0 || c.PgAdminPort > 65535 {
		bad("pgadmin_port", strconv.Itoa(c.PgAdminPort), errors.New("must be a port from 1 to 65535 (0: a free one at each boot)"))
	}
}
