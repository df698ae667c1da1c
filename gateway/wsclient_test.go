package gateway

import (
	"bufio"
	"crypto/rand"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"
)

// wsClient is a minimal WebSocket client playing the charge point. It is
// raw on purpose: tests need to send what a well-behaved library would
// refuse (binary and invalid UTF-8 frames, oversized frames), to see a
// handshake without subprotocol, and to decide whether to answer pings.
type wsClient struct {
	t        testing.TB
	conn     net.Conn
	br       *bufio.Reader
	resp     *http.Response
	Protocol string // negotiated subprotocol ("" when none)

	// AutoPong makes next() answer pings (echoing the payload) instead
	// of returning them. Default true.
	AutoPong bool
	wmu      sync.Mutex
}

// wsFrame is one frame read from the server.
type wsFrame struct {
	Op      byte
	Payload []byte
}

const (
	opText   = 0x1
	opBinary = 0x2
	opClose  = 0x8
	opPing   = 0x9
	opPong   = 0xA
)

// waitLimit only keeps a broken test from hanging; no assertion depends
// on it.
const waitLimit = 10 * time.Second

// dialRaw performs the opening handshake for path on addr (host:port),
// offering the given Sec-WebSocket-Protocol header lines. A non-101 answer
// is returned as resp with a nil client.
func dialRaw(t testing.TB, addr, path string, protocols ...string) (*wsClient, *http.Response, error) {
	t.Helper()
	return dialHeader(t, addr, path, http.Header{"Sec-WebSocket-Protocol": protocols})
}

// dialHeader is dialRaw with any extra request header lines (each value
// of h is one line, in order).
func dialHeader(t testing.TB, addr, path string, h http.Header) (*wsClient, *http.Response, error) {
	t.Helper()
	conn, err := net.DialTimeout("tcp", addr, waitLimit)
	if err != nil {
		return nil, nil, err
	}
	var key [16]byte
	_, _ = rand.Read(key[:])
	var req strings.Builder
	fmt.Fprintf(&req, "GET %s HTTP/1.1\r\nHost: %s\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n", path, addr)
	fmt.Fprintf(&req, "Sec-WebSocket-Key: %s\r\nSec-WebSocket-Version: 13\r\n", base64.StdEncoding.EncodeToString(key[:]))
	for k, vs := range h {
		for _, v := range vs {
			fmt.Fprintf(&req, "%s: %s\r\n", k, v)
		}
	}
	req.WriteString("\r\n")
	_ = conn.SetDeadline(time.Now().Add(waitLimit))
	if _, err := io.WriteString(conn, req.String()); err != nil {
		conn.Close()
		return nil, nil, err
	}
	br := bufio.NewReader(conn)
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		conn.Close()
		return nil, nil, err
	}
	if resp.StatusCode != http.StatusSwitchingProtocols {
		body, _ := io.ReadAll(resp.Body)
		resp.Body = io.NopCloser(strings.NewReader(string(body)))
		conn.Close()
		return nil, resp, nil
	}
	c := &wsClient{t: t, conn: conn, br: br, resp: resp, AutoPong: true,
		Protocol: resp.Header.Get("Sec-WebSocket-Protocol")}
	t.Cleanup(func() { c.conn.Close() })
	return c, resp, nil
}

// dial connects and fails the test unless the upgrade succeeds.
func dial(t testing.TB, addr, path string, protocols ...string) *wsClient {
	t.Helper()
	c, resp, err := dialRaw(t, addr, path, protocols...)
	if err != nil {
		t.Fatalf("dial %s: %v", path, err)
	}
	if c == nil {
		body, _ := io.ReadAll(resp.Body)
		t.Fatalf("dial %s: status %d: %s", path, resp.StatusCode, body)
	}
	return c
}

// writeFrame writes one masked frame.
func (c *wsClient) writeFrame(op byte, payload []byte) error {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	hdr := []byte{0x80 | op}
	n := len(payload)
	switch {
	case n < 126:
		hdr = append(hdr, 0x80|byte(n))
	case n <= 0xFFFF:
		hdr = append(hdr, 0x80|126, byte(n>>8), byte(n))
	default:
		hdr = append(hdr, 0x80|127)
		hdr = binary.BigEndian.AppendUint64(hdr, uint64(n))
	}
	var mask [4]byte
	_, _ = rand.Read(mask[:])
	hdr = append(hdr, mask[:]...)
	buf := make([]byte, len(hdr)+n)
	copy(buf, hdr)
	for i, b := range payload {
		buf[len(hdr)+i] = b ^ mask[i%4]
	}
	_ = c.conn.SetWriteDeadline(time.Now().Add(waitLimit))
	_, err := c.conn.Write(buf)
	return err
}

// Send writes a text frame and fails the test on error.
func (c *wsClient) Send(s string) {
	c.t.Helper()
	if err := c.writeFrame(opText, []byte(s)); err != nil {
		c.t.Fatalf("send %q: %v", s, err)
	}
}

// CloseWith sends a close frame.
func (c *wsClient) CloseWith(code uint16, reason string) {
	p := binary.BigEndian.AppendUint16(nil, code)
	_ = c.writeFrame(opClose, append(p, reason...))
}

// readFrame reads one server frame (unmasked, unfragmented).
func (c *wsClient) readFrame() (wsFrame, error) {
	_ = c.conn.SetReadDeadline(time.Now().Add(waitLimit))
	var h [2]byte
	if _, err := io.ReadFull(c.br, h[:]); err != nil {
		return wsFrame{}, err
	}
	if h[1]&0x80 != 0 {
		return wsFrame{}, errors.New("server frame is masked")
	}
	n := uint64(h[1] & 0x7F)
	switch n {
	case 126:
		var b [2]byte
		if _, err := io.ReadFull(c.br, b[:]); err != nil {
			return wsFrame{}, err
		}
		n = uint64(binary.BigEndian.Uint16(b[:]))
	case 127:
		var b [8]byte
		if _, err := io.ReadFull(c.br, b[:]); err != nil {
			return wsFrame{}, err
		}
		n = binary.BigEndian.Uint64(b[:])
	}
	p := make([]byte, n)
	if _, err := io.ReadFull(c.br, p); err != nil {
		return wsFrame{}, err
	}
	return wsFrame{Op: h[0] & 0x0F, Payload: p}, nil
}

// next returns the next frame, answering pings when AutoPong is set.
func (c *wsClient) next() (wsFrame, error) {
	for {
		f, err := c.readFrame()
		if err != nil {
			return f, err
		}
		if f.Op == opPing && c.AutoPong {
			if err := c.writeFrame(opPong, f.Payload); err != nil {
				return f, err
			}
			continue
		}
		return f, nil
	}
}

// ExpectText returns the next frame, which must be a text frame.
func (c *wsClient) ExpectText() string {
	c.t.Helper()
	f, err := c.next()
	if err != nil {
		c.t.Fatalf("read text frame: %v", err)
	}
	if f.Op != opText {
		c.t.Fatalf("got frame op %d (%q), want a text frame", f.Op, describeFrame(f))
	}
	return string(f.Payload)
}

// ExpectClose reads until a close frame and returns its code and reason.
func (c *wsClient) ExpectClose() (int, string) {
	c.t.Helper()
	for {
		f, err := c.next()
		if err != nil {
			c.t.Fatalf("waiting for a close frame: %v", err)
		}
		if f.Op == opClose {
			if len(f.Payload) < 2 {
				return 0, ""
			}
			return int(binary.BigEndian.Uint16(f.Payload)), string(f.Payload[2:])
		}
		if f.Op == opText {
			c.t.Logf("text frame before close: %s", f.Payload)
		}
	}
}

func describeFrame(f wsFrame) string {
	if f.Op == opClose && len(f.Payload) >= 2 {
		return fmt.Sprintf("close %d %s", binary.BigEndian.Uint16(f.Payload), f.Payload[2:])
	}
	return string(f.Payload)
}
