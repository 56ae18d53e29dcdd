#!/usr/bin/env bash
# Regenerates the golden wire fixtures with the official Python SDK
# (apache-flink-statefun 3.3.0 from PyPI, in a throwaway virtualenv) and
# fails if they differ from the checked-in ones, so the fixtures stay an
# independent record of what the Python SDK produces.
set -euo pipefail
cd "$(dirname "$0")/.."

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
python3 -m venv "$work/venv"
"$work/venv/bin/pip" install --quiet --disable-pip-version-check "apache-flink-statefun==3.3.0"
mkdir "$work/out"
STATEFUN_GOLDEN_OUT="$work/out" "$work/venv/bin/python" statefun-sdk/tests/golden/generate.py >/dev/null
for f in wire.json types.json; do
    if ! diff -q "statefun-sdk/tests/golden/$f" "$work/out/$f" >/dev/null; then
        echo "golden fixture $f differs from what the Python SDK produces now:" >&2
        diff "statefun-sdk/tests/golden/$f" "$work/out/$f" | head -20 >&2
        exit 1
    fi
done
echo "golden fixtures match the Python SDK 3.3.0"
