package csms

import (
	"context"
	"sync"
	"time"

	"github.com/ocppd/ocppd"
	"github.com/ocppd/ocppd/store"
)

// defaultPolicyTTL is how long a station's policy (registration status,
// lenient flag) read from the store is reused for its other messages.
const defaultPolicyTTL = 2 * time.Second

// maxCachedPolicies bounds the policy cache; past it, expired entries are
// swept before a new one is added.
const maxCachedPolicies = 100_000

// policyCache keeps recently read station policies so that the per-message
// gate (is the station Accepted? lenient?) does not cost a store read for
// every Heartbeat or MeterValues. A BootNotification always reads the store
// and refreshes the entry, so an operator's change of registration status
// takes effect at the station's next boot at the latest, and on its other
// messages within the TTL.
type policyCache struct {
	ttl time.Duration
	mu  sync.Mutex
	m   map[string]cachedPolicy
}

type cachedPolicy struct {
	pol     store.StationPolicy
	expires time.Time
}

func (c *policyCache) get(cp string, now time.Time) (store.StationPolicy, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.m[cp]
	if !ok || now.After(e.expires) {
		return store.StationPolicy{}, false
	}
	return e.pol, true
}

func (c *policyCache) put(cp string, pol store.StationPolicy, now time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.m == nil {
		c.m = map[string]cachedPolicy{}
	}
	if len(c.m) >= maxCachedPolicies {
		for k, e := range c.m {
			if now.After(e.expires) {
				delete(c.m, k)
			}
		}
	}
	if len(c.m) < maxCachedPolicies {
		c.m[cp] = cachedPolicy{pol: pol, expires: now.Add(c.ttl)}
	}
}

func (c *policyCache) forget(cp string) {
	c.mu.Lock()
	delete(c.m, cp)
	c.mu.Unlock()
}

// stationPolicy returns the station's policy, from the cache unless fresh
// is set. The cache uses the wall clock, not Options.Now: it is about
// store load, not about the domain's time.
func (s *Service) stationPolicy(ctx context.Context, cp string, fresh bool) (store.StationPolicy, error) {
	now := time.Now()
	if !fresh && s.opts.PolicyTTL > 0 {
		if pol, ok := s.policies.get(cp, now); ok {
			return pol, nil
		}
	}
	pol, err := s.opts.Store.GetStationPolicy(ctx, cp)
	if err != nil {
		if ocppd.ErrorCode(err) == ocppd.ENOTFOUND {
			s.policies.forget(cp)
		}
		return pol, err
	}
	if s.opts.PolicyTTL > 0 {
		s.policies.put(cp, pol, now)
	}
	return pol, nil
}
