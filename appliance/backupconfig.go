package appliance

import (
	"fmt"
	"path/filepath"
	"strings"

	"filippo.io/age"

	"github.com/vanta-ledger/vanta/internal/backup"
)

// BackupSetConfig is the whole-appliance backup sets: who can open them,
// when they are made and how many are kept.
type BackupSetConfig struct {
	// BackupRecipients are age public keys (age1…), comma separated; empty:
	// an identity generated on the box ($DATA/secrets/backup-identity.age).
	BackupRecipients string `yaml:"backup_recipients"`
	// BackupSchedule is "KIND PERIOD [at HH:MM]" entries (UTC), or "off".
	BackupSchedule string `yaml:"backup_schedule"`
	// BackupRetention is daily=N,weekly=N,monthly=N.
	BackupRetention string `yaml:"backup_retention"`
}

// Defaults is the backup set section when nothing is set.
func (BackupSetConfig) Defaults() BackupSetConfig {
	return BackupSetConfig{BackupSchedule: backup.DefaultSchedule, BackupRetention: backup.DefaultRetention}
}

// BackupRecipientList splits the recipients.
func (c BackupSetConfig) BackupRecipientList() []string {
	var out []string
	for _, r := range strings.Split(c.BackupRecipients, ",") {
		if r = strings.TrimSpace(r); r != "" {
			out = append(out, r)
		}
	}
	return out
}

func (c *BackupSetConfig) validate(bad badFunc) {
	for _, r := range c.BackupRecipientList() {
		if _, err := age.ParseX25519Recipient(r); err != nil {
			bad("backup_recipients", r, fmt.Errorf("want age public keys (age1…) separated by commas (VANTA_BACKUP_RECIPIENTS): %w", err))
		}
	}
	if _, err := backup.ParseSchedule(c.BackupSchedule); err != nil {
		bad("backup_schedule", c.BackupSchedule, fmt.Errorf("%w (VANTA_BACKUP_SCHEDULE; \"off\" for none)", err))
	}
	if _, err := backup.ParseRetention(c.BackupRetention); err != nil {
		bad("backup_retention", c.BackupRetention, fmt.Errorf("%w (VANTA_BACKUP_RETENTION)", err))
	}
}

// backupDir is where the sets go: the configured backup directory, or
// $DATA/backups.
func (c Config) backupDir() string {
	return filepath.Join(c.DataDir, "backups")
}
