package serve

import (
	"crypto/tls"
	"fmt"
	"io/fs"
	"sync"
	"sync/atomic"
	"time"

	"github.com/keyctl/keyctl/internal/safefile"
)

// maxPEMBytes bounds a certificate chain or key file.
const maxPEMBytes = 1 << 20

// certCheckInterval is how often a handshake looks at the certificate
// files for a rotation: at most one pair of stats a second, never per
// request.
const certCheckInterval = time.Second

// KeyFileModeError refuses a TLS private key file that group or others
// can read, as the keyring's 0600 rule does.
type KeyFileModeError struct {
	Path string
	Mode fs.FileMode
}

func (e *KeyFileModeError) Error() string {
	return fmt.Sprintf("TLS key %s is accessible by group or others (mode %04o)", e.Path, e.Mode.Perm())
}

// Hint says how to fix it.
func (e *KeyFileModeError) Hint() string { return "chmod 600 " + e.Path }

// CertReloader hands the TLS stack the certificate pair from two files and
// picks up a new pair when the files change (certificate rotation without
// restart). A pair that fails to load keeps the last good one in use.
type CertReloader struct {
	certPath, keyPath string
	cur               atomic.Pointer[tls.Certificate]
	next              atomic.Int64 // unix nanoseconds of the next check
	now               func() time.Time
	onReload          func(error) // nil, or told of every reload attempt

	mu   sync.Mutex
	seen [2]stamp
}

// NewCertReloader loads the pair once; it must load.
func NewCertReloader(certPath, keyPath string, onReload func(error)) (*CertReloader, error) {
	c := &CertReloader{certPath: certPath, keyPath: keyPath, now: time.Now, onReload: onReload}
	if err := c.load(); err != nil {
		return nil, err
	}
	return c, nil
}

// load reads and checks both files. Called with mu held (or before sharing).
func (c *CertReloader) load() error {
	cs, err := statStamp(c.certPath)
	if err != nil {
		return err
	}
	ks, err := statStamp(c.keyPath)
	if err != nil {
		return err
	}
	c.seen = [2]stamp{cs, ks}
	certPEM, err := safefile.ReadFile(c.certPath, maxPEMBytes, safefile.Policy{What: "TLS certificate"})
	if err != nil {
		return err
	}
	f, fi, err := safefile.Open(c.keyPath, safefile.Trusted("TLS key"))
	if err != nil {
		return err
	}
	f.Close()
	if fi.Mode().Perm()&0o077 != 0 {
		return &KeyFileModeError{Path: c.keyPath, Mode: fi.Mode()}
	}
	keyPEM, err := safefile.ReadFile(c.keyPath, maxPEMBytes, safefile.Trusted("TLS key"))
	if err != nil {
		return err
	}
	pair, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		return fmt.Errorf("TLS certificate %s and key %s: %v", c.certPath, c.keyPath, err)
	}
	c.cur.Store(&pair)
	return nil
}

// Reload re-reads the pair if either file changed since the last attempt.
func (c *CertReloader) Reload() {
	c.mu.Lock()
	defer c.mu.Unlock()
	cs, err1 := statStamp(c.certPath)
	ks, err2 := statStamp(c.keyPath)
	if err1 == nil && err2 == nil && c.seen == [2]stamp{cs, ks} {
		return
	}
	err := c.load()
	if c.onReload != nil {
		c.onReload(err)
	}
}

// GetCertificate is tls.Config.GetCertificate: the cached pair, checked
// for a rotation at most once a certCheckInterval.
func (c *CertReloader) GetCertificate(*tls.ClientHelloInfo) (*tls.Certificate, error) {
	now := c.now().UnixNano()
	if n := c.next.Load(); now >= n && c.next.CompareAndSwap(n, now+int64(certCheckInterval)) {
		c.Reload()
	}
	return c.cur.Load(), nil
}

// TLSConfig returns a server configuration with Go's defaults from TLS 1.2
// up, serving c's pair.
func (c *CertReloader) TLSConfig() *tls.Config {
	return &tls.Config{MinVersion: tls.VersionTLS12, GetCertificate: c.GetCertificate}
}
