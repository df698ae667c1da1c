package storetest

import (
	"context"
	"reflect"
	"strings"
	"testing"

	"github.com/ocppd/ocppd"
	"github.com/ocppd/ocppd/store"
)

// runFirmware runs the store.Firmware conformance tests.
func runFirmware(t *testing.T, open func(t *testing.T) store.Store) {
	t.Run("FirmwareImages", func(t *testing.T) { testFirmwareImages(t, open(t)) })
	t.Run("FirmwareRollouts", func(t *testing.T) { testFirmwareRollouts(t, open(t)) })
}

func sha(c byte) string { return strings.Repeat(string(c), 64) }

// testFirmwareImages checks that an image is recorded once per content
// (the first name stays), read back exactly, and listed newest first.
func testFirmwareImages(t *testing.T, s store.Store) {
	ctx := context.Background()
	if imgs, err := s.ListFirmwareImages(ctx); err != nil || len(imgs) != 0 {
		t.Fatalf("empty store lists %v, %v", imgs, err)
	}
	a := store.FirmwareImage{SHA256: sha('a'), Name: "fw-1.0.bin", Size: 1234, UploadedAt: at(0)}
	got, created, err := s.PutFirmwareImage(ctx, a)
	if err != nil || !created || got != a {
		t.Fatalf("PutFirmwareImage = %+v, %v, %v; want %+v, true", got, created, err, a)
	}
	again := a
	again.Name, again.UploadedAt = "renamed.bin", at(5)
	got, created, err = s.PutFirmwareImage(ctx, again)
	if err != nil || created || got != a {
		t.Fatalf("second PutFirmwareImage of the same content = %+v, %v, %v; want the first, false", got, created, err)
	}
	b := store.FirmwareImage{SHA256: sha('b'), Name: "fw-2.0.bin", Size: 99, UploadedAt: at(10)}
	if _, _, err := s.PutFirmwareImage(ctx, b); err != nil {
		t.Fatal(err)
	}
	if got, err := s.GetFirmwareImage(ctx, b.SHA256); err != nil || got != b {
		t.Fatalf("GetFirmwareImage = %+v, %v; want %+v", got, err, b)
	}
	_, err = s.GetFirmwareImage(ctx, sha('c'))
	wantCode(t, err, ocppd.ENOTFOUND)
	imgs, err := s.ListFirmwareImages(ctx)
	if err != nil || !reflect.DeepEqual(imgs, []store.FirmwareImage{b, a}) {
		t.Fatalf("ListFirmwareImages = %+v, %v; want b then a", imgs, err)
	}
}

// testFirmwareRollouts checks storing and reading a rollout with its
// stations in order, optional fields, the error contract, listing by
// image, and that deleting a station removes it from its rollouts.
func testFirmwareRollouts(t *testing.T, s store.Store) {
	ctx := context.Background()
	add(t, s, "CP1", "CP2", "CP3")
	for _, c := range []byte{'a', 'b'} {
		if _, _, err := s.PutFirmwareImage(ctx, store.FirmwareImage{SHA256: sha(c), Name: "fw.bin", Size: 1, UploadedAt: at(0)}); err != nil {
			t.Fatal(err)
		}
	}
	retries, interval, req := 3, 60, 42
	r1 := store.FirmwareRollout{
		ID: "r1", FirmwareSHA256: sha('a'), Location: "http://x/firmware/a/fw.bin", RetrieveAt: at(100),
		Retries: &retries, RetryInterval: &interval, CreatedAt: at(1),
		Stations: []store.RolloutStation{
			{ChargePointID: "CP3", Protocol: "ocpp1.6", CommandID: "c3"},
			{ChargePointID: "CP1", Protocol: "ocpp2.0.1", CommandID: "c1", RequestID: &req},
			{ChargePointID: "CP2", Error: "the station's OCPP version is not known yet"},
		},
	}
	if err := s.AddFirmwareRollout(ctx, r1); err != nil {
		t.Fatal(err)
	}
	got, err := s.GetFirmwareRollout(ctx, "r1")
	if err != nil || !reflect.DeepEqual(got, r1) {
		t.Fatalf("GetFirmwareRollout = %+v, %v; want %+v", got, err, r1)
	}
	r2 := store.FirmwareRollout{ID: "r2", FirmwareSHA256: sha('b'), Location: "l", RetrieveAt: at(2), CreatedAt: at(2),
		Stations: []store.RolloutStation{{ChargePointID: "CP1", Protocol: "ocpp1.6", CommandID: "c9"}}}
	if err := s.AddFirmwareRollout(ctx, r2); err != nil {
		t.Fatal(err)
	}

	wantCode(t, s.AddFirmwareRollout(ctx, r2), ocppd.ECONFLICT)
	wantCode(t, s.AddFirmwareRollout(ctx, store.FirmwareRollout{ID: "r3", FirmwareSHA256: sha('z'), CreatedAt: at(3)}), ocppd.ENOTFOUND)
	wantCode(t, s.AddFirmwareRollout(ctx, store.FirmwareRollout{ID: "r4", FirmwareSHA256: sha('a'), CreatedAt: at(3),
		Stations: []store.RolloutStation{{ChargePointID: "CP1"}, {ChargePointID: "NOPE"}}}), ocppd.ENOTFOUND)
	_, err = s.GetFirmwareRollout(ctx, "r4")
	wantCode(t, err, ocppd.ENOTFOUND) // nothing of a failed rollout is stored

	all, err := s.ListFirmwareRollouts(ctx, "", 0)
	if err != nil || len(all) != 2 || all[0].ID != "r2" || all[1].ID != "r1" || !reflect.DeepEqual(all[1], r1) {
		t.Fatalf("ListFirmwareRollouts = %+v, %v; want r2, r1", all, err)
	}
	if one, err := s.ListFirmwareRollouts(ctx, "", 1); err != nil || len(one) != 1 || one[0].ID != "r2" {
		t.Fatalf("ListFirmwareRollouts limit 1 = %+v, %v", one, err)
	}
	if of, err := s.ListFirmwareRollouts(ctx, sha('a'), 0); err != nil || len(of) != 1 || of[0].ID != "r1" {
		t.Fatalf("ListFirmwareRollouts of image a = %+v, %v", of, err)
	}

	if err := s.DeleteChargePoint(ctx, "CP1"); err != nil {
		t.Fatal(err)
	}
	got, err = s.GetFirmwareRollout(ctx, "r1")
	if err != nil || len(got.Stations) != 2 || got.Stations[0].ChargePointID != "CP3" || got.Stations[1].ChargePointID != "CP2" {
		t.Fatalf("after deleting CP1, rollout r1 = %+v, %v", got, err)
	}
}
