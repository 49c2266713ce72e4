// Package audit keeps append-only, hash-chained audit logs in PostgreSQL:
// one chain per company and one for the system. Each record holds the hash
// of the one before it, so editing, deleting, inserting or reordering a
// record breaks the chain at that record; MACed checkpoints of the chain
// head, kept outside the database, catch what a chain alone cannot: its
// newest records cut off, or the whole chain rewritten consistently.
package audit

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/vanta-ledger/vanta/internal/atomicfile"
)

// Entry is what happened.
type Entry struct {
	Actor    string
	Role     string
	IP       string
	Action   string
	Resource string
	Outcome  string
	Details  map[string]any
}

// Record is a stored entry with its place in the chain.
type Record struct {
	Chain    string
	Seq      int64
	At       time.Time
	Entry    Entry
	Details  string // exactly as stored and hashed
	PrevHash []byte
	Hash     []byte
}

var chainName = regexp.MustCompile(`^[a-z0-9][a-z0-9-]{0,63}$`)

// Querier is what Verify reads through: a connection, pool or transaction.
type Querier interface {
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}

// Append adds e to chain inside tx, so the record commits or rolls back
// with the change it describes. Appends to one chain are serialised with a
// transaction-scoped advisory lock: row locks on the last record would let
// two writers read the same head and fork the chain.
func Append(ctx context.Context, tx pgx.Tx, chain string, e Entry) (Record, error) {
	if !chainName.MatchString(chain) {
		return Record{}, fmt.Errorf("audit: invalid chain name %q", chain)
	}
	details := "{}"
	if len(e.Details) > 0 {
		b, err := json.Marshal(e.Details)
		if err != nil {
			return Record{}, fmt.Errorf("audit: details: %w", err)
		}
		details = string(b)
	}
	if _, err := tx.Exec(ctx, "SELECT pg_advisory_xact_lock(hashtextextended('vanta.audit:' || $1, 0))", chain); err != nil {
		return Record{}, fmt.Errorf("audit: lock chain %s: %w", chain, err)
	}
	r := Record{Chain: chain, Entry: e, Details: details, PrevHash: []byte{}}
	err := tx.QueryRow(ctx, "SELECT seq, hash FROM audit.records WHERE chain = $1 ORDER BY seq DESC LIMIT 1", chain).Scan(&r.Seq, &r.PrevHash)
	if err != nil && !errors.Is(err, pgx.ErrNoRows) {
		return Record{}, fmt.Errorf("audit: read head of %s: %w", chain, err)
	}
	r.Seq++
	// PostgreSQL keeps microseconds: hash exactly what it will store.
	r.At = time.Now().UTC().Truncate(time.Microsecond)
	r.Hash = r.computeHash()
	_, err = tx.Exec(ctx, `INSERT INTO audit.records (chain, seq, at, actor, role, ip, action, resource, outcome, details, prev_hash, hash)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)`,
		chain, r.Seq, r.At, e.Actor, e.Role, e.IP, e.Action, e.Resource, e.Outcome, details, r.PrevHash, r.Hash)
	if err != nil {
		return Record{}, fmt.Errorf("audit: append to %s: %w", chain, err)
	}
	return r, nil
}

// computeHash covers every stored field, each length-prefixed.
func (r Record) computeHash() []byte {
	h := sha256.New()
	field := func(s string) {
		_ = binary.Write(h, binary.BigEndian, uint32(len(s)))
		h.Write([]byte(s))
	}
	field("vanta audit v1")
	field(r.Chain)
	field(strconv.FormatInt(r.Seq, 10))
	field(r.At.UTC().Format(time.RFC3339Nano))
	e := r.Entry
	for _, s := range []string{e.Actor, e.Role, e.IP, e.Action, e.Resource, e.Outcome, r.Details} {
		field(s)
	}
	field(hex.EncodeToString(r.PrevHash))
	return h.Sum(nil)
}

// Head returns the chain's last sequence number and hash (0 and nil when
// empty).
func Head(ctx context.Context, q Querier, chain string) (int64, []byte, error) {
	var seq int64
	var hash []byte
	err := q.QueryRow(ctx, "SELECT seq, hash FROM audit.records WHERE chain = $1 ORDER BY seq DESC LIMIT 1", chain).Scan(&seq, &hash)
	if errors.Is(err, pgx.ErrNoRows) {
		return 0, nil, nil
	}
	return seq, hash, err
}

// Result of a verification. FirstBad is 0 when the chain is intact.
type Result struct {
	OK       bool   `json:"ok"`
	Records  int64  `json:"records"`
	FirstBad int64  `json:"first_bad_seq,omitempty"`
	Reason   string `json:"reason,omitempty"`
}

// Verify walks the chain from the start and names the first record that
// breaks it; with a checkpoint it also checks that the chain still reaches
// the checkpointed head, unchanged.
func Verify(ctx context.Context, q Querier, chain string, cp *Checkpoint) (Result, error) {
	rows, err := q.Query(ctx, `SELECT seq, at, actor, role, ip, action, resource, outcome, details, prev_hash, hash
		FROM audit.records WHERE chain = $1 ORDER BY seq`, chain)
	if err != nil {
		return Result{}, fmt.Errorf("audit: read %s: %w", chain, err)
	}
	defer rows.Close()
	var res Result
	prev := []byte{}
	hashAt := map[int64][]byte{}
	for rows.Next() {
		r := Record{Chain: chain}
		e := &r.Entry
		if err := rows.Scan(&r.Seq, &r.At, &e.Actor, &e.Role, &e.IP, &e.Action, &e.Resource, &e.Outcome, &r.Details, &r.PrevHash, &r.Hash); err != nil {
			return Result{}, err
		}
		res.Records++
		want := res.Records
		switch {
		case r.Seq != want:
			return bad(res, want, fmt.Sprintf("record %d is missing (found %d next)", want, r.Seq)), rows.Err()
		case !hmac.Equal(r.PrevHash, prev):
			return bad(res, r.Seq, "does not link to the record before it"), rows.Err()
		case !hmac.Equal(r.computeHash(), r.Hash):
			return bad(res, r.Seq, "its content does not match its hash"), rows.Err()
		}
		prev = r.Hash
		if cp != nil && r.Seq == cp.Seq {
			hashAt[r.Seq] = r.Hash
		}
	}
	if err := rows.Err(); err != nil {
		return Result{}, err
	}
	if cp != nil {
		switch {
		case res.Records < cp.Seq:
			return bad(res, res.Records+1, fmt.Sprintf("chain ends at %d but was checkpointed at %d: newest records deleted", res.Records, cp.Seq)), nil
		case cp.Seq > 0 && !hmac.Equal(hashAt[cp.Seq], cp.Hash):
			return bad(res, cp.Seq, "differs from the checkpointed head: chain rewritten"), nil
		}
	}
	res.OK = true
	return res, nil
}

func bad(res Result, seq int64, reason string) Result {
	res.OK, res.FirstBad, res.Reason = false, seq, fmt.Sprintf("record %d: %s", seq, reason)
	return res
}

// Checkpoint is a MACed chain head kept outside the database.
type Checkpoint struct {
	Chain string    `json:"chain"`
	Seq   int64     `json:"seq"`
	Hash  []byte    `json:"hash"`
	At    time.Time `json:"at"`
	MAC   []byte    `json:"mac"`
}

func (c Checkpoint) mac(key []byte) []byte {
	m := hmac.New(sha256.New, key)
	fmt.Fprintf(m, "vanta audit checkpoint v1\x00%s\x00%d\x00%x\x00%d", c.Chain, c.Seq, c.Hash, c.At.UnixNano())
	return m.Sum(nil)
}

// Checkpoints stores heads under Dir ($DATA/audit), one file per chain,
// MACed with Key (the audit MAC key from the keyring).
type Checkpoints struct {
	Dir string
	Key []byte
}

func (c Checkpoints) path(chain string) (string, error) {
	if !chainName.MatchString(chain) {
		return "", fmt.Errorf("audit: invalid chain name %q", chain)
	}
	return filepath.Join(c.Dir, chain+".json"), nil
}

// Save records the chain's current head.
func (c Checkpoints) Save(ctx context.Context, q Querier, chain string) (Checkpoint, error) {
	path, err := c.path(chain)
	if err != nil {
		return Checkpoint{}, err
	}
	seq, hash, err := Head(ctx, q, chain)
	if err != nil {
		return Checkpoint{}, err
	}
	cp := Checkpoint{Chain: chain, Seq: seq, Hash: hash, At: time.Now().UTC()}
	cp.MAC = cp.mac(c.Key)
	data, err := json.Marshal(cp)
	if err != nil {
		return Checkpoint{}, err
	}
	if err := os.MkdirAll(c.Dir, 0o700); err != nil {
		return Checkpoint{}, err
	}
	// Durable before it counts: a checkpoint lost in a crash would let
	// the newest records be cut off unnoticed.
	return cp, atomicfile.Write(path, data, 0o600)
}

// ErrCheckpointForged means a checkpoint file's MAC does not verify.
var ErrCheckpointForged = errors.New("audit: checkpoint MAC does not verify: the file was altered")

// Load returns the chain's checkpoint, or nil when there is none.
func (c Checkpoints) Load(chain string) (*Checkpoint, error) {
	path, err := c.path(chain)
	if err != nil {
		return nil, err
	}
	data, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var cp Checkpoint
	if err := json.Unmarshal(data, &cp); err != nil {
		return nil, fmt.Errorf("audit: checkpoint %s: %w", path, err)
	}
	if !hmac.Equal(cp.MAC, cp.mac(c.Key)) {
		return nil, ErrCheckpointForged
	}
	return &cp, nil
}
