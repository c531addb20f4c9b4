#!/usr/bin/env bash
# Installs the system tools the tests need when they are missing, on a
# Debian or Ubuntu machine: redis-server, kcat, curl, jq, openssl,
# python3-requests, nodejs and npm. Runs apt-get as root, or through sudo;
# otherwise prints the command to run and exits 1. `make test` and `.ci/run`
# call it; with everything present it does nothing and needs no privileges.
set -euo pipefail

need=()
command -v redis-server >/dev/null 2>&1 || need+=(redis-server)
command -v kcat >/dev/null 2>&1 || need+=(kcat)
command -v curl >/dev/null 2>&1 || need+=(curl)
command -v jq >/dev/null 2>&1 || need+=(jq)
command -v openssl >/dev/null 2>&1 || need+=(openssl)
command -v setsid >/dev/null 2>&1 || need+=(util-linux)
command -v node >/dev/null 2>&1 || need+=(nodejs)
command -v npm >/dev/null 2>&1 || need+=(npm)
python3 -c 'import requests' >/dev/null 2>&1 || need+=(python3-requests)

if [ ${#need[@]} -eq 0 ]; then
  exit 0
fi

cmd="apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq ${need[*]}"
if ! command -v apt-get >/dev/null 2>&1; then
  echo "test-deps: missing ${need[*]}; this is not a Debian/Ubuntu machine: install them with your package manager" >&2
  exit 1
fi
if [ "$(id -u)" -eq 0 ]; then
  run=(bash -c)
elif command -v sudo >/dev/null 2>&1 && { [ -t 0 ] || sudo -n true 2>/dev/null; }; then
  run=(sudo bash -c)
else
  echo "test-deps: missing ${need[*]}; install them as root:" >&2
  echo "  sudo bash -c '$cmd'" >&2
  exit 1
fi
echo "test-deps: installing ${need[*]}" >&2
"${run[@]}" "$cmd" >/dev/null
