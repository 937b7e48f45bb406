package main

import (
	"fmt"
	"net/url"
	"strconv"
	"strings"
)

// config is the app's settings.
type config struct {
	GatehouseURL   string
	APIKey         string
	ClientID       string
	CookiePassword string
	// Port is where the app listens, on ListenAddr (default localhost:Port).
	Port       int
	ListenAddr string
	// AppURL is the app's public URL without a trailing slash; the
	// redirect URI is AppURL/callback and the sign-out redirect AppURL/.
	AppURL string
}

// The variables `gatehouse dev` writes to its env file.
var required = []string{"GATEHOUSE_URL", "WORKOS_API_KEY", "WORKOS_CLIENT_ID", "WORKOS_COOKIE_PASSWORD"}

// loadConfig reads the settings: a variable set (non-empty) in the real
// environment wins over the env file's.
func loadConfig(getenv func(string) string, file map[string]string, source string) (config, error) {
	get := func(name string) string {
		if v := strings.TrimSpace(getenv(name)); v != "" {
			return v
		}
		return strings.TrimSpace(file[name])
	}
	var missing []string
	for _, name := range required {
		if get(name) == "" {
			missing = append(missing, name)
		}
	}
	if len(missing) > 0 {
		return config{}, fmt.Errorf("missing %s (looked in the environment and in %s)", strings.Join(missing, ", "), source)
	}
	c := config{GatehouseURL: get("GATEHOUSE_URL"), APIKey: get("WORKOS_API_KEY"), ClientID: get("WORKOS_CLIENT_ID"),
		CookiePassword: get("WORKOS_COOKIE_PASSWORD"), Port: 3000}
	if p := get("PORT"); p != "" {
		n, err := strconv.Atoi(p)
		if err != nil || n <= 0 || n > 65535 {
			return config{}, fmt.Errorf("PORT=%s is not a port number", p)
		}
		c.Port = n
	}
	c.ListenAddr = get("LISTEN_ADDR")
	if c.ListenAddr == "" {
		c.ListenAddr = "localhost:" + strconv.Itoa(c.Port)
	}
	c.AppURL = strings.TrimRight(get("APP_URL"), "/")
	if c.AppURL == "" {
		c.AppURL = "http://localhost:" + strconv.Itoa(c.Port)
	}
	u, err := url.Parse(c.AppURL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.RawQuery != "" || u.Fragment != "" {
		return config{}, fmt.Errorf("APP_URL=%s must be an http(s) URL like http://localhost:3000", c.AppURL)
	}
	return c, nil
}

// origin is the scheme://host of an absolute URL.
func origin(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return ""
	}
	return u.Scheme + "://" + u.Host
}
