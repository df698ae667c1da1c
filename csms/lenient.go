package csms

import (
	"context"

	"github.com/ocppd/ocppd/ocpp"
)

// decodeOptions returns how to decode the payloads of station cp: strict,
// or lenient for stations flagged as sending out-of-spec data.
func (s *Service) decodeOptions(ctx context.Context, cp string) ocpp.DecodeOptions {
	return ocpp.DecodeOptions{}
}
