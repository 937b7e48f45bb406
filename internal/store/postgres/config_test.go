package postgres

import (
	"runtime"
	"testing"
	"time"
)

func TestParseConfig(t *testing.T) {
	cfg, err := parseConfig("postgres://u@localhost/db")
	if err != nil {
		t.Fatal(err)
	}
	if want := int32(max(4, 4*runtime.GOMAXPROCS(0))); cfg.MaxConns != want {
		t.Errorf("MaxConns = %d, want %d", cfg.MaxConns, want)
	}
	if cfg.ConnConfig.ConnectTimeout != DefaultConnectTimeout {
		t.Errorf("ConnectTimeout = %v", cfg.ConnConfig.ConnectTimeout)
	}
	if got := cfg.ConnConfig.RuntimeParams["application_name"]; got != "gatehouse" {
		t.Errorf("application_name = %q", got)
	}

	cfg, err = parseConfig("postgres://u@localhost/db?pool_max_conns=3&connect_timeout=2&application_name=x&search_path=s")
	if err != nil {
		t.Fatal(err)
	}
	if cfg.MaxConns != 3 || cfg.ConnConfig.ConnectTimeout != 2*time.Second {
		t.Errorf("MaxConns = %d, ConnectTimeout = %v; want the URL's 3 and 2s", cfg.MaxConns, cfg.ConnConfig.ConnectTimeout)
	}
	if p := cfg.ConnConfig.RuntimeParams; p["application_name"] != "x" || p["search_path"] != "s" {
		t.Errorf("runtime params = %v", p)
	}

	cfg, err = parseConfig("host=localhost user=u dbname=db pool_max_conns=5")
	if err != nil || cfg.MaxConns != 5 {
		t.Errorf("key=value string: %v, %v", cfg, err)
	}
}
