package main

import "github.com/ocppd/ocppd/api"

// wireFiles gives the operator API the files store: firmware uploads and
// the download URLs put in UpdateFirmware (api.Options.Firmware).
func (s *server) wireFiles(o *api.Options) {
	if s.files.store != nil {
		o.Firmware = s.files.store
	}
}
