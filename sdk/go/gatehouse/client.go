package gatehouse

import (
	"bytes"
	"context"
	crand "crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/url"
	"os"
	"strings"
	"time"
)

// Version is the SDK's version, sent in the User-Agent header.
const Version = "0.1.0"

// Defaults of the client's options.
const (
	DefaultTimeout    = 30 * time.Second
	DefaultMaxRetries = 3
)

// Bounds of the retry backoff.
const (
	backoffBase   = 500 * time.Millisecond
	backoffMax    = 8 * time.Second
	retryAfterMax = 30 * time.Second
	maxBodyBytes  = 16 << 20
)

// The environment variables NewClientFromEnv reads.
const (
	EnvURL      = "GATEHOUSE_URL"
	EnvAPIKey   = "WORKOS_API_KEY"
	EnvClientID = "WORKOS_CLIENT_ID"
)

// Client calls a Gatehouse server's API for one environment. It is safe for
// concurrent use; make one per process and share it.
type Client struct {
	baseURL    string
	apiKey     string
	clientID   string
	httpClient *http.Client
	timeout    time.Duration
	maxRetries int
	userAgent  string
	// sleep waits between attempts; tests replace it.
	sleep func(ctx context.Context, d time.Duration) error
}

// Option configures a Client.
type Option func(*Client)

// WithHTTPClient makes the client send requests with hc (default: a
// client of its own with http.DefaultTransport). Its Timeout, if set,
// bounds each attempt in addition to WithTimeout.
func WithHTTPClient(hc *http.Client) Option {
	return func(c *Client) {
		if hc != nil {
			c.httpClient = hc
		}
	}
}

// WithTimeout bounds each attempt of a request, including reading the
// response (default 30 s). The context passed to a call bounds the whole
// call, retries included.
func WithTimeout(d time.Duration) Option {
	return func(c *Client) {
		if d > 0 {
			c.timeout = d
		}
	}
}

// WithMaxRetries sets how many times a failed request is retried (default
// 3; 0 disables retries). Only network failures and 429, 500, 502, 503 and
// 504 responses are retried.
func WithMaxRetries(n int) Option {
	return func(c *Client) { c.maxRetries = max(n, 0) }
}

// WithUserAgent puts a product token such as "myapp/1.2" before the SDK's
// own "gatehouse-go/<version>" in the User-Agent header.
func WithUserAgent(product string) Option {
	return func(c *Client) {
		if product = strings.TrimSpace(product); product != "" {
			c.userAgent = product + " gatehouse-go/" + Version
		}
	}
}

// NewClient returns a client of the Gatehouse server at baseURL (such as
// "https://auth.example.com"), for the environment whose API key and client
// ID are given. The API key (sk_…) authenticates management calls and the
// code exchange; a public client (PKCE only) may pass "". The client ID is
// needed for sign-in URLs, grants and the JWKS.
func NewClient(baseURL, apiKey, clientID string, opts ...Option) (*Client, error) {
	u, err := url.Parse(baseURL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.RawQuery != "" || u.Fragment != "" {
		return nil, fmt.Errorf("gatehouse: base URL %q must be an absolute http or https URL such as https://auth.example.com", baseURL)
	}
	if apiKey == "" && clientID == "" {
		return nil, errors.New("gatehouse: NewClient needs an API key, a client ID, or both")
	}
	c := &Client{
		baseURL: strings.TrimRight(baseURL, "/"), apiKey: apiKey, clientID: clientID,
		httpClient: &http.Client{}, timeout: DefaultTimeout, maxRetries: DefaultMaxRetries,
		userAgent: "gatehouse-go/" + Version, sleep: sleepCtx,
	}
	for _, o := range opts {
		o(c)
	}
	return c, nil
}

// NewClientFromEnv is NewClient with the server's URL, API key and client
// ID read from GATEHOUSE_URL, WORKOS_API_KEY and WORKOS_CLIENT_ID (the file
// `gatehouse dev` writes sets all three). It fails naming every variable
// that is missing.
func NewClientFromEnv(opts ...Option) (*Client, error) {
	var missing []string
	get := func(name string) string {
		v := strings.TrimSpace(os.Getenv(name))
		if v == "" {
			missing = append(missing, name)
		}
		return v
	}
	base, key, id := get(EnvURL), get(EnvAPIKey), get(EnvClientID)
	if len(missing) > 0 {
		return nil, fmt.Errorf("gatehouse: environment variable %s is not set", strings.Join(missing, ", "))
	}
	return NewClient(base, key, id, opts...)
}

// BaseURL returns the server's URL, without a trailing slash.
func (c *Client) BaseURL() string { return c.baseURL }

// ClientID returns the environment's client ID.
func (c *Client) ClientID() string { return c.clientID }

func sleepCtx(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// backoff is the wait before retry n (1-based) when the server named none:
// 500 ms doubling per retry, capped at 8 s, times a random factor in
// [0.5, 1.5) so that clients failing together do not retry together.
func backoff(n int) time.Duration {
	d := min(backoffBase<<(n-1), backoffMax)
	return d/2 + rand.N(d)
}

// newIdempotencyKey returns a random UUID version 4.
func newIdempotencyKey() string {
	var b [16]byte
	crand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:])
}

// do sends a JSON request and decodes a 2xx response into out (unless out
// is nil), retrying transient failures.
func (c *Client) do(ctx context.Context, method, path string, query url.Values, body, out any) error {
	var payload []byte
	if body != nil {
		var err error
		if payload, err = json.Marshal(body); err != nil {
			return fmt.Errorf("gatehouse: encode request: %w", err)
		}
	}
	endpoint := c.baseURL + path
	full := endpoint
	if len(query) > 0 {
		full += "?" + query.Encode()
	}
	idem := ""
	if method == http.MethodPost {
		idem = newIdempotencyKey()
	}
	for attempt := 0; ; attempt++ {
		res, resBody, err := c.attempt(ctx, method, full, payload, idem)
		if err == nil && res.StatusCode/100 == 2 {
			if out == nil || len(bytes.TrimSpace(resBody)) == 0 {
				return nil
			}
			if err := json.Unmarshal(resBody, out); err != nil {
				return fmt.Errorf("gatehouse: %s %s: decode response (request %s): %w", method, endpoint, res.Header.Get("X-Request-ID"), err)
			}
			return nil
		}
		var wait time.Duration
		if err != nil {
			if ctx.Err() != nil {
				return &NetworkError{Method: method, URL: endpoint, Err: err}
			}
			err = &NetworkError{Method: method, URL: endpoint, Err: err}
		} else {
			apiErr := parseAPIError(res, resBody)
			if !retryableStatus(res.StatusCode) {
				return apiErr
			}
			err = apiErr
			wait = min(apiErr.RetryAfter, retryAfterMax)
		}
		if attempt >= c.maxRetries {
			return err
		}
		if wait == 0 {
			wait = backoff(attempt + 1)
		}
		if serr := c.sleep(ctx, wait); serr != nil {
			return fmt.Errorf("gatehouse: %s %s: gave up retrying: %w (last failure: %w)", method, endpoint, serr, err)
		}
	}
}

// attempt sends one request, bounded by the client's timeout, and reads
// the whole response.
func (c *Client) attempt(ctx context.Context, method, full string, payload []byte, idem string) (*http.Response, []byte, error) {
	ctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	var rd io.Reader
	if payload != nil {
		rd = bytes.NewReader(payload)
	}
	req, err := http.NewRequestWithContext(ctx, method, full, rd)
	if err != nil {
		return nil, nil, err
	}
	h := req.Header
	h.Set("Content-Type", "application/json")
	h.Set("Accept", "application/json")
	h.Set("User-Agent", c.userAgent)
	if c.apiKey != "" {
		h.Set("Authorization", "Bearer "+c.apiKey)
	}
	if idem != "" {
		h.Set("Idempotency-Key", idem)
	}
	res, err := c.httpClient.Do(req)
	if err != nil {
		return nil, nil, err
	}
	defer res.Body.Close()
	body, err := io.ReadAll(io.LimitReader(res.Body, maxBodyBytes))
	if err != nil {
		return nil, nil, err
	}
	return res, body, nil
}

// pathEscape escapes one path segment.
func pathEscape(s string) string { return url.PathEscape(s) }
