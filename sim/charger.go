package sim

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/ocppd/ocppd/ocpp"
	"github.com/ocppd/ocppd/ocpp/message"
)

// Defaults of a Charger.
const (
	DefaultIDTag            = "SIMTAG01"
	DefaultPowerW           = 11000
	DefaultOfflineQueueSize = 1000
	// maxSentLog bounds the log of transaction messages kept for Sent.
	maxSentLog = 1000
)

// ChargerOptions configure a Charger: its hardware and its behaviour. The
// zero value of every field is usable.
type ChargerOptions struct {
	// EVSEs is the number of EVSEs; default 1. Connectors is the number
	// of connectors of each EVSE; default 1. OCPP 1.6 has no EVSEs: its
	// connectors are numbered 1… across all EVSEs.
	EVSEs, Connectors int
	// IDTag is the RFID tag Tap and Session use when given none; default
	// "SIMTAG01".
	IDTag string
	// MeterInterval is the initial interval of meter values during a
	// transaction (1.6 MeterValueSampleInterval, 2.x
	// SampledDataCtrlr.TxUpdatedInterval); 0 sends none. The CSMS can
	// change it with ChangeConfiguration / SetVariables.
	MeterInterval time.Duration
	// PowerW is the power drawn while charging, in W; default 11000.
	PowerW float64
	// InitialMeterWh is every connector's energy register at start.
	InitialMeterWh float64
	// HTTPClient downloads firmware and uploads logs; nil uses a client
	// with a 60 s timeout.
	HTTPClient *http.Client
	// StepDelay is the pause between the steps of a firmware update or a
	// log upload (each status notification); default none.
	StepDelay time.Duration
	// OfflineQueueSize bounds the transaction messages kept while
	// offline; default 1000. When full, the oldest meter values are
	// dropped first.
	OfflineQueueSize int
}

// Charger is a charging station with behaviour on top of a Station: EVSEs
// and connectors with meters, transactions with an RFID tap, a remote
// start or stop, meter values at an interval, a device model (OCPP 1.6
// configuration keys, 2.x components and variables), and answers with
// realistic state changes to every CSMS command: Reset reboots and boots
// again, UpdateFirmware downloads the file and walks through the firmware
// statuses, GetLog/GetDiagnostics uploads a log, and so on.
//
// While it is offline, transaction messages (1.6 StartTransaction,
// MeterValues and StopTransaction; 2.x TransactionEvent, marked
// offline=true) are queued and replayed in order after the next accepted
// boot.
//
// The embedded Station gives the low-level API (Call, Connect, Close…);
// its Run, used through the Charger, boots, replays the queue, reports
// every connector's status and sends heartbeats.
type Charger struct {
	*Station
	co   ChargerOptions
	v    ocpp.Version
	http *http.Client

	// txMu serialises the sending of transaction messages so that they
	// reach the CSMS in the order they happened, replays included.
	txMu sync.Mutex

	mu           sync.Mutex
	evses        [][]*connector // [evse-1][connector-1]
	online       *conn          // the connection on which the boot was accepted
	queue        []*queued
	sent         []SentMessage
	nextLocal    int
	boots        int
	model        *deviceModel
	localList    map[string]string // id token → status
	localVersion int
	authCache    map[string]string
	reservations map[int]*reservation
	profiles     []chargingProfile
	firmware     FirmwareState
	fwCancel     context.CancelFunc // cancels the update in progress
	logs         []LogUpload
	pendingReset string // an OnIdle reset waits for the transactions to end
	inoperative  bool   // the whole station (connector 0 / no evse)
}

// connector is one connector's state.
type connector struct {
	evse, id    int
	inoperative bool
	pendingOp   *bool // a ChangeAvailability waiting for the transaction to end
	meterWh     float64
	meterAt     time.Time
	tx          *txn
	reservation *reservation
}

// txn is a transaction as the station knows it.
type txn struct {
	local     int
	id        string // 2.x: the station's id; 1.6: the CSMS's id once known
	evse      *connector
	idTag     string
	startWh   float64
	startedAt time.Time
	seq       int // 2.x: the next seqNo
	remoteID  *int
	resID     *int
	stop      chan struct{} // ends the meter ticker
	ended     bool
}

// queued is a transaction message waiting to be sent.
type queued struct {
	action string
	tx     *txn
	meter  bool // a meter value: dropped first when the queue is full
	// build returns the payload when it is sent (1.6 messages after a
	// StartTransaction need the id the CSMS returns).
	build func() (any, error)
	// done handles the CALLRESULT.
	done func(resp json.RawMessage)
}

type reservation struct {
	id      int
	idTag   string
	expiry  time.Time
	conn    *connector
	evseAny bool
}

type chargingProfile struct {
	id, stackLevel int
	purpose        string
	evse           int // 2.x evse id, 1.6 connector id (0: station)
	limit          float64
	unit           string
}

// SentMessage is a transaction message the station sent, with the CSMS's
// answer (Err is a *CallError when the CSMS refused it).
type SentMessage struct {
	Action   string
	Payload  json.RawMessage
	Response json.RawMessage
	Err      error
	Replayed bool // sent from the offline queue
}

// FirmwareState is the outcome of the last firmware update.
type FirmwareState struct {
	Location string
	Status   string // the last status notified
	Size     int    // bytes downloaded
	Data     []byte // the file as downloaded
	// InProgress: the update has not finished (or failed) yet.
	InProgress bool
}

// LogUpload is one uploaded log file.
type LogUpload struct {
	Location, Filename string
	Status             string // Uploaded or the failure status
}

// Transaction is a snapshot of one running transaction.
type Transaction struct {
	ID            string // 2.x: the station's id; 1.6: the CSMS's id ("" until known)
	EVSE          int
	Connector     int // 1.6: the 1.6 connector id
	IDTag         string
	MeterStartWh  int
	MeterNowWh    int
	StartedAt     time.Time
	RemoteStartID *int
}

// NewCharger returns a Charger for the station options opts and the
// charger options co. It does no I/O.
func NewCharger(opts Options, co ChargerOptions) *Charger {
	if co.EVSEs <= 0 {
		co.EVSEs = 1
	}
	if co.Connectors <= 0 {
		co.Connectors = 1
	}
	if co.IDTag == "" {
		co.IDTag = DefaultIDTag
	}
	if co.PowerW <= 0 {
		co.PowerW = DefaultPowerW
	}
	if co.OfflineQueueSize <= 0 {
		co.OfflineQueueSize = DefaultOfflineQueueSize
	}
	c := &Charger{
		Station:      New(opts),
		co:           co,
		http:         co.HTTPClient,
		localList:    map[string]string{},
		authCache:    map[string]string{},
		reservations: map[int]*reservation{},
	}
	if c.http == nil {
		c.http = &http.Client{Timeout: 60 * time.Second}
	}
	c.v = c.Station.opts.Version
	now := c.now()
	for e := 1; e <= co.EVSEs; e++ {
		var row []*connector
		for k := 1; k <= co.Connectors; k++ {
			row = append(row, &connector{evse: e, id: k, meterWh: co.InitialMeterWh, meterAt: now})
		}
		c.evses = append(c.evses, row)
	}
	c.model = newDeviceModel(c)
	c.Station.hooks = &runHooks{booted: c.booted, interval: c.heartbeatInterval}
	c.registerHandlers()
	return c
}

func (c *Charger) now() time.Time { return c.Station.opts.Now() }

func (c *Charger) is16() bool { return c.v == ocpp.V16 }

// Boot sends BootNotification like Station.Boot; once accepted the
// station is online: it replays its queued transaction messages. (Run
// also reports every connector's status after that.)
func (c *Charger) Boot(ctx context.Context) (BootResult, error) {
	res, err := c.Station.Boot(ctx)
	if err != nil || res.Status != StatusAccepted {
		return res, err
	}
	c.accepted(res)
	return res, c.Replay(ctx)
}

// accepted marks the current connection as booted.
func (c *Charger) accepted(res BootResult) {
	c.mu.Lock()
	c.online = c.Station.current()
	c.boots++
	if res.Interval > 0 {
		c.model.setInternal("HeartbeatInterval", strconv.Itoa(int(res.Interval/time.Second)))
	}
	c.mu.Unlock()
	c.Station.SetBootReason("")
}

// booted is Run's hook after an accepted boot.
func (c *Charger) booted(ctx context.Context, res BootResult) error {
	c.accepted(res)
	if err := c.Replay(ctx); err != nil {
		return err
	}
	return c.ReportStatuses(ctx)
}

// heartbeatInterval is the device model's heartbeat interval.
func (c *Charger) heartbeatInterval() time.Duration {
	c.mu.Lock()
	defer c.mu.Unlock()
	n, _ := strconv.Atoi(c.model.value("HeartbeatInterval"))
	return time.Duration(n) * time.Second
}

// Boots returns how many boots were accepted.
func (c *Charger) Boots() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.boots
}

// Online reports whether the station is connected and its boot on this
// connection was accepted: transaction messages are sent at once rather
// than queued.
func (c *Charger) Online() bool {
	cur := c.Station.current()
	c.mu.Lock()
	defer c.mu.Unlock()
	return cur != nil && cur == c.online
}

// Queued returns how many transaction messages wait for the connection.
func (c *Charger) Queued() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.queue)
}

// Sent returns the transaction messages sent so far (the latest 1000),
// oldest first.
func (c *Charger) Sent() []SentMessage {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]SentMessage(nil), c.sent...)
}

// Transactions returns the running transactions.
func (c *Charger) Transactions() []Transaction {
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []Transaction
	for _, row := range c.evses {
		for _, k := range row {
			if k.tx == nil {
				continue
			}
			c.advance(k)
			out = append(out, Transaction{
				ID: k.tx.id, EVSE: k.evse, Connector: c.connectorNumber(k), IDTag: k.tx.idTag,
				MeterStartWh: int(k.tx.startWh), MeterNowWh: int(k.meterWh), StartedAt: k.tx.startedAt,
				RemoteStartID: k.tx.remoteID,
			})
		}
	}
	return out
}

// Firmware returns the state of the last firmware update.
func (c *Charger) Firmware() FirmwareState {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.firmware
}

// Logs returns the log uploads so far.
func (c *Charger) Logs() []LogUpload {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]LogUpload(nil), c.logs...)
}

// Status returns the status a connector reports, in the station's version.
func (c *Charger) Status(evse, conn int) string {
	c.mu.Lock()
	defer c.mu.Unlock()
	k := c.connector(evse, conn)
	if k == nil {
		return ""
	}
	return c.statusOf(k)
}

// Variable returns a device model value by its 1.6 key or 2.x
// "Component.Variable" name (e.g. "OCPPCommCtrlr.HeartbeatInterval").
func (c *Charger) Variable(name string) (string, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.model.lookup(name)
}

// connector returns the connector (1-based numbers), or nil.
func (c *Charger) connector(evse, conn int) *connector {
	if evse < 1 || evse > len(c.evses) || conn < 1 || conn > len(c.evses[evse-1]) {
		return nil
	}
	return c.evses[evse-1][conn-1]
}

// connector16 returns the connector of a 1.6 connectorId.
func (c *Charger) connector16(id int) *connector {
	if id < 1 {
		return nil
	}
	n := c.co.Connectors
	return c.connector((id-1)/n+1, (id-1)%n+1)
}

// connectorNumber is a connector's number in the station's version: the
// 1.6 connectorId across EVSEs, or the 2.x connector id on its EVSE.
func (c *Charger) connectorNumber(k *connector) int {
	if c.is16() {
		return (k.evse-1)*c.co.Connectors + k.id
	}
	return k.id
}

// all returns every connector.
func (c *Charger) all() []*connector {
	var out []*connector
	for _, row := range c.evses {
		out = append(out, row...)
	}
	return out
}

// advance adds the energy drawn since the last reading to a charging
// connector's register.
func (c *Charger) advance(k *connector) {
	now := c.now()
	if k.tx != nil && now.After(k.meterAt) {
		k.meterWh += c.co.PowerW * now.Sub(k.meterAt).Hours()
	}
	k.meterAt = now
}

// statusOf is a connector's status in the station's version.
func (c *Charger) statusOf(k *connector) string {
	switch {
	case k.tx != nil:
		if c.is16() {
			return "Charging"
		}
		return "Occupied"
	case k.inoperative || c.inoperative:
		return "Unavailable"
	case k.reservation != nil:
		return "Reserved"
	}
	return "Available"
}

// ReportStatuses sends a StatusNotification for every connector.
func (c *Charger) ReportStatuses(ctx context.Context) error {
	for _, k := range c.all() {
		if err := c.notifyStatus(ctx, k); err != nil {
			return err
		}
	}
	return nil
}

// notifyStatus sends k's current status if the station is online.
func (c *Charger) notifyStatus(ctx context.Context, k *connector) error {
	if !c.Online() {
		return nil
	}
	c.mu.Lock()
	status := c.statusOf(k)
	n := c.connectorNumber(k)
	c.mu.Unlock()
	err := c.Station.StatusNotification(ctx, k.evse, n, status)
	var ce *CallError
	if errors.As(err, &ce) {
		c.logf(levelWarn, "StatusNotification refused: %v", err)
		return nil
	}
	return err
}

// Replay sends the queued transaction messages in order. A message the
// CSMS refuses with a CALLERROR is dropped (logged); a lost connection
// stops the replay with the rest still queued.
func (c *Charger) Replay(ctx context.Context) error {
	c.txMu.Lock()
	defer c.txMu.Unlock()
	for {
		c.mu.Lock()
		if len(c.queue) == 0 {
			c.mu.Unlock()
			return nil
		}
		q := c.queue[0]
		c.mu.Unlock()
		_, err := c.sendNow(ctx, q, true)
		var ce *CallError
		if err != nil && !errors.As(err, &ce) && !errors.Is(err, errSkipped) {
			return err
		}
		c.mu.Lock()
		c.queue = c.queue[1:]
		c.mu.Unlock()
		if err != nil && !errors.Is(err, errSkipped) {
			c.logf(levelWarn, "queued %s refused: %v", q.action, err)
		}
	}
}

// errSkipped: a queued message cannot be sent (a 1.6 message of a
// transaction the CSMS never gave an id).
var errSkipped = errors.New("skipped")

// sendNow builds and sends q, records it, and runs its done.
func (c *Charger) sendNow(ctx context.Context, q *queued, replayed bool) (json.RawMessage, error) {
	p, err := q.build()
	if err != nil {
		c.logf(levelWarn, "%s not sent: %v", q.action, err)
		return nil, errSkipped
	}
	raw, err := json.Marshal(p)
	if err != nil {
		return nil, fmt.Errorf("encode %s: %w", q.action, err)
	}
	resp, err := c.Station.Call(ctx, q.action, json.RawMessage(raw))
	var ce *CallError
	if err != nil && !errors.As(err, &ce) {
		return nil, err
	}
	c.mu.Lock()
	c.sent = append(c.sent, SentMessage{Action: q.action, Payload: raw, Response: resp, Err: err, Replayed: replayed})
	if len(c.sent) > maxSentLog {
		c.sent = c.sent[len(c.sent)-maxSentLog:]
	}
	c.mu.Unlock()
	if err != nil {
		return nil, err
	}
	if q.done != nil {
		q.done(resp)
	}
	return resp, nil
}

// sendTx sends a transaction message now if the station is online and
// nothing is queued before it, and queues it otherwise (also when the
// connection is lost while sending). It returns the CALLRESULT payload,
// nil when queued, or the *CallError the CSMS answered with.
func (c *Charger) sendTx(ctx context.Context, q *queued) (json.RawMessage, error) {
	c.txMu.Lock()
	defer c.txMu.Unlock()
	c.mu.Lock()
	direct := len(c.queue) == 0
	c.mu.Unlock()
	if direct && c.Online() {
		resp, err := c.sendNow(ctx, q, false)
		var ce *CallError
		if err == nil || errors.As(err, &ce) || errors.Is(err, errSkipped) {
			return resp, err
		}
		if ctx.Err() != nil {
			return nil, err
		}
		c.logf(levelWarn, "%s: %v; queued", q.action, err)
	}
	c.enqueue(q)
	return nil, nil
}

// enqueue appends q, dropping the oldest meter value (or else the oldest
// message) when the queue is full.
func (c *Charger) enqueue(q *queued) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.queue) >= c.co.OfflineQueueSize {
		drop := 0
		for i, e := range c.queue {
			if e.meter {
				drop = i
				break
			}
		}
		c.logf(levelWarn, "offline queue full: dropping a queued %s", c.queue[drop].action)
		c.queue = append(c.queue[:drop], c.queue[drop+1:]...)
	}
	c.queue = append(c.queue, q)
}

// validate checks an outbound request against the schema of the
// station's version: the charger sends only valid messages.
func (c *Charger) validate(action string, p any) error {
	raw, err := json.Marshal(p)
	if err != nil {
		return fmt.Errorf("encode %s: %w", action, err)
	}
	if _, err := message.DecodeRequest(c.v, action, raw, ocpp.DecodeOptions{}); err != nil {
		return fmt.Errorf("%s: %w", action, err)
	}
	return nil
}

// call sends a request built by the charger after validating it.
func (c *Charger) call(ctx context.Context, action string, p any) (json.RawMessage, error) {
	if err := c.validate(action, p); err != nil {
		return nil, err
	}
	return c.Station.Call(ctx, action, p)
}
