//go:build !linux

package password

import "time"

// lowerThreadPriority does nothing here: outside Linux a nice value
// belongs to the whole process.
func lowerThreadPriority() {}

// threadCPU is 0 here: the CPU time of one thread is not read outside
// Linux.
func threadCPU() time.Duration { return 0 }
