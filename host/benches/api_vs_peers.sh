#!/usr/bin/env bash
# Weir's Kinesis API against kinesalite and moto in one run, all on loopback.
#
#   host/benches/api_vs_peers.sh [SECONDS_PER_RUN]      (env: CONNS=16 PEERS_DIR=...)
#
# wrk posts pre-built bodies (PutRecords: 500 records of 100 bytes; GetRecords: Limit 500
# over pre-loaded records) through host/benches/kinesis.lua. The load generator's own ceiling is
# measured against the `bench_canned` example, a server that answers every request with a fixed
# 200. Then the raw log append rate per fsync policy (`streams_log_bench`) beside the disk's sequential
# write rate (dd conv=fdatasync) in the same directory. Installs peers when missing:
# kinesalite (npm), moto[server] (pip), wrk (apt-get). Not run in CI.
set -euo pipefail
DUR=${1:-8}
CONNS=${CONNS:-16}
ROOT=$(cd "$(dirname "$0")/../.." && pwd)   # the workspace
PEERS=${PEERS_DIR:-$ROOT/target/bench-peers}
LOOPBACK=${LOOPBACK_JS:-/work/shared/tools/loopback.js}
WORK=$(mktemp -d "${TMPDIR:-/tmp}/weir-bench.XXXXXX")
# servers start inside $(...) subshells, so their pids go to a file
cleanup() { [ -f "$WORK/pids" ] && while read -r p; do kill "$p" 2>/dev/null || true; done < "$WORK/pids"; sleep 0.2; rm -rf "$WORK"; }
trap cleanup EXIT

command -v wrk >/dev/null || { apt-get update -qq && apt-get install -y -qq wrk >/dev/null; }
python3 -c 'import boto3, moto' 2>/dev/null || python3 -m pip install --quiet boto3 'moto[server]'
[ -f "$PEERS/node_modules/kinesalite/cli.js" ] || npm install --silent --prefix "$PEERS" kinesalite >/dev/null
(cd "$ROOT" && cargo build --release -q -p weir-host --bin weir --example bench_canned --example streams_log_bench)
BIN="${CARGO_TARGET_DIR:-$ROOT/target}/release"

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
wait_port() { for _ in $(seq 1 200); do (echo >/dev/tcp/127.0.0.1/"$1") 2>/dev/null && return 0; sleep 0.05; done; echo "port $1 never opened" >&2; return 1; }

start_weir() {
  "$BIN/weir" streams serve --listen 127.0.0.1:0 --dir "$WORK/${WEIR_DIR:-weir}" --fsync "${WEIR_FSYNC:-interval}" --transition-ms 0 ${WEIR_KEY:+--verify-key "$WEIR_KEY"} > "$WORK/${WEIR_DIR:-weir}.out" 2>&1 &
  echo $! >> "$WORK/pids"
  for _ in $(seq 1 200); do grep -qs 'listening on' "$WORK/${WEIR_DIR:-weir}.out" && break; sleep 0.05; done
  echo "http://$(awk '/listening on/{print $3}' "$WORK/${WEIR_DIR:-weir}.out")"
}
# The same server with signature checking on: every request's SigV4 signature verified.
start_weir-signed() { WEIR_DIR=weir-signed WEIR_KEY=AKIDBENCH:benchsecret start_weir; }
start_canned() {
  "$BIN/examples/bench_canned" 127.0.0.1:0 > "$WORK/canned.out" 2>&1 &
  echo $! >> "$WORK/pids"
  for _ in $(seq 1 200); do grep -qs 'listening on' "$WORK/canned.out" && break; sleep 0.05; done
  echo "http://$(awk '/listening on/{print $3}' "$WORK/canned.out")"
}
start_kinesalite() {
  local p; p=$(free_port)
  node --require "$LOOPBACK" "$PEERS/node_modules/kinesalite/cli.js" --port "$p" --createStreamMs 0 --updateStreamMs 0 --shardLimit 100 > "$WORK/kinesalite.out" 2>&1 &
  echo $! >> "$WORK/pids"; wait_port "$p"; echo "http://127.0.0.1:$p"
}
start_moto() {
  local p; p=$(free_port)
  moto_server -H 127.0.0.1 -p "$p" > "$WORK/moto.out" 2>&1 &
  echo $! >> "$WORK/pids"; wait_port "$p"; echo "http://127.0.0.1:$p"
}

# run ENDPOINT ACTION BODYFILE RECORDS_PER_REQUEST [SIGFILE] -> "records_per_s requests_per_s errors"
run() {
  local out
  out=$(BODY_FILE="$3" ACTION="$2" SIG_FILE="${5:-}" wrk -t1 -c"$CONNS" -d"${DUR}s" --timeout 10s -s "$ROOT/host/benches/kinesis.lua" "$1/" | awk '/^RESULT/')
  # RESULT requests non2xx duration_us sockerrs
  echo "$out" | awk -v per="$4" '{ ok=$2-$3; printf "%.0f %.1f %d\n", ok*per/($4/1e6), $2/($4/1e6), $3+$5 }'
}

declare -A PUT GET
SERVERS="canned weir weir-signed kinesalite moto"
for srv in $SERVERS; do
  mkdir -p "$WORK/$srv-bodies"
  ep=$("start_$srv")
  if [ "$srv" = canned ]; then
    # the canned endpoint needs bodies of the same size: build them against a scratch Weir
    scratch=$(WEIR_FSYNC=never WEIR_DIR=scratch start_weir)
    python3 "$ROOT/host/benches/bench_setup.py" "$scratch" "$WORK/$srv-bodies" > "$WORK/$srv-pageinfo"
  elif [ "$srv" = weir-signed ]; then
    BENCH_SECRET=benchsecret python3 "$ROOT/host/benches/bench_setup.py" "$ep" "$WORK/$srv-bodies" > "$WORK/$srv-pageinfo"
  else
    python3 "$ROOT/host/benches/bench_setup.py" "$ep" "$WORK/$srv-bodies" > "$WORK/$srv-pageinfo"
  fi
  sig_put=""; sig_get=""
  if [ "$srv" = weir-signed ]; then sig_put="$WORK/$srv-bodies/put.sig"; sig_get="$WORK/$srv-bodies/get.sig"; fi
  PUT[$srv]=$(run "$ep" PutRecords "$WORK/$srv-bodies/put.json" 500 "$sig_put")
  # records per GetRecords page as this server actually returns them
  GET[$srv]=$(run "$ep" GetRecords "$WORK/$srv-bodies/get.json" "$(cat "$WORK/$srv-pageinfo")" "$sig_get")
done

printf '\n%-12s %16s %10s %8s %16s %10s %8s\n' server put_rec/s put_req/s errors get_rec/s get_req/s errors
for srv in $SERVERS; do
  read -r pr pq pe <<<"${PUT[$srv]}"; read -r gr gq ge <<<"${GET[$srv]}"
  printf '%-12s %16s %10s %8s %16s %10s %8s\n' "$srv" "$pr" "$pq" "$pe" "$gr" "$gq" "$ge"
done
w_put=$(awk '{print $1}' <<<"${PUT[weir]}"); w_get=$(awk '{print $1}' <<<"${GET[weir]}")
s_put=$(awk '{print $1}' <<<"${PUT[weir-signed]}"); s_get=$(awk '{print $1}' <<<"${GET[weir-signed]}")
awk -v a="$s_put" -v b="$w_put" -v c="$s_get" -v d="$w_get" \
  'BEGIN { printf "weir signatures verified / not verified: PutRecords x%.2f  GetRecords x%.2f\n", (b>0?a/b:0), (d>0?c/d:0) }'
for peer in kinesalite moto; do
  p_put=$(awk '{print $1}' <<<"${PUT[$peer]}"); p_get=$(awk '{print $1}' <<<"${GET[$peer]}")
  awk -v a="$w_put" -v b="$p_put" -v c="$w_get" -v d="$p_get" -v n="$peer" \
    'BEGIN { printf "weir/%-10s PutRecords x%.1f  GetRecords x%.1f\n", n, (b>0?a/b:0), (d>0?c/d:0) }'
done
echo "(canned = wrk's own ceiling with the same request bodies; get_rec/s counts the records each server returns per page: $(for x in weir kinesalite moto; do printf '%s=%s ' $x "$(cat "$WORK/$x-pageinfo")"; done))"

echo
echo "raw log append, one shard, 500 x 100-byte records per batch ($WORK):"
"$BIN/examples/streams_log_bench" "$WORK" 3
echo
echo "disk sequential write (dd bs=1M count=512 conv=fdatasync):"
dd if=/dev/zero of="$WORK/dd.bin" bs=1M count=512 conv=fdatasync 2>&1 | tail -1
rm -f "$WORK/dd.bin"
