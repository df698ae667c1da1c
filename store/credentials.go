package store

import (
	"context"
	"time"
)

// Credentials is what authenticates a station under the OCPP security
// profiles: the HTTP Basic password of profiles 1 and 2 (as a salted hash,
// never the password itself) and the certificate identity of profile 3.
type Credentials struct {
	ChargePointID string
	// PasswordHash is the hash of the station's current Basic password in
	// the PHC string format of package auth ("$argon2id$…"); "" when the
	// station has none.
	PasswordHash string
	// PendingHash is the hash of a new password the CSMS sent the station
	// (ChangeConfiguration AuthorizationKey / SetVariables
	// BasicAuthPassword) and the station has not confirmed yet; both are
	// accepted until ResolvePendingPassword. "" when none.
	PendingHash  string
	PendingSince time.Time
	// SerialNumber is what the CN of the station's client certificate must
	// be under profile 3 (1.6 security whitepaper / 2.0.1 A00.FR.405:
	// the CN contains the station's unique serial number); "" means the
	// station id.
	SerialNumber string
	// SecurityProfile is the lowest OCPP security profile (0–3) the
	// station may connect with: the highest it has connected with (1.6
	// security whitepaper A05.FR.09, 2.0.1 A05.FR.07: no connection with a
	// lower profile afterwards), or what an operator set.
	SecurityProfile int
	UpdatedAt       time.Time
}

// StationCredentials stores the stations' credentials. A registered station
// has no credentials until one of the setters is called.
type StationCredentials interface {
	// GetCredentials returns the station's credentials; a registered
	// station without any gives Credentials with only ChargePointID set.
	// ENOTFOUND for an unknown station.
	GetCredentials(ctx context.Context, id string) (Credentials, error)
	// SetPassword makes hash the station's current password hash and
	// drops any pending one; "" removes the password. ENOTFOUND for an
	// unknown station.
	SetPassword(ctx context.Context, id, hash string, at time.Time) error
	// SetPendingPassword records hash as the password being sent to the
	// station, replacing an earlier pending one. ENOTFOUND for an unknown
	// station.
	SetPendingPassword(ctx context.Context, id, hash string, at time.Time) error
	// ResolvePendingPassword ends a rotation once the station answered:
	// accepted makes the pending hash the current one (and the old
	// password stops working, 1.6 whitepaper A01.FR.03), otherwise the
	// pending hash is dropped and the old password stays (A01.FR.04). It
	// applies only while the pending hash is still hash: ECONFLICT
	// otherwise (a later rotation replaced it, or it was resolved).
	// ENOTFOUND for an unknown station.
	ResolvePendingPassword(ctx context.Context, id, hash string, accepted bool, at time.Time) error
	// SetSerialNumber sets the certificate CN expected of the station
	// under profile 3; "" means the station id. ENOTFOUND for an unknown
	// station.
	SetSerialNumber(ctx context.Context, id, serial string, at time.Time) error
	// RaiseSecurityProfile records that the station connected with
	// profile: its SecurityProfile becomes profile if that is higher, and
	// raised reports whether it did. ENOTFOUND for an unknown station.
	RaiseSecurityProfile(ctx context.Context, id string, profile int, at time.Time) (raised bool, err error)
	// SetSecurityProfile sets the station's SecurityProfile (0–3) to
	// profile, higher or lower: an operator's decision, e.g. to let a
	// station that lost its certificate connect with a password again.
	// EINVALID outside 0–3, ENOTFOUND for an unknown station.
	SetSecurityProfile(ctx context.Context, id string, profile int, at time.Time) error
}

// Certificate is a certificate the CSMS's CA issued to a station
// (SignCertificate → CertificateSigned).
type Certificate struct {
	// SerialNumber is the certificate's serial number in lower-case hex;
	// unique.
	SerialNumber  string
	ChargePointID string
	// Use is the OCPP certificate type: ChargingStationCertificate or
	// V2GCertificate.
	Use       string
	Subject   string
	NotBefore time.Time
	NotAfter  time.Time
	// PEM is the issued certificate chain, leaf first.
	PEM      string
	IssuedAt time.Time
}

// Certificates keeps the certificates issued to stations.
type Certificates interface {
	// AddCertificate stores an issued certificate. ENOTFOUND for an
	// unknown station, ECONFLICT for a serial number stored already.
	AddCertificate(ctx context.Context, c Certificate) error
	// ListCertificates returns the certificates issued to the station,
	// newest first (IssuedAt, then serial number).
	ListCertificates(ctx context.Context, id string) ([]Certificate, error)
}

// SecurityEvent is one SecurityEventNotification of a station (2.x, and
// the 1.6 security extension), or a security event the CSMS recorded
// about it.
type SecurityEvent struct {
	ChargePointID string
	// Type is the event type, e.g. "FirmwareUpdated",
	// "InvalidCentralSystemCertificate", or one of the CSMS's own such as
	// "InvalidChargingStationCredentials".
	Type string
	// TechInfo is the station's additional technical information.
	TechInfo string
	// Timestamp is when the event happened, as reported.
	Timestamp  time.Time
	ReceivedAt time.Time
}

// SecurityEvents keeps the stations' security event log.
type SecurityEvents interface {
	// AddSecurityEvent appends ev to the station's log. ENOTFOUND for an
	// unknown station.
	AddSecurityEvent(ctx context.Context, ev SecurityEvent) error
	// ListSecurityEvents returns up to limit events of the station, newest
	// first (Timestamp, then arrival); limit ≤ 0 means no limit.
	ListSecurityEvents(ctx context.Context, id string, limit int) ([]SecurityEvent, error)
}

// CertificateHash identifies a certificate as OCPP does
// (CertificateHashDataType of 2.x and the 1.6 security extension).
type CertificateHash struct {
	HashAlgorithm  string `json:"hashAlgorithm"` // SHA256, SHA384 or SHA512
	IssuerNameHash string `json:"issuerNameHash"`
	// IssuerKeyHash is "" when unknown: a certificate recorded from an
	// InstallCertificate whose issuer the CSMS does not have.
	IssuerKeyHash string `json:"issuerKeyHash"`
	SerialNumber  string `json:"serialNumber"`
}

// InstalledCertificate is a certificate installed on a station, as it
// reported in GetInstalledCertificateIds or accepted in InstallCertificate.
type InstalledCertificate struct {
	ChargePointID string `json:"-"`
	// Type is the OCPP certificate type, e.g. CSMSRootCertificate,
	// V2GCertificateChain (2.x), CentralSystemRootCertificate (1.6).
	Type string `json:"certificateType"`
	CertificateHash
	// Children are the hash data of a V2GCertificateChain's
	// sub-certificates (2.x childCertificateHashData), in order.
	Children  []CertificateHash `json:"childCertificateHashData,omitempty"`
	UpdatedAt time.Time         `json:"updatedAt"`
}

// InstalledCertificates keeps what the stations report installed (OCPP
// 2.x M03–M05, 1.6 security extension), so that an operator can see it
// without asking the station.
type InstalledCertificates interface {
	// ReplaceInstalledCertificates records an answer to
	// GetInstalledCertificateIds: the station's certificates of the given
	// types (every type when types is empty) become exactly certs, whose
	// ChargePointID is ignored. ENOTFOUND for an unknown station.
	ReplaceInstalledCertificates(ctx context.Context, id string, types []string, certs []InstalledCertificate, at time.Time) error
	// PutInstalledCertificate records a certificate the station accepted
	// (InstallCertificate), replacing one of the same type and hash data.
	// ENOTFOUND for an unknown station.
	PutInstalledCertificate(ctx context.Context, c InstalledCertificate) error
	// DeleteInstalledCertificate removes the station's certificates with
	// h's hash algorithm, issuer name hash and serial number (the issuer
	// key hash may be unknown in the store), of any type (DeleteCertificate
	// accepted). Removing none is not an error; ENOTFOUND for an unknown
	// station.
	DeleteInstalledCertificate(ctx context.Context, id string, h CertificateHash) error
	// ListInstalledCertificates returns the station's installed
	// certificates ordered by type, then serial number. ENOTFOUND for an
	// unknown station.
	ListInstalledCertificates(ctx context.Context, id string) ([]InstalledCertificate, error)
}

// Security groups what the security features persist (store/credentials.go).
type Security interface {
	StationCredentials
	Certificates
	SecurityEvents
	InstalledCertificates
}
