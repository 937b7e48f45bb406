package password

import (
	"os"
	"testing"
	"time"
)

func TestMain(m *testing.M) {
	// Hashing threads end soon after their work, so that tests can see
	// them go.
	idleHashThread = 100 * time.Millisecond
	os.Exit(m.Run())
}
