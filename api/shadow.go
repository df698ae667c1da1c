package api

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"time"

	"github.com/ocppd/ocppd"
	"github.com/ocppd/ocppd/shadow"
	"github.com/ocppd/ocppd/store"
)

// ShadowUpdater applies an update to a station's shadow and returns the
// resulting document. The CSMS implements it so that a changed desired
// state is also pushed to the station; without one the API writes the
// store directly (shadowUpdater) and the CSMS picks the delta up when it
// next handles the station.
//
// Errors: ENOTFOUND for an unknown station, ECONFLICT when u.Version is
// set and does not match, EINVALID for an update the shadow refuses.
type ShadowUpdater interface {
	UpdateShadow(ctx context.Context, cp string, u shadow.Update) (shadow.Document, error)
}

// shadowUpdater applies updates with a compare-and-swap on the stored
// version, retrying when a concurrent writer won.
type shadowUpdater struct {
	store store.Shadows
	now   func() time.Time
}

// maxShadowRetries bounds the compare-and-swap loop.
const maxShadowRetries = 8

// UpdateShadow implements ShadowUpdater.
func (u *shadowUpdater) UpdateShadow(ctx context.Context, cp string, upd shadow.Update) (shadow.Document, error) {
	for range maxShadowRetries {
		rec, err := u.store.GetShadow(ctx, cp)
		if err != nil {
			return shadow.Document{}, err
		}
		doc, err := loadShadow(rec)
		if err != nil {
			return shadow.Document{}, err
		}
		now := u.now()
		if err := doc.Apply(upd, now); err != nil {
			return shadow.Document{}, err
		}
		b, err := doc.Marshal()
		if err != nil {
			return shadow.Document{}, err
		}
		err = u.store.PutShadow(ctx, cp, b, rec.Version, now)
		if err == nil {
			return doc, nil
		}
		if ocppd.ErrorCode(err) != ocppd.ECONFLICT {
			return shadow.Document{}, err
		}
		// Another writer won. If the caller named a version, it is stale
		// now: the next Apply refuses it with ECONFLICT.
	}
	return shadow.Document{}, ocppd.Errorf(ocppd.EUNAVAILABLE, "shadow of %s: too many concurrent updates; try again", cp)
}

// loadShadow parses a stored shadow; the store's version is authoritative.
func loadShadow(rec store.ShadowRecord) (shadow.Document, error) {
	doc, err := shadow.Parse(rec.Document)
	if err != nil {
		return shadow.Document{}, fmt.Errorf("shadow of %s: %w", rec.ChargePointID, err)
	}
	doc.Version = rec.Version
	return doc, nil
}

func (s *Server) getShadow(w http.ResponseWriter, r *http.Request) error {
	rec, err := s.opts.Store.GetShadow(r.Context(), r.PathValue("cp"))
	if err != nil {
		return err
	}
	doc, err := loadShadow(rec)
	if err != nil {
		return err
	}
	return writeShadow(w, doc)
}

func writeShadow(w http.ResponseWriter, doc shadow.Document) error {
	b, err := doc.Marshal()
	if err != nil {
		return err
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("ETag", fmt.Sprintf(`"%d"`, doc.Version))
	_, err = w.Write(append(b, '\n'))
	return err
}

// updateShadow merges the body, an update of the desired state, into the
// station's shadow. Operators write desired only: reported is what the
// station says.
func (s *Server) updateShadow(w http.ResponseWriter, r *http.Request) error {
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, shadow.MaxSize+1024))
	if err != nil {
		var me *http.MaxBytesError
		if errors.As(err, &me) {
			return &Error{Code: "too_large", Field: "state", Message: fmt.Sprintf("a shadow update is at most %d bytes", shadow.MaxSize)}
		}
		return err
	}
	if !json.Valid(body) {
		return invalid("", "the request body is not valid JSON")
	}
	upd, err := shadow.ParseUpdate(body)
	if err != nil {
		return withField(err, "state")
	}
	if upd.State.Reported != nil || upd.State.ClearReported {
		return invalid("state.reported", "the reported state is written by the station; update state.desired")
	}
	doc, err := s.opts.Shadows.UpdateShadow(r.Context(), r.PathValue("cp"), upd)
	if err != nil {
		if ocppd.ErrorCode(err) == ocppd.ECONFLICT {
			return &Error{Code: ocppd.ECONFLICT, Field: "version", Message: ocppd.ErrorMessage(err)}
		}
		return withField(err, "state.desired")
	}
	return writeShadow(w, doc)
}
