package serve

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/keyctl/keyctl/pkg/jwk"
)

// header is one prepared response header: a canonical name and a value
// slice shared by every response (net/http only reads it; its capacity is
// its length, so an append elsewhere copies).
type header struct {
	name  string
	value []string
}

// prepared is everything a request is answered from, computed once per
// published version and then only read.
type prepared struct {
	snap    *Snapshot // nil until the first good load
	jwks    []header  // 200 and HEAD
	notMod  []header  // 304
	body    []byte
	etag    string
	health  []byte
	ready   []byte
	disco   []byte // the root discovery document
	discoV1 []byte // the one under /auth/v1
	// The fast path's status lines and headers (see wireHead).
	fastOK, fastNotMod []byte
	// bodyFile holds a body of more than copyLimit bytes for sendfile
	// (Linux); nil otherwise.
	bodyFile *bodyFile
}

func hv(name, value string) header { return header{name, []string{value}[:1:1]} }

func setHeaders(h http.Header, hs []header) {
	for _, x := range hs {
		h[x.name] = x.value
	}
}

// prepare computes the responses for the current state and makes them
// live. Called with mu held (or before the handler is shared).
func (h *Handler) prepare() {
	p := &prepared{snap: h.snap}
	doc := Health{Status: "ok", Source: h.opts.Source, Error: h.failure}
	if s := h.snap; s != nil {
		p.body, p.etag = s.Body, s.ETag
		common := []header{
			hv("Access-Control-Allow-Origin", "*"),
			hv("Cache-Control", h.cacheControl),
			hv("Etag", s.ETag),
			hv("Access-Control-Expose-Headers", "ETag"),
			hv("X-Content-Type-Options", "nosniff"),
		}
		p.notMod = common
		p.jwks = append(append([]header(nil), common...),
			hv("Content-Type", "application/json"),
			hv("Content-Length", strconv.Itoa(len(s.Body))))
		p.fastOK, p.fastNotMod = wireHead(http.StatusOK, p.jwks), wireHead(http.StatusNotModified, p.notMod)
		if len(s.Body) > copyLimit {
			if old := h.live.Load(); old != nil && old.snap == s && old.bodyFile != nil {
				p.bodyFile = old.bodyFile // same body: prepare runs on every reload check
			} else {
				p.bodyFile = newBodyFile(s.Body)
			}
		}
		doc.Keys, doc.ETag, doc.LoadedAt = s.Keys, s.ETag, s.LoadedAt.UTC()
		p.disco = h.discovery(false, s)
		p.discoV1 = h.discovery(true, s)
		p.ready = []byte(`{"status":"ready"}` + "\n")
	} else {
		doc.Status = "loading"
		p.ready = []byte(`{"status":"not ready","error":` + jsonString(h.failure) + "}\n")
	}
	if h.failure != "" && h.snap != nil {
		since := h.failedAt.UTC()
		doc.Status, doc.StaleSince = "stale", &since
	}
	p.health, _ = json.Marshal(doc)
	p.health = append(p.health, '\n')
	if m := h.metrics; m != nil {
		m.observe(h.snap)
	}
	h.live.Store(p)
}

func jsonString(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}

// ServeHTTP routes the paths. Anything else is a JSON 404 in the shape
// Supabase Auth's errors have, so its clients report it readably.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	p := h.live.Load()
	status := 0
	switch r.URL.Path {
	case JWKSPath, SupabaseJWKSPath:
		status = h.serveJWKS(w, r, p)
	case DiscoveryPath:
		status = serveDoc(w, r, p, p.disco, h.cacheControl)
	case SupabaseDiscoveryPath:
		status = serveDoc(w, r, p, p.discoV1, h.cacheControl)
	case HealthPath:
		status = serveSmall(w, r, http.StatusOK, p.health)
	case ReadyPath:
		code := http.StatusOK
		if p.snap == nil {
			code = http.StatusServiceUnavailable
		}
		status = serveSmall(w, r, code, p.ready)
	case MetricsPath:
		if h.metrics != nil {
			status = h.metrics.serve(w, r)
			break
		}
		fallthrough
	default:
		status = writeError(w, http.StatusNotFound, "not_found",
			fmt.Sprintf("no such path: keyctl serve publishes the JWKS at %s and %s", JWKSPath, SupabaseJWKSPath))
	}
	if m := h.metrics; m != nil {
		m.count(r.URL.Path, status)
	}
}

func (h *Handler) serveJWKS(w http.ResponseWriter, r *http.Request, p *prepared) int {
	hdr := w.Header()
	switch r.Method {
	case http.MethodGet, http.MethodHead:
	case http.MethodOptions:
		// A CORS preflight: auth-js in a browser sends custom headers.
		hdr.Set("Access-Control-Allow-Origin", "*")
		hdr.Set("Allow", "GET, HEAD, OPTIONS")
		hdr.Set("Access-Control-Allow-Methods", "GET, HEAD, OPTIONS")
		if req := r.Header.Get("Access-Control-Request-Headers"); req != "" {
			hdr.Set("Access-Control-Allow-Headers", req)
		}
		hdr.Set("Access-Control-Max-Age", "86400")
		w.WriteHeader(http.StatusNoContent)
		return http.StatusNoContent
	default:
		return methodNotAllowed(w, r, "GET, HEAD, OPTIONS")
	}
	if p.snap == nil {
		return notReady(w)
	}
	if inm := r.Header["If-None-Match"]; len(inm) > 0 && noneMatch(strings.Join(inm, ","), p.etag) {
		setHeaders(hdr, p.notMod)
		w.WriteHeader(http.StatusNotModified)
		return http.StatusNotModified
	}
	setHeaders(hdr, p.jwks)
	w.WriteHeader(http.StatusOK)
	if r.Method != http.MethodHead {
		w.Write(p.body)
	}
	return http.StatusOK
}

// serveDoc answers a discovery document, cached like the JWKS.
func serveDoc(w http.ResponseWriter, r *http.Request, p *prepared, body []byte, cacheControl string) int {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		return methodNotAllowed(w, r, "GET, HEAD")
	}
	if p.snap == nil {
		return notReady(w)
	}
	hdr := w.Header()
	hdr.Set("Access-Control-Allow-Origin", "*")
	hdr.Set("Cache-Control", cacheControl)
	hdr.Set("Content-Type", "application/json")
	hdr.Set("Content-Length", strconv.Itoa(len(body)))
	hdr.Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(http.StatusOK)
	if r.Method != http.MethodHead {
		w.Write(body)
	}
	return http.StatusOK
}

// serveSmall answers /healthz and /readyz: never cached.
func serveSmall(w http.ResponseWriter, r *http.Request, code int, body []byte) int {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		return methodNotAllowed(w, r, "GET, HEAD")
	}
	hdr := w.Header()
	hdr.Set("Cache-Control", "no-store")
	hdr.Set("Content-Type", "application/json")
	hdr.Set("Content-Length", strconv.Itoa(len(body)))
	hdr.Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(code)
	if r.Method != http.MethodHead {
		w.Write(body)
	}
	return code
}

func notReady(w http.ResponseWriter) int {
	w.Header().Set("Retry-After", "1")
	return writeError(w, http.StatusServiceUnavailable, "not_ready", "no key set loaded yet: see /healthz")
}

// Health is the /healthz document. Status is "ok"; "stale" when the
// source could not be read on the last attempt and the last good set is
// still served (the response stays 200: verifiers are still being served);
// "loading" before the first good load of a pushed source.
type Health struct {
	Status   string    `json:"status"`
	Source   string    `json:"source"`
	Keys     int       `json:"keys"`
	ETag     string    `json:"etag"`
	LoadedAt time.Time `json:"loaded_at"`
	// StaleSince is when reading the source began to fail.
	StaleSince *time.Time `json:"stale_since,omitempty"`
	Error      string     `json:"error,omitempty"`
}

func methodNotAllowed(w http.ResponseWriter, r *http.Request, allow string) int {
	w.Header().Set("Allow", allow)
	return writeError(w, http.StatusMethodNotAllowed, "method_not_allowed", fmt.Sprintf("method %s not allowed here (allowed: %s)", r.Method, allow))
}

// writeError answers with Supabase Auth's error shape:
// {"code":404,"error_code":"not_found","msg":"..."}.
func writeError(w http.ResponseWriter, status int, code, msg string) int {
	body, _ := json.Marshal(struct {
		Code      int    `json:"code"`
		ErrorCode string `json:"error_code"`
		Msg       string `json:"msg"`
	}{status, code, msg})
	body = append(body, '\n')
	hdr := w.Header()
	hdr.Set("Content-Type", "application/json")
	hdr.Set("Content-Length", strconv.Itoa(len(body)))
	hdr.Set("Cache-Control", "no-store")
	hdr.Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	w.Write(body)
	return status
}

// Discovery is the OpenID Connect discovery document of a verifier-only
// issuer: where its keys are and which algorithms they sign with. keyctl
// serve has no authorization, token or userinfo endpoint, so it announces
// none.
type Discovery struct {
	Issuer  string   `json:"issuer"`
	JWKSURI string   `json:"jwks_uri"`
	Algs    []string `json:"id_token_signing_alg_values_supported"`
}

// SetBaseURL gives the handler the URL it is served at (scheme, host,
// port, no trailing slash), for the discovery documents. Call it before
// serving.
func (h *Handler) SetBaseURL(base string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.base = strings.TrimSuffix(base, "/")
	h.prepare()
}

// Issuer returns the issuer the discovery documents announce at the root
// (v1 false) or under /auth/v1.
func (h *Handler) issuerFor(v1 bool) string {
	if h.issuer != "" {
		return h.issuer
	}
	if v1 {
		return h.base + "/auth/v1"
	}
	return h.base
}

func (h *Handler) discovery(v1 bool, s *Snapshot) []byte {
	iss := h.issuerFor(v1)
	d := Discovery{Issuer: iss, JWKSURI: strings.TrimSuffix(iss, "/") + JWKSPath, Algs: s.Algs}
	if d.Algs == nil {
		d.Algs = []string{}
	}
	body, _ := json.Marshal(d)
	return append(body, '\n')
}

// algs returns the algorithms of the published keys of set, in order of
// first appearance.
func algs(set *jwk.Set) []string {
	var out []string
	if set == nil {
		return out
	}
	for _, k := range set.Keys {
		if k == nil || k.IsSymmetric() {
			continue
		}
		a := string(k.Alg)
		if a == "" {
			continue
		}
		dup := false
		for _, x := range out {
			dup = dup || x == a
		}
		if !dup {
			out = append(out, a)
		}
	}
	return out
}
