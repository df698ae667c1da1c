package csms

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/ocppd/ocppd"
	"github.com/ocppd/ocppd/shadow"
)

// maxShadowRetries bounds the optimistic-concurrency retry loop of a shadow
// update; it only repeats when another writer updated the same shadow in
// between.
const maxShadowRetries = 8

// report merges reported (a JSON object) into the station's shadow
// state.reported.
func (s *Service) report(ctx context.Context, cp string, reported json.RawMessage) error {
	upd, err := shadow.ParseUpdate(fmt.Appendf(nil, `{"state":{"reported":%s}}`, reported))
	if err != nil {
		return err
	}
	return s.updateShadow(ctx, cp, upd)
}

// updateShadow applies upd to the stored shadow with a compare-and-swap on
// its version, retrying when a concurrent writer won.
func (s *Service) updateShadow(ctx context.Context, cp string, upd shadow.Update) error {
	for range maxShadowRetries {
		rec, err := s.opts.Store.GetShadow(ctx, cp)
		if err != nil {
			return err
		}
		doc, err := shadow.Parse(rec.Document)
		if err != nil {
			return fmt.Errorf("shadow of %s: %w", cp, err)
		}
		now := s.opts.Now()
		if err := doc.Apply(upd, now); err != nil {
			return err
		}
		b, err := doc.Marshal()
		if err != nil {
			return err
		}
		err = s.opts.Store.PutShadow(ctx, cp, b, rec.Version, now)
		if ocppd.ErrorCode(err) != ocppd.ECONFLICT {
			return err
		}
	}
	return ocppd.Errorf(ocppd.EUNAVAILABLE, "shadow of %s: too many concurrent updates", cp)
}
