package seal

import (
	"context"
	"time"

	"github.com/redis/go-redis/v9"
)

// RedisTokens keeps break-glass token hashes in Redis with an expiry.
type RedisTokens struct {
	Client *redis.Client
	Prefix string // key prefix; default "sys:break-glass:"
}

func (r RedisTokens) key(hash string) string {
	p := r.Prefix
	if p == "" {
		p = "sys:break-glass:"
	}
	return p + hash
}

// Put implements TokenStore.
func (r RedisTokens) Put(ctx context.Context, hash string, ttl time.Duration) error {
	return r.Client.Set(ctx, r.key(hash), "1", ttl).Err()
}

// Take implements TokenStore: GETDEL is one atomic step, so two requests
// racing with the same token cannot both win.
func (r RedisTokens) Take(ctx context.Context, hash string) (bool, error) {
	err := r.Client.GetDel(ctx, r.key(hash)).Err()
	switch err {
	case nil:
		return true, nil
	case redis.Nil:
		return false, nil
	}
	return false, err
}
