package seal

import "context"

// Origin is who asked for a seal operation, as the API saw them. It goes
// into every audit event (the client's IP, GOD's user id when GOD's token
// was checked) and decides the operations that need more than shares.
type Origin struct {
	IP string
	// UserID is GOD's user id when the request carried GOD's checked token.
	UserID string
	// Trusted says the API checked that the caller may act without shares:
	// GOD's token, or no GOD exists yet (first boot).
	Trusted bool
}

type originKey struct{}

// WithOrigin returns ctx carrying o for the seal service's methods.
func WithOrigin(ctx context.Context, o Origin) context.Context {
	return context.WithValue(ctx, originKey{}, o)
}

// OriginOf returns the origin ctx carries; the zero Origin (untrusted, no
// IP) when none, which is what a call from inside the process is told
// apart by in the audit log.
func OriginOf(ctx context.Context) Origin {
	o, _ := ctx.Value(originKey{}).(Origin)
	return o
}

// attrs are the audit attributes naming o.
func (o Origin) attrs() []any {
	out := []any{"ip", o.IP}
	if o.UserID != "" {
		out = append(out, "user", o.UserID)
	}
	return out
}
