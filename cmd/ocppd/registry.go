package main

import (
	"context"
	"log/slog"
	"net/http"
	"time"

	"github.com/ocppd/ocppd"
	"github.com/ocppd/ocppd/gateway"
	"github.com/ocppd/ocppd/store"
)

// registry admits stations that are registered in the store. With
// allowUnknown it registers unknown stations as Pending instead of refusing
// them, so an operator can look at them and accept them.
type registry struct {
	store        store.ChargePoints
	allowUnknown bool
	log          *slog.Logger
}

var _ gateway.Registry = (*registry)(nil)

// Admit returns nil for a registered station and an ENOTFOUND error for an
// unknown one (unless allowUnknown).
func (r *registry) Admit(ctx context.Context, id string, _ *http.Request) error {
	_, err := r.store.GetChargePoint(ctx, id)
	if ocppd.ErrorCode(err) != ocppd.ENOTFOUND || !r.allowUnknown {
		return err
	}
	err = r.store.AddChargePoints(ctx, []ocppd.ChargePoint{{
		ID: id, Registration: ocppd.RegistrationPending, RegisteredAt: time.Now().UTC(),
	}})
	if ocppd.ErrorCode(err) == ocppd.ECONFLICT {
		return nil // registered concurrently
	}
	if err == nil {
		r.log.Info("registered an unknown station as Pending (--allow-unknown)", "cp", id)
	}
	return err
}
