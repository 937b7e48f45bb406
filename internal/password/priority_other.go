//go:build !linux

package password

// lowerThreadPriority does nothing here: outside Linux a nice value
// belongs to the whole process.
func lowerThreadPriority() {}
