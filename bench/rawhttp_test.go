package main

import (
	"context"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
)

// TestRawClient drives a real net/http server through the bench's raw
// client: fixed-length, chunked and empty bodies, request bodies and
// headers, connection reuse, and a server that closes the connection.
func TestRawClient(t *testing.T) {
	var conns atomic.Int32
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/echo":
			b, _ := io.ReadAll(r.Body)
			w.Header().Set("X-Auth", r.Header.Get("Authorization"))
			w.Header().Set("X-Type", r.Header.Get("Content-Type"))
			w.Write(b)
		case "/chunked":
			w.Write([]byte("first,"))
			w.(http.Flusher).Flush()
			w.Write([]byte(strings.Repeat("x", 10000)))
		case "/empty":
			w.WriteHeader(http.StatusNoContent)
		case "/close":
			w.Header().Set("Connection", "close")
			w.Write([]byte("bye"))
		case "/hangup":
			c, _, _ := w.(http.Hijacker).Hijack()
			c.Close()
		}
	}))
	srv.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		if s == http.StateNew {
			conns.Add(1)
		}
	}
	srv.Start()
	defer srv.Close()
	host, _, ok := splitHTTP(srv.URL + "/x")
	if !ok {
		t.Fatalf("splitHTTP(%q) failed", srv.URL)
	}
	ctx := context.Background()
	rc := newRawClient(nil)
	defer rc.close()

	r, err := rc.do(ctx, "POST", host, "/echo?q=1", "application/json", []byte(`{"a":1}`), "key")
	if err != nil || r.status != 200 || string(r.body) != `{"a":1}` || r.header.Get("X-Auth") != "Bearer key" || r.header.Get("X-Type") != "application/json" {
		t.Fatalf("echo: %+v, %v", r, err)
	}
	r, err = rc.do(ctx, "GET", host, "/chunked", "", nil, "")
	if err != nil || r.status != 200 || len(r.body) != 10006 || !strings.HasPrefix(string(r.body), "first,x") {
		t.Fatalf("chunked: %v, %d bytes", err, len(r.body))
	}
	if r, err = rc.do(ctx, "GET", host, "/empty", "", nil, ""); err != nil || r.status != 204 || len(r.body) != 0 {
		t.Fatalf("empty: %+v, %v", r, err)
	}
	if n := conns.Load(); n != 1 {
		t.Errorf("%d connections for three requests, want 1", n)
	}
	if r, err = rc.do(ctx, "GET", host, "/close", "", nil, ""); err != nil || string(r.body) != "bye" {
		t.Fatalf("close: %+v, %v", r, err)
	}
	if len(rc.conns) != 0 {
		t.Error("connection kept after Connection: close")
	}
	if _, err = rc.do(ctx, "GET", host, "/hangup", "", nil, ""); err == nil {
		t.Fatal("hangup: no error")
	}
	// The next request dials again.
	if r, err = rc.do(ctx, "GET", host, "/empty", "", nil, ""); err != nil || r.status != 204 {
		t.Fatalf("after hangup: %+v, %v", r, err)
	}
	if n := conns.Load(); n != 3 {
		t.Errorf("%d connections, want 3 (first, after close, after hangup)", n)
	}
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := rc.do(cctx, "GET", host, "/empty", "", nil, ""); err == nil {
		t.Error("cancelled context: no error")
	}
}
