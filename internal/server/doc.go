// Package server builds Gatehouse's root http.Handler: it mounts each
// surface (the JSON API, and the operations endpoints below) and orders the
// middleware: request ID, then panic recovery, logging and metrics, then
// the routes.
//
//	GET /healthz  the process is up (200)
//	GET /readyz   the database answers and every migration is applied (200, else 503)
//	GET /metrics  Prometheus metrics: request counts and latencies by route and status
package server
