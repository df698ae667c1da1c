#!/usr/bin/env bash
# bench/run.sh — ocppd's benchmark suite (`make bench` runs it).
#
# Builds bin/ocppd, then for each standard scenario starts `ocppd serve`
# with a fresh data directory on loopback, registers the load fleet with
# `ocppd cp add --range`, runs `ocppd load` against it and measures the
# server (RSS from /proc/PID/status, fsync calls with strace when it is
# installed). Then it runs the Go benchmarks of the hot paths and writes
# the results, the machine description and the exact commands into
# docs/performance.md between the "bench:begin" and "bench:end" markers.
#
# Environment (defaults in brackets):
#   BENCH_OUT          directory for raw results [a new /tmp/ocppd-bench.*]
#   BENCH_DOC          Markdown file to update [docs/performance.md]; "-" skips
#   BENCH_PORT         OCPP port; the operator port is the next one [18480]
#   IDLE_CPS           idle stations [19000]
#   IDLE_RAMP          their connections per second [250]
#   HB_CPS             stations of the heartbeat runs [1000]
#   HB_DURATION        heartbeat run length [30s]
#   HB_RATE            paced heartbeat rate per second [5000]
#   STORM_CPS          storm stations [10000]
#   SESSIONS_CPS       sessions stations [2000]
#   SESSIONS_DURATION  sessions run length [10m]
#   SCENARIOS          which to run [idle heartbeat paced storm sessions gobench]
#   GOBENCHTIME        -benchtime of the Go benchmarks [1s]
#   BENCH_BIN          a prebuilt ocppd to measure instead of building bin/ocppd
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
export PATH="$PATH:/usr/local/go/bin"
GO=${GO:-go}
OUT=${BENCH_OUT:-$(mktemp -d /tmp/ocppd-bench.XXXXXX)}
DOC=${BENCH_DOC:-$ROOT/docs/performance.md}
PORT=${BENCH_PORT:-18480}
HTTP_PORT=$((PORT + 1))
IDLE_CPS=${IDLE_CPS:-19000}
IDLE_RAMP=${IDLE_RAMP:-250}
HB_CPS=${HB_CPS:-1000}
HB_DURATION=${HB_DURATION:-30s}
HB_RATE=${HB_RATE:-5000}
STORM_CPS=${STORM_CPS:-10000}
SESSIONS_CPS=${SESSIONS_CPS:-2000}
SESSIONS_DURATION=${SESSIONS_DURATION:-10m}
SCENARIOS=${SCENARIOS:-idle heartbeat paced storm sessions gobench}
GOBENCHTIME=${GOBENCHTIME:-1s}
BIN=${BENCH_BIN:-$ROOT/bin/ocppd}
URL=ws://127.0.0.1:$PORT

mkdir -p "$OUT"
: >"$OUT/commands.txt"
: >"$OUT/meta.env"
echo "bench: results in $OUT"

# note KEY VALUE: a result for the summary.
note() { printf '%s=%s\n' "$1" "$2" >>"$OUT/meta.env"; }
# cmd ARGS…: log a command (as run, relative to the repository) and run it.
cmd() {
	{ printf '%q ' "$@" | sed "s|$ROOT/||g; s|$OUT|\$OUT|g; s/ $//"; echo; } >>"$OUT/commands.txt"
	"$@"
}
# cmd_bg ARGS…: log a command and start it in the background; BG_PID is
# the command's own process id.
cmd_bg() {
	{ printf '%q ' "$@" | sed "s|$ROOT/||g; s|$OUT|\$OUT|g"; echo '&'; } >>"$OUT/commands.txt"
	"$@" &
	BG_PID=$!
}
rss_kb() { awk '/^VmRSS:/ {print $2}' "/proc/$1/status"; }
# cpu_s PID: user + system CPU seconds the process has used.
cpu_s() { awk -v hz="$(getconf CLK_TCK)" '{printf "%.2f", ($14 + $15) / hz}' "/proc/$1/stat"; }
ready_sessions() { curl -fsS "http://127.0.0.1:$HTTP_PORT/readyz" 2>/dev/null | sed -n 's/.*"sessions":\([0-9]*\).*/\1/p'; }

SERVE_PID=
stop_server() {
	if [ -n "$SERVE_PID" ] && kill -0 "$SERVE_PID" 2>/dev/null; then
		kill -INT "$SERVE_PID"
		wait "$SERVE_PID" 2>/dev/null || true
	fi
	SERVE_PID=
}
trap stop_server EXIT

# start_server NAME N: fresh data dir with N stations, serve in the background.
start_server() {
	local name=$1 n=$2 data=$OUT/data-$1 t0 t1
	rm -rf "$data"
	t0=$(date +%s.%N)
	cmd "$BIN" cp add --data-dir "$data" --range "LOAD000001-LOAD$(printf '%06d' "$n")" >/dev/null
	t1=$(date +%s.%N)
	note "${name}_register_s" "$(awk -v a="$t0" -v b="$t1" 'BEGIN {printf "%.3f", b - a}')"
	note "${name}_register_n" "$n"
	cmd_bg "$BIN" serve --data-dir "$data" --ocpp-addr "127.0.0.1:$PORT" --http-addr "127.0.0.1:$HTTP_PORT" \
		--mqtt-addr '' --log-level warn >"$OUT/serve-$name.log" 2>&1
	SERVE_PID=$BG_PID
	for _ in $(seq 1 100); do
		curl -fsS "http://127.0.0.1:$HTTP_PORT/healthz" >/dev/null 2>&1 && break
		sleep 0.1
	done
	sleep 1
	note "${name}_rss0_kb" "$(rss_kb "$SERVE_PID")"
}

# fsyncs NAME SECONDS: count the server's fsync calls for a while.
fsyncs() {
	command -v strace >/dev/null || return 0
	timeout -s INT "$2" strace -f -c --seccomp-bpf -e trace=fsync,fdatasync -p "$SERVE_PID" -o "$OUT/strace-$1.txt" 2>/dev/null || true
	note "${1}_fsync_window_s" "$2"
	note "${1}_fsyncs" "$(awk '$NF=="total" {print $(NF-1)}' "$OUT/strace-$1.txt" 2>/dev/null || echo 0)"
}

{
	echo "cpu=$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//')"
	echo "cores=$(nproc)"
	echo "mem=$(awk '/MemTotal/ {printf "%.1f GiB", $2/1048576}' /proc/meminfo)"
	echo "kernel=$(uname -sr)"
	echo "go=$($GO version | cut -d' ' -f3-)"
	echo "nofile=$(ulimit -n)"
	echo "ports=$(tr '\t' ' ' </proc/sys/net/ipv4/ip_local_port_range)"
	echo "loadavg=$(cut -d' ' -f1-3 /proc/loadavg)"
	echo "date=$(date -u +%Y-%m-%dT%H:%MZ)"
	echo "commit=$(git rev-parse --short HEAD 2>/dev/null || echo unknown)$(git diff --quiet 2>/dev/null || echo '+dirty')"
} >>"$OUT/meta.env"

if [ -z "${BENCH_BIN:-}" ]; then
	cmd make -s build
fi
"$BIN" version >>"$OUT/version.txt"

for s in $SCENARIOS; do
	case $s in
	idle)
		echo "bench: idle, $IDLE_CPS stations"
		start_server idle "$IDLE_CPS"
		# A ramp the CSMS can keep up with, so that the figure is the cost
		# of holding connections rather than of a backlog of boots; the
		# load run lasts until the two samples below are taken.
		dur=$((IDLE_CPS / IDLE_RAMP + 150))
		cmd_bg "$BIN" load --url "$URL" --cps "$IDLE_CPS" --scenario idle --ramp "$IDLE_RAMP" --duration "${dur}s" \
			--progress off --log-level warn --json >"$OUT/idle.json" 2>"$OUT/idle.err"
		load_pid=$BG_PID
		for _ in $(seq 1 $dur); do
			[ "$(ready_sessions)" = "$IDLE_CPS" ] && break
			sleep 1
		done
		sleep 30 # the last boots are answered
		note idle_sessions "$(ready_sessions)"
		note idle_rss1_kb "$(rss_kb "$SERVE_PID")"
		sleep 60 # the Go runtime returns the memory of the ramp to the OS
		note idle_rss2_kb "$(rss_kb "$SERVE_PID")"
		note idle_sessions2 "$(ready_sessions)"
		wait "$load_pid" || true
		stop_server
		;;
	heartbeat)
		echo "bench: heartbeat as fast as possible, $HB_CPS stations"
		start_server heartbeat "$HB_CPS"
		cmd_bg "$BIN" load --url "$URL" --cps "$HB_CPS" --scenario heartbeat --duration "$HB_DURATION" \
			--progress off --log-level warn --json >"$OUT/heartbeat.json" 2>"$OUT/heartbeat.err"
		load_pid=$BG_PID
		cpu0=$(cpu_s "$SERVE_PID")
		sleep 10
		fsyncs heartbeat 10
		wait "$load_pid" || true
		note heartbeat_server_cpu_s "$(awk -v a="$cpu0" -v b="$(cpu_s "$SERVE_PID")" 'BEGIN {printf "%.2f", b - a}')"
		note heartbeat_rss1_kb "$(rss_kb "$SERVE_PID")"
		stop_server
		;;
	paced)
		echo "bench: heartbeat at $HB_RATE/s, $HB_CPS stations"
		start_server paced "$HB_CPS"
		cmd_bg "$BIN" load --url "$URL" --cps "$HB_CPS" --scenario heartbeat --rate "$HB_RATE" --duration "$HB_DURATION" \
			--max-p99 10 --progress off --log-level warn --json >"$OUT/paced.json" 2>"$OUT/paced.err"
		load_pid=$BG_PID
		cpu0=$(cpu_s "$SERVE_PID")
		sleep 10
		fsyncs paced 10
		wait "$load_pid" || true
		note paced_server_cpu_s "$(awk -v a="$cpu0" -v b="$(cpu_s "$SERVE_PID")" 'BEGIN {printf "%.2f", b - a}')"
		stop_server
		;;
	storm)
		echo "bench: storm, $STORM_CPS stations"
		start_server storm "$STORM_CPS"
		cpu0=$(cpu_s "$SERVE_PID")
		cmd "$BIN" load --url "$URL" --cps "$STORM_CPS" --scenario storm --duration 180s \
			--progress off --log-level warn --json >"$OUT/storm.json" 2>"$OUT/storm.err" || true
		note storm_server_cpu_s "$(awk -v a="$cpu0" -v b="$(cpu_s "$SERVE_PID")" 'BEGIN {printf "%.2f", b - a}')"
		note storm_rss1_kb "$(rss_kb "$SERVE_PID")"
		stop_server
		;;
	sessions)
		echo "bench: sessions, $SESSIONS_CPS stations for $SESSIONS_DURATION"
		start_server sessions "$SESSIONS_CPS"
		cmd_bg "$BIN" load --url "$URL" --cps "$SESSIONS_CPS" --scenario sessions --ocpp 1.6=30,2.0.1=70 \
			--meter-interval 10s --meters 6 --session-gap 5s --ramp 500 --duration "$SESSIONS_DURATION" \
			--progress off --log-level warn --json >"$OUT/sessions.json" 2>"$OUT/sessions.err"
		load_pid=$BG_PID
		t0=$(date +%s)
		: >"$OUT/rss-sessions.tsv"
		counted=
		while kill -0 "$load_pid" 2>/dev/null; do
			printf '%s\t%s\n' "$(($(date +%s) - t0))" "$(rss_kb "$SERVE_PID")" >>"$OUT/rss-sessions.tsv"
			if [ -z "$counted" ] && [ $(($(date +%s) - t0)) -ge 60 ]; then
				counted=1
				fsyncs sessions 10
			else
				sleep 10
			fi
		done
		wait "$load_pid" || true
		stop_server
		;;
	gobench)
		echo "bench: Go benchmarks"
		cmd "$GO" test -run '^$' -bench 'BenchmarkParse$|BenchmarkParseHeartbeat|BenchmarkPublishDeliver|BenchmarkDispatch|BenchmarkFrameToBus|BenchmarkMarkSeen$|BenchmarkMarkSeenSerial|BenchmarkAddStatus$|BenchmarkAddMeterValues|BenchmarkHeartbeatRoundTrip' \
			-benchtime "$GOBENCHTIME" -benchmem ./ocpp ./bus/embedded ./csms ./gateway ./store/sqlite ./cmd/ocppd >"$OUT/gobench.txt" 2>&1 || true
		;;
	*)
		echo "bench: unknown scenario $s" >&2
		exit 2
		;;
	esac
done

cmd "$GO" run ./bench/summarize -dir "$OUT" -doc "$DOC"
echo "bench: done; results in $OUT"
