package main

import (
	"bufio"
	"bytes"
	"cmp"
	"encoding/json"
	"io"
	"os"
	"slices"
	"strings"
	"time"
)

// RouteLatency is one route's latency as the server measured it: from its
// access log, the time from when the request reached the handler chain to
// when the handler returned, for the requests that began and ended inside
// the measured window. Set beside the bench's own latency, which also
// counts the network, the server's accept and read, and the bench's own
// queue, it tells a slow server from a slow load generator: a BENCH-LIMITED
// or OVERDRIVEN mark says the bench's figures were spoiled, and this says
// whether the server's were too.
type RouteLatency struct {
	Route string  `json:"route"`
	Count int     `json:"count"`
	P50Ms float64 `json:"p50_ms"`
	P99Ms float64 `json:"p99_ms"`
	MaxMs float64 `json:"max_ms"`
}

// logMarks are the sizes of the node logs when a window opened, so that
// reading them afterwards starts there.
type logMarks []int64

func markLogs(paths []string) logMarks {
	m := make(logMarks, len(paths))
	for i, p := range paths {
		if st, err := os.Stat(p); err == nil {
			m[i] = st.Size()
		}
	}
	return m
}

// accessLine is the part of a server log line the bench reads: the
// request lines written by the server's observe middleware.
type accessLine struct {
	Time     time.Time     `json:"time"`
	Msg      string        `json:"msg"`
	Route    string        `json:"route"`
	Duration time.Duration `json:"duration"`
}

// serverLatency reads the node logs from marks on and sums up, per route,
// the requests that began at or after start and ended by end. It returns
// nil when the logs hold no request lines (a log level above info, or
// servers the bench did not start).
func serverLatency(paths []string, marks logMarks, start, end time.Time) []RouteLatency {
	byRoute := map[string][]time.Duration{}
	for i, p := range paths {
		f, err := os.Open(p)
		if err != nil {
			continue
		}
		if i < len(marks) {
			f.Seek(marks[i], io.SeekStart)
		}
		readAccessLines(f, start, end, byRoute)
		f.Close()
	}
	if len(byRoute) == 0 {
		return nil
	}
	out := make([]RouteLatency, 0, len(byRoute))
	for route, ds := range byRoute {
		slices.Sort(ds)
		out = append(out, RouteLatency{Route: route, Count: len(ds),
			P50Ms: ms(quantile(ds, 0.50)), P99Ms: ms(quantile(ds, 0.99)), MaxMs: ms(ds[len(ds)-1])})
	}
	slices.SortFunc(out, func(a, b RouteLatency) int {
		return cmp.Or(b.Count-a.Count, strings.Compare(a.Route, b.Route))
	})
	return out
}

// readAccessLines adds the durations of r's request lines that lie within
// [start, end] to byRoute. Other lines, lines cut short and lines longer
// than the reader's buffer (a request line is a few hundred bytes) are
// skipped.
func readAccessLines(r io.Reader, start, end time.Time, byRoute map[string][]time.Duration) {
	br := bufio.NewReaderSize(r, 64<<10)
	want := []byte(`"msg":"request"`)
	for {
		b, err := br.ReadSlice('\n')
		if err == bufio.ErrBufferFull {
			for err == bufio.ErrBufferFull {
				_, err = br.ReadSlice('\n')
			}
			b = nil
		}
		if bytes.Contains(b, want) {
			var l accessLine
			if json.Unmarshal(b, &l) == nil && l.Msg == "request" && l.Route != "" &&
				!l.Time.After(end) && !l.Time.Add(-l.Duration).Before(start) {
				byRoute[l.Route] = append(byRoute[l.Route], l.Duration)
			}
		}
		if err != nil {
			return
		}
	}
}
