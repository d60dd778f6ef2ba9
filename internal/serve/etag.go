package serve

import "strings"

// noneMatch reports whether an If-None-Match header value matches etag, so
// the server answers 304 Not Modified (RFC 9110 section 13.1.2). The value
// is "*" or a comma-separated list of entity tags, each optionally weak
// (W/"..."); If-None-Match uses the weak comparison, so W/"x" matches "x".
// A malformed value matches nothing: the client then gets the full body,
// which is always safe.
func noneMatch(header, etag string) bool {
	want, ok := opaqueTag(etag)
	if !ok {
		return false
	}
	tags, ok := parseETagList(header)
	if !ok {
		return false
	}
	for _, t := range tags {
		if t == "*" || t == want {
			return true
		}
	}
	return false
}

// opaqueTag strips an optional W/ prefix and returns the quoted tag.
func opaqueTag(etag string) (string, bool) {
	etag = strings.TrimPrefix(etag, "W/")
	if len(etag) < 2 || etag[0] != '"' || etag[len(etag)-1] != '"' {
		return "", false
	}
	for i := 1; i < len(etag)-1; i++ {
		if !isETagChar(etag[i]) {
			return "", false
		}
	}
	return etag, true
}

// parseETagList splits an If-None-Match value into its opaque tags (quotes
// kept, W/ dropped), or ["*"]. It reports false for a malformed value.
func parseETagList(s string) ([]string, bool) {
	s = strings.Trim(s, " \t")
	if s == "*" {
		return []string{"*"}, true
	}
	var tags []string
	for {
		s = strings.TrimLeft(s, " \t")
		if s == "" {
			break
		}
		if s[0] == ',' {
			// Empty list elements are allowed (RFC 9110 section 5.6.1).
			s = s[1:]
			continue
		}
		s = strings.TrimPrefix(s, "W/")
		if s == "" || s[0] != '"' {
			return nil, false
		}
		end := 1
		for end < len(s) && s[end] != '"' {
			if !isETagChar(s[end]) {
				return nil, false
			}
			end++
		}
		if end == len(s) {
			return nil, false
		}
		tags = append(tags, s[:end+1])
		s = strings.TrimLeft(s[end+1:], " \t")
		if s != "" && s[0] != ',' {
			return nil, false
		}
	}
	return tags, len(tags) > 0
}

// isETagChar is RFC 9110's etagc: any visible character but the double
// quote, or obs-text.
func isETagChar(c byte) bool {
	return c == 0x21 || (c >= 0x23 && c <= 0x7e) || c >= 0x80
}
