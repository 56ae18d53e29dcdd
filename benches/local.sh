#!/usr/bin/env bash
# statefun-local against function servers (docs/performance.md,
# "statefun-local: calls in flight"): 400 messages to 200 addresses of a
# function answering after 20 ms, 10,000 addresses x 10 messages on the
# same, and 10,000 Restock records to 1,000 inventories of the shopping
# cart on the SDK's own server; wall-clock time from start to exit, every
# address's state checked, peak memory and CPU time.
#
#   bash benches/local.sh                          # three runs of each
#   bash benches/local.sh --runs 5 --only two-per-address
#   bash benches/local.sh --only wide -- --max-connections 4096
#   bash benches/local.sh --floor 10000 2 1024      # the calls alone, no runtime
#
# Options go to local-bench (see benches/src/bin/local-bench.rs); what
# follows `--` goes to statefun-local. `--floor ADDRESSES PER POOL` runs
# http-floor instead (benches/src/bin/http-floor.rs): the same calls made
# by a bare pooled hyper client with nothing else to do.
set -euo pipefail
cd "$(dirname "$0")/.."

cargo build --release --locked -p statefun-local -p statefun-benches \
    --bin statefun-local --bin local-bench --bin latency-server --bin cart-server \
    --bin http-floor
# Thousands of connections need more descriptors than the usual 1024.
ulimit -Sn "$(ulimit -Hn)" 2>/dev/null || true
echo "$(date -u +%Y-%m-%d) $(uname -srm), $(nproc) cores: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)"
if [[ "${1:-}" == --floor ]]; then
    shift
    exec "${CARGO_TARGET_DIR:-target}/release/http-floor" "$@"
fi
exec "${CARGO_TARGET_DIR:-target}/release/local-bench" "$@"
