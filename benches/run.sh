#!/usr/bin/env bash
# The HTTP benchmarks of docs/performance.md: the shopping-cart inventory on
# the Rust SDK against a bare hyper server (the ceiling) and the official
# Python SDK 3.3.0 behind aiohttp, in one run, with ratios; latency at half
# the maximum throughput; memory with 1,000 idle keep-alive connections;
# and, with --soak SECS, a soak at 1,000 connections.
#
#   bash benches/run.sh                 # about 2 minutes
#   bash benches/run.sh --soak 300      # plus the 5-minute soak
#
# Installs what it needs: wrk (Debian package) and a virtualenv with
# apache-flink-statefun==3.3.0 and aiohttp under target/bench-venv.
# Other options go to http-bench (see benches/src/bin/http-bench.rs).
set -euo pipefail
cd "$(dirname "$0")/.."

if ! command -v wrk >/dev/null; then
    echo "installing wrk" >&2
    if [ "$(id -u)" = 0 ]; then apt-get install -y -qq wrk >/dev/null; else sudo apt-get install -y -qq wrk >/dev/null; fi
fi

venv="${CARGO_TARGET_DIR:-target}/bench-venv"
if ! "$venv/bin/python" -c "import statefun, aiohttp" 2>/dev/null; then
    echo "installing apache-flink-statefun 3.3.0 and aiohttp into $venv" >&2
    python3 -m venv "$venv"
    "$venv/bin/pip" install --quiet --disable-pip-version-check \
        "apache-flink-statefun==3.3.0" "aiohttp==3.14.5"
fi

# The `production` profile (fat LTO, one codegen unit) for all the Rust
# servers alike, as docs/deploying.md recommends for deployments.
cargo build --profile production --locked -p statefun-benches --bins
# 1,000 connections need more descriptors than the usual soft limit of 1024.
ulimit -Sn "$(ulimit -Hn)" 2>/dev/null || true
echo "$(date -u +%Y-%m-%d) $(uname -srm), $(nproc) cores: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)"
exec "${CARGO_TARGET_DIR:-target}/production/http-bench" --python "$venv/bin/python" "$@"
