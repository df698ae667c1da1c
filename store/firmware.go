package store

import (
	"context"
	"time"
)

// FirmwareImage is a firmware image the operator uploaded. The bytes are
// kept by package files, content-addressed; the store keeps what the API
// lists.
type FirmwareImage struct {
	SHA256     string    `json:"sha256"` // hex, lower case; the image's id
	Name       string    `json:"name"`   // file name, as in the download URL
	Size       int64     `json:"size"`
	UploadedAt time.Time `json:"uploadedAt"`
}

// FirmwareRollout is one firmware update started by the operator: an
// UpdateFirmware command to each of its stations.
type FirmwareRollout struct {
	ID             string    `json:"id"`
	FirmwareSHA256 string    `json:"firmware"`
	Location       string    `json:"location"` // the URL handed to the stations
	RetrieveAt     time.Time `json:"retrieveAt"`
	// Retries and RetryInterval (seconds) are as sent; nil when not.
	Retries       *int      `json:"retries,omitempty"`
	RetryInterval *int      `json:"retryInterval,omitempty"`
	CreatedAt     time.Time `json:"createdAt"`
	// Stations are in the order the rollout was started with.
	Stations []RolloutStation `json:"stations"`
}

// RolloutStation is one station of a rollout: the command sent to it, or
// why none was.
type RolloutStation struct {
	ChargePointID string `json:"chargePointId"`
	Protocol      string `json:"protocol"`
	// CommandID is the UpdateFirmware command's id; "" if none was sent.
	CommandID string `json:"commandId,omitempty"`
	// RequestID is the 2.x requestId, which FirmwareStatusNotification
	// carries back; nil for 1.6.
	RequestID *int `json:"requestId,omitempty"`
	// Error says why no command was sent.
	Error string `json:"error,omitempty"`
}

// Firmware keeps the uploaded firmware images and the rollouts of them.
type Firmware interface {
	// PutFirmwareImage records img unless an image with its SHA256 is
	// recorded already; it returns the recorded image and whether it was
	// created now (the first name uploaded for a content stays).
	PutFirmwareImage(ctx context.Context, img FirmwareImage) (FirmwareImage, bool, error)
	// GetFirmwareImage returns the image; ENOTFOUND if there is none.
	GetFirmwareImage(ctx context.Context, sha256 string) (FirmwareImage, error)
	// ListFirmwareImages returns every image, newest upload first.
	ListFirmwareImages(ctx context.Context) ([]FirmwareImage, error)
	// AddFirmwareRollout stores r with its stations. ENOTFOUND if its
	// image or one of its stations is unknown, ECONFLICT if r.ID exists.
	AddFirmwareRollout(ctx context.Context, r FirmwareRollout) error
	// GetFirmwareRollout returns the rollout with its stations;
	// ENOTFOUND if there is none.
	GetFirmwareRollout(ctx context.Context, id string) (FirmwareRollout, error)
	// ListFirmwareRollouts returns up to limit rollouts (of the image
	// sha256, if not empty) with their stations, newest first; limit ≤ 0
	// means no limit.
	ListFirmwareRollouts(ctx context.Context, sha256 string, limit int) ([]FirmwareRollout, error)
}
