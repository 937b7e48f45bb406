package main

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
)

// parseDotenv reads a dotenv file: KEY=VALUE lines, with blank lines and
// #-comments ignored, an optional "export " prefix, and values optionally
// in single quotes (taken literally) or double quotes (with \n, \", \\
// escapes). An unquoted value ends at " #" (a trailing comment) and is
// trimmed. A later line wins over an earlier one.
func parseDotenv(r io.Reader) (map[string]string, error) {
	vars := map[string]string{}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 4096), 1<<20)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if n == 1 {
			line = strings.TrimPrefix(line, "\ufeff")
		}
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		line = strings.TrimPrefix(line, "export ")
		key, value, ok := strings.Cut(line, "=")
		key = strings.TrimSpace(key)
		if !ok || !validKey(key) {
			return nil, fmt.Errorf("line %d: want KEY=VALUE", n)
		}
		value = strings.TrimSpace(value)
		switch {
		case len(value) >= 2 && value[0] == '\'' && strings.LastIndexByte(value, '\'') > 0:
			value = value[1:strings.LastIndexByte(value, '\'')]
		case len(value) >= 2 && value[0] == '"' && strings.LastIndexByte(value, '"') > 0:
			value = unescape(value[1:strings.LastIndexByte(value, '"')])
		case strings.HasPrefix(value, "'") || strings.HasPrefix(value, `"`):
			return nil, fmt.Errorf("line %d: unterminated quote", n)
		default:
			if i := strings.Index(value, " #"); i >= 0 {
				value = strings.TrimSpace(value[:i])
			}
		}
		vars[key] = value
	}
	return vars, sc.Err()
}

// validKey reports whether s is a shell-style variable name.
func validKey(s string) bool {
	if s == "" || (s[0] >= '0' && s[0] <= '9') {
		return false
	}
	for _, c := range []byte(s) {
		if !(c == '_' || c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9') {
			return false
		}
	}
	return true
}

// unescape handles the escapes of a double-quoted value.
func unescape(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+1 < len(s) {
			i++
			switch s[i] {
			case 'n':
				b.WriteByte('\n')
			case 'r':
				b.WriteByte('\r')
			case 't':
				b.WriteByte('\t')
			default:
				b.WriteByte(s[i])
			}
			continue
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

// findDotenv returns the env file to load: DOTENV_PATH if set (it must
// exist), else the nearest .gatehouse/dev.env in the working directory or
// one of its parents (so `go run ./examples/go` from the repository root
// and `go run .` from examples/go both find it), else "" (all settings
// must then come from the environment).
func findDotenv(getenv func(string) string) (path string, explicit bool, err error) {
	if p := getenv("DOTENV_PATH"); p != "" {
		return p, true, nil
	}
	dir, err := os.Getwd()
	if err != nil {
		return "", false, err
	}
	for {
		p := filepath.Join(dir, ".gatehouse", "dev.env")
		if _, err := os.Stat(p); err == nil {
			return p, false, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", false, nil
		}
		dir = parent
	}
}

// readDotenv parses the file at path; a missing file is an error only
// when explicit (named by DOTENV_PATH).
func readDotenv(path string, explicit bool) (map[string]string, error) {
	if path == "" {
		return map[string]string{}, nil
	}
	f, err := os.Open(path)
	if errors.Is(err, os.ErrNotExist) && !explicit {
		return map[string]string{}, nil
	}
	if err != nil {
		return nil, fmt.Errorf("cannot read the env file: %w", err)
	}
	defer f.Close()
	vars, err := parseDotenv(f)
	if err != nil {
		return nil, fmt.Errorf("env file %s: %w", path, err)
	}
	return vars, nil
}
