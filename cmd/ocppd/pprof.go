package main

import (
	"log/slog"
	"net/http"
	"net/http/pprof"
	"os"
)

// pprofEnv names the address of an optional profiling listener
// (net/http/pprof under /debug/pprof/), for any ocppd command:
// OCPPD_PPROF_ADDR=127.0.0.1:6060 ocppd serve …. It is meant for
// benchmarks and performance work; keep it on loopback.
const pprofEnv = "OCPPD_PPROF_ADDR"

func init() {
	addr := os.Getenv(pprofEnv)
	if addr == "" {
		return
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	// The listener lives as long as the process: it is a debugging aid,
	// not a role with a lifecycle of its own.
	go func() {
		if err := http.ListenAndServe(addr, mux); err != nil {
			slog.Error("profiling listener failed", "env", pprofEnv, "addr", addr, "err", err)
		}
	}()
}
