// Command stwprobe measures how long runtime.GC takes while one locked
// thread spins, as a password hash does: at nice +10, as Gatehouse's
// hashing threads run by default, or in the cgroup v1 cpu cgroup given as
// the argument, as GATEHOUSE_HASH_CGROUP puts them. With other processes
// keeping every CPU busy, a thread that the kernel starves holds up the
// collector's stop-the-world phases (docs/performance.md):
//
//	go build -o /tmp/stwprobe ./bench/stwprobe
//	setsid sh -c 'while :; do :; done' & setsid sh -c 'while :; do :; done' &
//	setsid -w /tmp/stwprobe                                  # nice +10
//	setsid -w /tmp/stwprobe /sys/fs/cgroup/cpu/gatehouse-hash # its cpu.idle or cpu.shares
//	pkill -f 'while :; do :; done'
//
// It runs 60 collections 50 ms apart and prints their median, 90th
// percentile and longest durations, and the runtime's own histogram bound
// for the longest wait to stop the world.
package main

import (
	"fmt"
	"os"
	"runtime"
	"runtime/metrics"
	"slices"
	"strconv"
	"time"

	"golang.org/x/sys/unix"
)

var sink uint64

func main() {
	cg := ""
	if len(os.Args) > 1 {
		cg = os.Args[1]
	}
	ready := make(chan struct{})
	go func() {
		runtime.LockOSThread()
		if cg != "" {
			if err := os.WriteFile(cg+"/tasks", []byte(strconv.Itoa(unix.Gettid())), 0); err != nil {
				panic(err)
			}
		} else {
			unix.Setpriority(unix.PRIO_PROCESS, unix.Gettid(), 10)
		}
		close(ready)
		x := uint64(1)
		for {
			for i := 0; i < 1000000; i++ {
				x = x*6364136223846793005 + 1442695040888963407
			}
			sink = x
		}
	}()
	<-ready
	time.Sleep(200 * time.Millisecond)
	var ds []time.Duration
	for range 60 {
		t := time.Now()
		runtime.GC()
		ds = append(ds, time.Since(t))
		time.Sleep(50 * time.Millisecond)
	}
	slices.Sort(ds)
	s := []metrics.Sample{{Name: "/sched/pauses/stopping/gc:seconds"}}
	metrics.Read(s)
	h := s[0].Value.Float64Histogram()
	longest := 0.0
	for i, c := range h.Counts {
		if c > 0 {
			longest = h.Buckets[i+1]
		}
	}
	fmt.Printf("runtime.GC: median %v, p90 %v, max %v; longest stopping-the-world bucket ≤ %.1f ms\n", ds[len(ds)/2], ds[len(ds)*9/10], ds[len(ds)-1], longest*1000)
}
