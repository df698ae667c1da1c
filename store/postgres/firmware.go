package postgres

import (
	"context"
	"errors"

	"github.com/jackc/pgx/v5"

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

const imageColumns = `sha256, name, size, uploaded_at`

func scanImage(r pgx.Row) (store.FirmwareImage, error) {
	var img store.FirmwareImage
	err := r.Scan(&img.SHA256, &img.Name, &img.Size, &img.UploadedAt)
	img.UploadedAt = img.UploadedAt.UTC()
	return img, err
}

// PutFirmwareImage records img unless its SHA256 is recorded already, and
// returns the recorded image and whether it was created now.
func (db *DB) PutFirmwareImage(ctx context.Context, img store.FirmwareImage) (store.FirmwareImage, bool, error) {
	if img.UploadedAt.IsZero() {
		img.UploadedAt = db.opts.Now()
	}
	var (
		out     store.FirmwareImage
		created bool
	)
	err := db.write(ctx, "put firmware image", func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, `INSERT INTO firmware_images (sha256, name, size, uploaded_at)
			VALUES ($1, $2, $3, $4) ON CONFLICT (sha256) DO NOTHING`, img.SHA256, img.Name, img.Size, utc(img.UploadedAt))
		if err != nil {
			return err
		}
		created = tag.RowsAffected() == 1
		out, err = scanImage(tx.QueryRow(ctx, `SELECT `+imageColumns+` FROM firmware_images WHERE sha256 = $1`, img.SHA256))
		return err
	})
	return out, created, err
}

// GetFirmwareImage returns the image; ENOTFOUND if there is none.
func (db *DB) GetFirmwareImage(ctx context.Context, sha string) (store.FirmwareImage, error) {
	if err := db.opened(); err != nil {
		return store.FirmwareImage{}, err
	}
	img, err := scanImage(db.pool.QueryRow(ctx, `SELECT `+imageColumns+` FROM firmware_images WHERE sha256 = $1`, sha))
	if errors.Is(err, pgx.ErrNoRows) {
		return img, firmwareNotFound(sha)
	}
	return img, translate("get firmware image", err)
}

// ListFirmwareImages returns every image, newest upload first.
func (db *DB) ListFirmwareImages(ctx context.Context) ([]store.FirmwareImage, error) {
	if err := db.opened(); err != nil {
		return nil, err
	}
	rows, err := db.pool.Query(ctx, `SELECT `+imageColumns+` FROM firmware_images ORDER BY uploaded_at DESC, sha256`)
	if err != nil {
		return nil, translate("list firmware images", err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (store.FirmwareImage, error) { return scanImage(r) })
	return out, translate("list firmware images", err)
}

// AddFirmwareRollout stores r with its stations. ENOTFOUND if its image or
// one of its stations is unknown, ECONFLICT if r.ID exists.
func (db *DB) AddFirmwareRollout(ctx context.Context, r store.FirmwareRollout) error {
	if r.CreatedAt.IsZero() {
		r.CreatedAt = db.opts.Now()
	}
	return db.write(ctx, "add firmware rollout", func(tx pgx.Tx) error {
		_, err := tx.Exec(ctx, `INSERT INTO firmware_rollouts
			(id, firmware_sha256, location, retrieve_at, retries, retry_interval, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7)`,
			r.ID, r.FirmwareSHA256, r.Location, utc(r.RetrieveAt), r.Retries, r.RetryInterval, utc(r.CreatedAt))
		switch {
		case isCode(err, codeForeignKeyViolation):
			return firmwareNotFound(r.FirmwareSHA256)
		case isCode(err, codeUniqueViolation):
			return ocppd.Errorf(ocppd.ECONFLICT, "rollout %q exists", r.ID)
		case err != nil:
			return err
		}
		for i, st := range r.Stations {
			_, err := tx.Exec(ctx, `INSERT INTO firmware_rollout_stations
				(rollout_id, position, charge_point_id, protocol, command_id, request_id, error) VALUES ($1, $2, $3, $4, $5, $6, $7)`,
				r.ID, i, st.ChargePointID, st.Protocol, st.CommandID, st.RequestID, st.Error)
			switch {
			case isCode(err, codeForeignKeyViolation):
				return notFound(st.ChargePointID)
			case isCode(err, codeUniqueViolation):
				return ocppd.Errorf(ocppd.EINVALID, "station %q is twice in rollout %q", st.ChargePointID, r.ID)
			case err != nil:
				return err
			}
		}
		return nil
	})
}

const rolloutColumns = `id, firmware_sha256, location, retrieve_at, retries, retry_interval, created_at`

func scanRollout(r pgx.Row) (store.FirmwareRollout, error) {
	var ro store.FirmwareRollout
	err := r.Scan(&ro.ID, &ro.FirmwareSHA256, &ro.Location, &ro.RetrieveAt, &ro.Retries, &ro.RetryInterval, &ro.CreatedAt)
	ro.RetrieveAt, ro.CreatedAt = ro.RetrieveAt.UTC(), ro.CreatedAt.UTC()
	return ro, err
}

// rolloutStations reads the stations of the rollouts ids, by rollout.
func (db *DB) rolloutStations(ctx context.Context, ids []string) (map[string][]store.RolloutStation, error) {
	rows, err := db.pool.Query(ctx, `SELECT rollout_id, charge_point_id, protocol, command_id, request_id, error
		FROM firmware_rollout_stations WHERE rollout_id = ANY($1) ORDER BY rollout_id, position`, ids)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := map[string][]store.RolloutStation{}
	for rows.Next() {
		var (
			id string
			st store.RolloutStation
		)
		if err := rows.Scan(&id, &st.ChargePointID, &st.Protocol, &st.CommandID, &st.RequestID, &st.Error); err != nil {
			return nil, err
		}
		out[id] = append(out[id], st)
	}
	return out, rows.Err()
}

// GetFirmwareRollout returns the rollout with its stations; ENOTFOUND if
// there is none.
func (db *DB) GetFirmwareRollout(ctx context.Context, id string) (store.FirmwareRollout, error) {
	if err := db.opened(); err != nil {
		return store.FirmwareRollout{}, err
	}
	ro, err := scanRollout(db.pool.QueryRow(ctx, `SELECT `+rolloutColumns+` FROM firmware_rollouts WHERE id = $1`, id))
	if errors.Is(err, pgx.ErrNoRows) {
		return ro, rolloutNotFound(id)
	}
	if err != nil {
		return ro, translate("get firmware rollout", err)
	}
	sts, err := db.rolloutStations(ctx, []string{id})
	ro.Stations = sts[id]
	if ro.Stations == nil {
		ro.Stations = []store.RolloutStation{}
	}
	return ro, translate("get firmware rollout", err)
}

// ListFirmwareRollouts returns up to limit rollouts (of image sha, if not
// empty) with their stations, newest first.
func (db *DB) ListFirmwareRollouts(ctx context.Context, sha string, limit int) ([]store.FirmwareRollout, error) {
	if err := db.opened(); err != nil {
		return nil, err
	}
	var lim *int
	if limit > 0 {
		lim = &limit
	}
	rows, err := db.pool.Query(ctx, `SELECT `+rolloutColumns+` FROM firmware_rollouts
		WHERE $1 = '' OR firmware_sha256 = $1 ORDER BY created_at DESC, id DESC LIMIT $2`, sha, lim)
	if err != nil {
		return nil, translate("list firmware rollouts", err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (store.FirmwareRollout, error) { return scanRollout(r) })
	if err != nil || len(out) == 0 {
		return out, translate("list firmware rollouts", err)
	}
	ids := make([]string, len(out))
	for i := range out {
		ids[i] = out[i].ID
	}
	sts, err := db.rolloutStations(ctx, ids)
	if err != nil {
		return nil, translate("list firmware rollouts", err)
	}
	for i := range out {
		out[i].Stations = sts[out[i].ID]
		if out[i].Stations == nil {
			out[i].Stations = []store.RolloutStation{}
		}
	}
	return out, nil
}
