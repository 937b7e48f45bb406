package main

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strings"
)

// summarizeFiles prints one markdown table row per result file written with
// --json, so a set of runs becomes the tables of docs/performance.md:
//
//	go run ./bench summarize out/*.json
func summarizeFiles(w io.Writer, files []string) error {
	if len(files) == 0 {
		return fmt.Errorf("usage: go run ./bench summarize RESULT.json ...")
	}
	fmt.Fprintln(w, "| Run | DB | Nodes | Alg | Mix | Main op/s | Of the ceiling | p50 / p99 ms | Server CPU (cores) | Main op per server CPU-s | Peak (median) RSS per node, MB | PG tx / rows / WAL syncs per req | PG CPU % per 100 req/s | Targets |")
	fmt.Fprintln(w, "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|")
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			return err
		}
		var r Results
		if err := json.Unmarshal(b, &r); err != nil {
			return fmt.Errorf("%s: %w", f, err)
		}
		fmt.Fprintln(w, summaryRow(f, &r))
	}
	return nil
}

func summaryRow(name string, r *Results) string {
	run := r.Run
	if run == nil {
		return "| " + name + " | (no run) |"
	}
	mixName := r.Mix.Name
	if run.Rate > 0 {
		mixName += fmt.Sprintf(" @ %.0f/s", run.Rate)
	}
	// The main operation: the only one of a single-op mix, else the whole mix.
	main := fmt.Sprintf("%.0f ops", run.TopLevelPerS)
	lat := "-"
	perCPU := "-"
	// The ceiling ratio: the main operation's rate, or for a mix its HTTP
	// requests, over the bare net/http handler measured in the same run.
	ofCeiling := "-"
	if r.Ceiling != nil && r.Ceiling.PerSecond > 0 {
		ofCeiling = fmt.Sprintf("%.3f", run.RequestsPerS/r.Ceiling.PerSecond)
	}
	if len(r.Mix.Weights) == 1 {
		for k := range r.Mix.Weights {
			for _, o := range run.Ops {
				if o.Op == k {
					main = fmt.Sprintf("%.0f", o.PerSecond)
					if o.Errors > 0 {
						main += fmt.Sprintf(" (%d errors)", o.Errors)
					}
					lat = fmt.Sprintf("%.1f / %.1f", o.P50Ms, o.P99Ms)
					if r.Ceiling != nil {
						ofCeiling = fmt.Sprintf("%.3f", o.OfCeiling)
					}
					if o.PerServerCPUSecond > 0 {
						perCPU = fmt.Sprintf("%.0f", o.PerServerCPUSecond)
					}
				}
			}
		}
	}
	cpu, rss, pg, pgcpu := "-", "-", "-", "-"
	if s := run.Server; s != nil && len(s.Nodes) > 0 {
		cpu = fmt.Sprintf("%.2f", s.CPUPercent/100)
		var rs []string
		for _, n := range s.Nodes {
			rs = append(rs, fmt.Sprintf("%.0f (%.0f)", max(n.PeakRSSMB, n.MaxSampledRSSMB), n.MedianRSSMB))
		}
		rss = strings.Join(rs, ", ")
		if d := s.DB; d != nil {
			pg = fmt.Sprintf("%.1f / %.2f / %.2f", d.TxPerRequest, d.RowsPerRequest, d.WALSyncsPerRequest)
			pgcpu = fmt.Sprintf("%.1f", d.PostgresCPUPer100)
		}
	}
	var ts []string
	for _, t := range r.Targets {
		v := "PASS"
		if !t.Pass {
			v = "**FAIL**"
		}
		ts = append(ts, fmt.Sprintf("%s %s %s (%s)", v, t.Name, t.Want, t.Got))
	}
	base := name
	if i := strings.LastIndexByte(base, '/'); i >= 0 {
		base = base[i+1:]
	}
	base = strings.TrimSuffix(base, ".json")
	return fmt.Sprintf("| %s | %s | %d | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s |",
		base, r.DB, r.Nodes, r.Alg, mixName, main, ofCeiling, lat, cpu, perCPU, rss, pg, pgcpu, strings.Join(ts, "; "))
}
