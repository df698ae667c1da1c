package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"sync"
	"time"

	"github.com/ocppd/ocppd/ocpp"
	"github.com/ocppd/ocppd/sim"
)

const simSummary = `Simulate one charge point, like the seed's simulate.py: connect to
<url>/<cp-id>, send BootNotification, report every connector Available, then
send Heartbeat at the interval the CSMS returns, until interrupted. Every
frame is logged to stderr. A lost connection is re-established with
backoff; a refusal (close 1008 or 1002) ends the command with an error.

The station answers every CSMS command with realistic state changes (a
Reset reboots, a remote start charges, UpdateFirmware downloads the file,
GetLog/GetDiagnostics uploads a log, GetVariables/GetConfiguration read its
device model …). --session charges once after the boot: the RFID tag
--id-tag is authorized, a transaction starts on EVSE 1 connector 1, meter
values follow every --meter-interval, and it stops after the duration.
Transaction messages are queued while offline and replayed after the next
boot.

examples:
  ocppd sim --url ws://localhost:8080 --cp-id CP1 --ocpp 1.6
  ocppd sim --url ws://localhost:8080 --cp-id CP1 --evses 2 --session 2m --meter-interval 10s`

// simCommand runs `ocppd sim`. It returns nil when ctx ends (SIGINT or
// SIGTERM) and the *sim.CloseError when the server refuses the station,
// so that its text ("1008 (policy violation) Charge Point CP2 not
// registered") is what the user reads.
func simCommand(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("sim [flags]", simSummary, stderr)
	url := fs.String("url", "", "CSMS WebSocket base URL, e.g. ws://localhost:8080 or wss://host/ocpp (required)")
	id := fs.String("cp-id", sim.DefaultID, "charge point id, appended to --url as the last path segment")
	serial := fs.String("cp-serial", sim.DefaultSerial, "serial number sent in BootNotification")
	model := fs.String("cp-model", sim.DefaultModel, "model sent in BootNotification")
	firmware := fs.String("cp-version", sim.DefaultFirmwareVersion, "firmware version sent in BootNotification")
	vendor := fs.String("cp-vendor", sim.DefaultVendor, "vendor sent in BootNotification (OCPP 1.6 allows 20 characters; longer is cut)")
	version := fs.String("ocpp", "2.0.1", "OCPP version: 2.0.1, 1.6 or 2.1")
	password := fs.String("password", "", "HTTP Basic password (security profiles 1 and 2; the user is --cp-id); the CSMS may change it (AuthorizationKey / BasicAuthPassword)")
	var heartbeat, session, meterInterval time.Duration
	secondsVar(fs, &heartbeat, "heartbeat", 0, "heartbeat interval in seconds or as a duration (30s); 0 uses the interval the CSMS returns")
	idTag := fs.String("id-tag", sim.DefaultIDTag, "RFID tag the station authorizes for --session")
	evses := fs.Int("evses", 1, "number of EVSEs (OCPP 1.6: groups of connectors numbered on from 1)")
	connectors := fs.Int("connectors", 1, "number of connectors of each EVSE")
	secondsVar(fs, &session, "session", 0, "after the boot, charge once for this long (e.g. 2m): authorize --id-tag, start, meter values, stop; 0 for no session")
	secondsVar(fs, &meterInterval, "meter-interval", 60*time.Second, "interval of meter values during a transaction; 0 sends none (the CSMS may change it: MeterValueSampleInterval / TxUpdatedInterval)")
	o, err := loadFlags(fs, args)
	if err != nil {
		return err
	}
	if len(o.args) > 0 {
		return usageErrorf("sim: unexpected argument %q", o.args[0])
	}
	if *url == "" {
		return usageErrorf("sim: --url is required, e.g. --url ws://localhost:8080")
	}
	v, err := ocpp.ParseVersion(*version)
	if err != nil {
		return usageErrorf("sim: --ocpp: %v", err)
	}
	if *evses < 1 || *connectors < 1 {
		return usageErrorf("sim: --evses and --connectors must be at least 1")
	}

	log := slog.New(newSimLogHandler(stderr, slog.LevelInfo))
	st := sim.NewCharger(sim.Options{
		URL:               *url,
		ID:                *id,
		Version:           v,
		Serial:            *serial,
		Model:             *model,
		FirmwareVersion:   *firmware,
		Vendor:            *vendor,
		Logger:            log,
		HeartbeatInterval: heartbeat,
		Password:          *password,
	}, sim.ChargerOptions{
		EVSEs:         *evses,
		Connectors:    *connectors,
		IDTag:         *idTag,
		MeterInterval: meterInterval,
	})
	defer st.Close()
	if session > 0 {
		var wg sync.WaitGroup
		defer wg.Wait()
		sctx, cancel := context.WithCancel(ctx)
		defer cancel()
		wg.Add(1)
		go func() {
			defer wg.Done()
			runSession(sctx, st, log, session)
		}()
	}
	err = st.Run(ctx)
	var ce *sim.CloseError
	if errors.As(err, &ce) {
		return ce
	}
	return err
}

// runSession waits for the station's first accepted boot and plays one
// charging session of duration d.
func runSession(ctx context.Context, st *sim.Charger, log *slog.Logger, d time.Duration) {
	t := time.NewTicker(50 * time.Millisecond)
	defer t.Stop()
	for st.Boots() == 0 {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
	tx, err := st.Session(ctx, sim.SessionOptions{Duration: d})
	if err != nil {
		log.Warn(st.ID() + ": session: " + err.Error())
		return
	}
	log.Info(fmt.Sprintf("%s: session %s ended: %d Wh", st.ID(), tx.ID, tx.MeterNowWh-tx.MeterStartWh))
}

// simLogHandler prints one line per record in the seed simulator's style,
// "LEVEL: message key=value…", e.g.
//
//	INFO: CP1: send [2,"0678cb2a-…","BootNotification",{…}]
type simLogHandler struct {
	mu    *sync.Mutex
	w     io.Writer
	level slog.Leveler
	attrs []byte // preformatted " key=value" pairs from WithAttrs
	group string
}

func newSimLogHandler(w io.Writer, level slog.Leveler) *simLogHandler {
	return &simLogHandler{mu: &sync.Mutex{}, w: w, level: level}
}

// Enabled implements slog.Handler.
func (h *simLogHandler) Enabled(_ context.Context, l slog.Level) bool {
	return l >= h.level.Level()
}

// Handle implements slog.Handler.
func (h *simLogHandler) Handle(_ context.Context, r slog.Record) error {
	var b bytes.Buffer
	b.WriteString(r.Level.String())
	b.WriteString(": ")
	b.WriteString(r.Message)
	b.Write(h.attrs)
	r.Attrs(func(a slog.Attr) bool {
		h.appendAttr(&b, a)
		return true
	})
	b.WriteByte('\n')
	h.mu.Lock()
	defer h.mu.Unlock()
	_, err := h.w.Write(b.Bytes())
	return err
}

func (h *simLogHandler) appendAttr(b *bytes.Buffer, a slog.Attr) {
	a.Value = a.Value.Resolve()
	if a.Equal(slog.Attr{}) {
		return
	}
	key := a.Key
	if h.group != "" {
		key = h.group + "." + key
	}
	fmt.Fprintf(b, " %s=%v", key, a.Value)
}

// WithAttrs implements slog.Handler.
func (h *simLogHandler) WithAttrs(attrs []slog.Attr) slog.Handler {
	h2 := *h
	var b bytes.Buffer
	b.Write(h.attrs)
	for _, a := range attrs {
		h.appendAttr(&b, a)
	}
	h2.attrs = b.Bytes()
	return &h2
}

// WithGroup implements slog.Handler.
func (h *simLogHandler) WithGroup(name string) slog.Handler {
	if name == "" {
		return h
	}
	h2 := *h
	if h2.group != "" {
		name = h2.group + "." + name
	}
	h2.group = name
	return &h2
}
