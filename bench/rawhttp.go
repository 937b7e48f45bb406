package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// rawClient is a minimal HTTP/1.1 client for one VU's API requests: one
// persistent connection per node, each request written and its response
// read by the calling goroutine.
//
// net/http's Transport runs a reader and a writer goroutine per connection
// and passes every request and response between them and the caller, which
// costs about three goroutine wake-ups per request. On two shared vCPUs
// that is CPU the server under test does not get, so API requests (JSON,
// no cookies, no redirects) go through this instead; browser flows keep
// net/http. It speaks plain http:// only (the bench's own servers); other
// URLs go through net/http.
type rawClient struct {
	conns map[string]*rawConn // by host:port
	req   []byte              // request buffer, reused
	local net.IP              // source address, or nil
}

type rawConn struct {
	c net.Conn
	r *bufio.Reader
}

func newRawClient(local net.IP) *rawClient {
	return &rawClient{conns: map[string]*rawConn{}, local: local}
}

// splitHTTP splits an http:// URL into host:port and the request target.
func splitHTTP(u string) (host, target string, ok bool) {
	rest, ok := strings.CutPrefix(u, "http://")
	if !ok {
		return "", "", false
	}
	host, path, found := strings.Cut(rest, "/")
	if found {
		target = "/" + path
	} else {
		target = "/"
	}
	return host, target, host != ""
}

// do sends one request and reads the whole response. A connection that
// fails is closed, and the next request dials a new one; a request is never
// retried, since a refresh or code exchange must not be sent twice.
func (rc *rawClient) do(ctx context.Context, method, host, target, ctype string, body []byte, bearer string) (*response, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	cn := rc.conns[host]
	if cn == nil {
		d := net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second}
		if rc.local != nil {
			d.LocalAddr = &net.TCPAddr{IP: rc.local}
		}
		c, err := d.DialContext(ctx, "tcp", host)
		if err != nil {
			return nil, err
		}
		cn = &rawConn{c: c, r: bufio.NewReaderSize(c, 16<<10)}
		rc.conns[host] = cn
	}
	// The phase's end cancels ctx: unblock the read, as net/http would.
	stop := context.AfterFunc(ctx, func() { cn.c.SetDeadline(time.Unix(1, 0)) })
	defer stop()
	cn.c.SetDeadline(time.Now().Add(requestTimeout))

	b := rc.req[:0]
	b = append(b, method...)
	b = append(b, ' ')
	b = append(b, target...)
	b = append(b, " HTTP/1.1\r\nHost: "...)
	b = append(b, host...)
	b = append(b, "\r\nUser-Agent: gatehouse-bench\r\n"...)
	if ctype != "" {
		b = append(b, "Content-Type: "...)
		b = append(b, ctype...)
		b = append(b, "\r\n"...)
	}
	if body != nil || method == "POST" {
		b = append(b, "Content-Length: "...)
		b = strconv.AppendInt(b, int64(len(body)), 10)
		b = append(b, "\r\n"...)
	}
	if bearer != "" {
		b = append(b, "Authorization: Bearer "...)
		b = append(b, bearer...)
		b = append(b, "\r\n"...)
	}
	b = append(b, "\r\n"...)
	b = append(b, body...)
	rc.req = b

	res, keep, err := rc.roundTrip(cn, b, method == "HEAD")
	if err != nil || !keep {
		cn.c.Close()
		delete(rc.conns, host)
	}
	if err != nil && ctx.Err() != nil {
		err = ctx.Err()
	}
	return res, err
}

func (rc *rawClient) roundTrip(cn *rawConn, req []byte, head bool) (res *response, keep bool, err error) {
	if _, err := cn.c.Write(req); err != nil {
		return nil, false, err
	}
	line, err := readLine(cn.r)
	if err != nil {
		return nil, false, err
	}
	// "HTTP/1.1 200 OK"
	proto, rest, _ := strings.Cut(line, " ")
	code, _, _ := strings.Cut(rest, " ")
	status, err := strconv.Atoi(code)
	if !strings.HasPrefix(proto, "HTTP/1.") || err != nil || status < 100 || status > 999 {
		return nil, false, fmt.Errorf("malformed status line %q", line)
	}
	res = &response{status: status, header: http.Header{}}
	length, chunked := int64(-1), false
	keep = proto == "HTTP/1.1"
	for {
		line, err := readLine(cn.r)
		if err != nil {
			return nil, false, err
		}
		if line == "" {
			break
		}
		k, v, ok := strings.Cut(line, ":")
		if !ok {
			return nil, false, fmt.Errorf("malformed header line %q", line)
		}
		k, v = http.CanonicalHeaderKey(strings.TrimSpace(k)), strings.TrimSpace(v)
		res.header.Add(k, v)
		switch k {
		case "Content-Length":
			if length, err = strconv.ParseInt(v, 10, 64); err != nil || length < 0 {
				return nil, false, fmt.Errorf("malformed Content-Length %q", v)
			}
		case "Transfer-Encoding":
			chunked = strings.EqualFold(v, "chunked")
		case "Connection":
			keep = keep && !strings.EqualFold(v, "close")
		}
	}
	switch {
	case head || status == http.StatusNoContent || status == http.StatusNotModified || status < 200:
	case chunked:
		res.body, err = readChunked(cn.r)
	case length >= 0:
		res.body = make([]byte, length)
		_, err = io.ReadFull(cn.r, res.body)
	default:
		// No length: the body runs to the end of the connection.
		res.body, err = io.ReadAll(cn.r)
		keep = false
	}
	if err != nil {
		return nil, false, err
	}
	return res, keep, nil
}

// readLine reads one CRLF-terminated line, without the CRLF.
func readLine(r *bufio.Reader) (string, error) {
	b, err := r.ReadSlice('\n')
	if err != nil {
		if errors.Is(err, bufio.ErrBufferFull) {
			return "", errors.New("response line too long")
		}
		return "", err
	}
	return string(bytes.TrimRight(b, "\r\n")), nil
}

// readChunked reads a chunked body and its (ignored) trailer.
func readChunked(r *bufio.Reader) ([]byte, error) {
	var body []byte
	for {
		line, err := readLine(r)
		if err != nil {
			return nil, err
		}
		size, _, _ := strings.Cut(line, ";")
		n, err := strconv.ParseInt(strings.TrimSpace(size), 16, 64)
		if err != nil || n < 0 || n > 64<<20 {
			return nil, fmt.Errorf("malformed chunk size %q", line)
		}
		if n == 0 {
			for {
				line, err := readLine(r)
				if err != nil || line == "" {
					return body, err
				}
			}
		}
		start := len(body)
		body = append(body, make([]byte, n)...)
		if _, err := io.ReadFull(r, body[start:]); err != nil {
			return nil, err
		}
		if line, err := readLine(r); err != nil || line != "" {
			return nil, fmt.Errorf("chunk not followed by CRLF")
		}
	}
}

// close closes every connection.
func (rc *rawClient) close() {
	for host, cn := range rc.conns {
		cn.c.Close()
		delete(rc.conns, host)
	}
}
