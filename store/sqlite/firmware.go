package sqlite

import (
	"context"
	"database/sql"
	"errors"

	sqlite3 "modernc.org/sqlite/lib"

	"github.com/ocppd/ocppd"
	"github.com/ocppd/ocppd/store"
)

var _ store.Firmware = (*DB)(nil)

func firmwareNotFound(sha string) error {
	return ocppd.Errorf(ocppd.ENOTFOUND, "firmware %q not found", sha)
}

func rolloutNotFound(id string) error {
	return ocppd.Errorf(ocppd.ENOTFOUND, "rollout %q not found", id)
}

// PutFirmwareImage records img unless its SHA256 is recorded already, and
// returns the recorded image and whether it was created now.
func (db *DB) PutFirmwareImage(ctx context.Context, img store.FirmwareImage) (store.FirmwareImage, bool, error) {
	var (
		out     store.FirmwareImage
		created bool
	)
	err := db.write(ctx, "put firmware image", func(ctx context.Context, tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `INSERT INTO firmware_images (sha256, name, size, uploaded_at)
			VALUES (?, ?, ?, ?) ON CONFLICT (sha256) DO NOTHING`, img.SHA256, img.Name, img.Size, ms(db.orNow(img.UploadedAt)))
		if err != nil {
			return err
		}
		n, _ := res.RowsAffected()
		created = n == 1
		out, err = scanImage(tx.QueryRowContext(ctx, `SELECT sha256, name, size, uploaded_at FROM firmware_images WHERE sha256 = ?`, img.SHA256))
		return err
	})
	return out, created, err
}

func scanImage(r rowScanner) (store.FirmwareImage, error) {
	var (
		img store.FirmwareImage
		at  int64
	)
	err := r.Scan(&img.SHA256, &img.Name, &img.Size, &at)
	img.UploadedAt = fromMS(at)
	return img, err
}

// GetFirmwareImage returns the image; ENOTFOUND if there is none.
func (db *DB) GetFirmwareImage(ctx context.Context, sha string) (store.FirmwareImage, error) {
	if err := db.opened(); err != nil {
		return store.FirmwareImage{}, err
	}
	img, err := scanImage(db.r.QueryRowContext(ctx, `SELECT sha256, name, size, uploaded_at FROM firmware_images WHERE sha256 = ?`, sha))
	if errors.Is(err, sql.ErrNoRows) {
		return img, firmwareNotFound(sha)
	}
	return img, translate("get firmware image", err)
}

// ListFirmwareImages returns every image, newest upload first.
func (db *DB) ListFirmwareImages(ctx context.Context) ([]store.FirmwareImage, error) {
	if err := db.opened(); err != nil {
		return nil, err
	}
	rows, err := db.r.QueryContext(ctx, `SELECT sha256, name, size, uploaded_at FROM firmware_images ORDER BY uploaded_at DESC, sha256`)
	if err != nil {
		return nil, translate("list firmware images", err)
	}
	defer rows.Close()
	var out []store.FirmwareImage
	for rows.Next() {
		img, err := scanImage(rows)
		if err != nil {
			return nil, translate("list firmware images", err)
		}
		out = append(out, img)
	}
	return out, translate("list firmware images", rows.Err())
}

func nullIntp(p *int) sql.NullInt64 {
	if p == nil {
		return sql.NullInt64{}
	}
	return sql.NullInt64{Int64: int64(*p), Valid: true}
}

func fromNullInt(v sql.NullInt64) *int {
	if !v.Valid {
		return nil
	}
	n := int(v.Int64)
	return &n
}

// AddFirmwareRollout stores r with its stations. ENOTFOUND if its image or
// one of its stations is unknown, ECONFLICT if r.ID exists.
func (db *DB) AddFirmwareRollout(ctx context.Context, r store.FirmwareRollout) error {
	return db.write(ctx, "add firmware rollout", func(ctx context.Context, tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `INSERT INTO firmware_rollouts
			(id, firmware_sha256, location, retrieve_at, retries, retry_interval, created_at) VALUES (?, ?, ?, ?, ?, ?, ?)`,
			r.ID, r.FirmwareSHA256, r.Location, ms(r.RetrieveAt), nullIntp(r.Retries), nullIntp(r.RetryInterval), ms(db.orNow(r.CreatedAt)))
		switch {
		case isConstraint(err, sqlite3.SQLITE_CONSTRAINT_FOREIGNKEY):
			return firmwareNotFound(r.FirmwareSHA256)
		case isConstraint(err, sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY):
			return ocppd.Errorf(ocppd.ECONFLICT, "rollout %q exists", r.ID)
		case err != nil:
			return err
		}
		stmt, err := tx.PrepareContext(ctx, `INSERT INTO firmware_rollout_stations
			(rollout_id, position, charge_point_id, protocol, command_id, request_id, error) VALUES (?, ?, ?, ?, ?, ?, ?)`)
		if err != nil {
			return err
		}
		defer stmt.Close()
		for i, st := range r.Stations {
			_, err := stmt.ExecContext(ctx, r.ID, i, st.ChargePointID, st.Protocol, st.CommandID, nullIntp(st.RequestID), st.Error)
			switch {
			case isConstraint(err, sqlite3.SQLITE_CONSTRAINT_FOREIGNKEY):
				return notFound(st.ChargePointID)
			case isConstraint(err, sqlite3.SQLITE_CONSTRAINT_UNIQUE):
				return ocppd.Errorf(ocppd.EINVALID, "station %q is twice in rollout %q", st.ChargePointID, r.ID)
			case err != nil:
				return err
			}
		}
		return nil
	})
}

const rolloutColumns = `id, firmware_sha256, location, retrieve_at, retries, retry_interval, created_at`

func scanRollout(r rowScanner) (store.FirmwareRollout, error) {
	var (
		ro                store.FirmwareRollout
		retrieve, created int64
		retries, interval sql.NullInt64
	)
	err := r.Scan(&ro.ID, &ro.FirmwareSHA256, &ro.Location, &retrieve, &retries, &interval, &created)
	ro.RetrieveAt, ro.CreatedAt = fromMS(retrieve), fromMS(created)
	ro.Retries, ro.RetryInterval = fromNullInt(retries), fromNullInt(interval)
	return ro, err
}

// rolloutStations reads the stations of rollout id.
func (db *DB) rolloutStations(ctx context.Context, id string) ([]store.RolloutStation, error) {
	rows, err := db.r.QueryContext(ctx, `SELECT charge_point_id, protocol, command_id, request_id, error
		FROM firmware_rollout_stations WHERE rollout_id = ? ORDER BY position`, id)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := []store.RolloutStation{}
	for rows.Next() {
		var (
			st  store.RolloutStation
			req sql.NullInt64
		)
		if err := rows.Scan(&st.ChargePointID, &st.Protocol, &st.CommandID, &req, &st.Error); err != nil {
			return nil, err
		}
		st.RequestID = fromNullInt(req)
		out = append(out, st)
	}
	return out, rows.Err()
}

// GetFirmwareRollout returns the rollout with its stations; ENOTFOUND if
// there is none.
func (db *DB) GetFirmwareRollout(ctx context.Context, id string) (store.FirmwareRollout, error) {
	if err := db.opened(); err != nil {
		return store.FirmwareRollout{}, err
	}
	ro, err := scanRollout(db.r.QueryRowContext(ctx, `SELECT `+rolloutColumns+` FROM firmware_rollouts WHERE id = ?`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return ro, rolloutNotFound(id)
	}
	if err != nil {
		return ro, translate("get firmware rollout", err)
	}
	ro.Stations, err = db.rolloutStations(ctx, id)
	return ro, translate("get firmware rollout", err)
}

// ListFirmwareRollouts returns up to limit rollouts (of image sha, if not
// empty) with their stations, newest first.
func (db *DB) ListFirmwareRollouts(ctx context.Context, sha string, limit int) ([]store.FirmwareRollout, error) {
	if err := db.opened(); err != nil {
		return nil, err
	}
	if limit <= 0 {
		limit = -1
	}
	rows, err := db.r.QueryContext(ctx, `SELECT `+rolloutColumns+` FROM firmware_rollouts
		WHERE ? = '' OR firmware_sha256 = ? ORDER BY created_at DESC, id DESC LIMIT ?`, sha, sha, limit)
	if err != nil {
		return nil, translate("list firmware rollouts", err)
	}
	var out []store.FirmwareRollout
	for rows.Next() {
		ro, err := scanRollout(rows)
		if err != nil {
			rows.Close()
			return nil, translate("list firmware rollouts", err)
		}
		out = append(out, ro)
	}
	err = rows.Err()
	rows.Close()
	if err != nil {
		return nil, translate("list firmware rollouts", err)
	}
	for i := range out {
		if out[i].Stations, err = db.rolloutStations(ctx, out[i].ID); err != nil {
			return nil, translate("list firmware rollouts", err)
		}
	}
	return out, nil
}
