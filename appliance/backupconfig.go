package appliance

import (
	"fmt"
	"strings"

	"filippo.io/age"

	"github.com/vanta-ledger/vanta/internal/backup"
)

// BackupRecipientList splits the recipients.
func (c BackupConfig) BackupRecipientList() []string {
	var out []string
	for _, r := range strings.Split(c.BackupRecipients, ",") {
		if r = strings.TrimSpace(r); r != "" {
			out = append(out, r)
		}
	}
	return out
}

// validateSets checks the set settings (the section's validate checks
// the directory).
func (c *BackupConfig) validateSets(bad badFunc) {
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
