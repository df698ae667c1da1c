package tlsconf

import (
	"crypto/x509"
	"encoding/pem"
	"fmt"
)

// nextCert parses the next CERTIFICATE block of rest, skipping other
// blocks; it returns nil when there is none left.
func nextCert(rest []byte) (*x509.Certificate, []byte, error) {
	for {
		var b *pem.Block
		b, rest = pem.Decode(rest)
		if b == nil {
			return nil, nil, nil
		}
		if b.Type != "CERTIFICATE" {
			continue
		}
		c, err := x509.ParseCertificate(b.Bytes)
		if err != nil {
			return nil, nil, fmt.Errorf("parse certificate: %w", err)
		}
		return c, rest, nil
	}
}
