//go:build !linux

package argon2

func adviseHugePages([]block) {}
