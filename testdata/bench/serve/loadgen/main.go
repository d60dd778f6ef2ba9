// Command loadgen is make bench-serve's load generator: N keep-alive
// connections, each sending GET requests back to back for a fixed
// duration, then req/s and latency percentiles on one line. It speaks
// just enough HTTP/1.1 for a JWKS endpoint (Content-Length bodies), so the
// client costs little CPU next to the server on a 2-core machine.
package main

import (
	"bufio"
	"flag"
	"fmt"
	"io"
	"net"
	"net/textproto"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
)

func main() {
	conns := flag.Int("c", 50, "connections")
	dur := flag.Duration("d", 5*time.Second, "duration (at most 8s)")
	addr := flag.String("addr", "127.0.0.1:8080", "HOST:PORT")
	path := flag.String("path", "/.well-known/jwks.json", "request path")
	flag.Parse()
	if *dur > 8*time.Second {
		*dur = 8 * time.Second
	}
	req := []byte("GET " + *path + " HTTP/1.1\r\nHost: " + *addr + "\r\nUser-Agent: keyctl-loadgen\r\nAccept: */*\r\n\r\n")
	deadline := time.Now().Add(*dur)
	var mu sync.Mutex
	var all []time.Duration
	var errs, non200 int
	var wg sync.WaitGroup
	for range *conns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			lat := make([]time.Duration, 0, 1<<16)
			e, bad := run(*addr, req, deadline, &lat)
			mu.Lock()
			all = append(all, lat...)
			errs += e
			non200 += bad
			mu.Unlock()
		}()
	}
	wg.Wait()
	if len(all) == 0 {
		fmt.Fprintln(os.Stderr, "loadgen: no request succeeded")
		os.Exit(1)
	}
	slices.Sort(all)
	pct := func(p float64) time.Duration { return all[min(len(all)-1, int(float64(len(all))*p))] }
	fmt.Printf("requests=%d rps=%.0f p50_ms=%.3f p99_ms=%.3f errors=%d non200=%d\n",
		len(all), float64(len(all))/dur.Seconds(), ms(pct(0.50)), ms(pct(0.99)), errs, non200)
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// run drives one connection until deadline, reconnecting after an error.
func run(addr string, req []byte, deadline time.Time, lat *[]time.Duration) (errs, non200 int) {
	for time.Now().Before(deadline) {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			errs++
			time.Sleep(10 * time.Millisecond)
			continue
		}
		c.SetDeadline(deadline.Add(2 * time.Second))
		r := textproto.NewReader(bufio.NewReaderSize(c, 64<<10))
		for time.Now().Before(deadline) {
			start := time.Now()
			if _, err := c.Write(req); err != nil {
				errs++
				break
			}
			status, err := readResponse(r)
			if err != nil {
				errs++
				break
			}
			*lat = append(*lat, time.Since(start))
			if status != 200 {
				non200++
			}
		}
		c.Close()
	}
	return errs, non200
}

func readResponse(r *textproto.Reader) (int, error) {
	line, err := r.ReadLine()
	if err != nil {
		return 0, err
	}
	f := strings.Fields(line)
	if len(f) < 2 {
		return 0, fmt.Errorf("bad status line %q", line)
	}
	status, _ := strconv.Atoi(f[1])
	h, err := r.ReadMIMEHeader()
	if err != nil {
		return 0, err
	}
	n, err := strconv.Atoi(h.Get("Content-Length"))
	if err != nil {
		return 0, fmt.Errorf("no Content-Length")
	}
	_, err = io.CopyN(io.Discard, r.R, int64(n))
	return status, err
}
