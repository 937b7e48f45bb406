//go:build !linux

package password

import "errors"

// UseCgroup fails here: cgroups exist on Linux only.
func UseCgroup(dir string) error { return errors.New("cgroups exist on Linux only") }

func joinHashCgroup(joined *string) *string { return nil }

// IdleCgroup is false here: cgroups exist on Linux only.
func IdleCgroup(dir string) bool { return false }
