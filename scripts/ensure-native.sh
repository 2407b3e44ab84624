#!/usr/bin/env bash
# Installs the Debian packages Lamina needs (as root, through apt), or names the missing ones.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"

if ! command -v dotnet >/dev/null 2>&1 || ! dotnet --list-sdks | grep -q '^10\.'; then
  echo "error: the .NET 10 SDK is needed (https://dotnet.microsoft.com/download); 'dotnet --list-sdks' shows none" >&2
  exit 1
fi

mapfile -t wanted < <(grep -v '^\s*#' "$here/native-packages.txt" | sed '/^\s*$/d')
missing=()
for package in "${wanted[@]}"; do
  dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" || missing+=("$package")
done
# Node.js and npm run the S3-compatible test server (s3rver, from the npm registry); any Node.js 18 or newer will do.
command -v node >/dev/null 2>&1 || missing+=(nodejs)
command -v npm >/dev/null 2>&1 || missing+=(npm)

if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "installing: ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    # Packages that are servers (postgresql, rabbitmq-server, docker-registry) are not started as system services: the tests
    # start their own in temporary folders, and a service that cannot start (no init system) would fail the install.
    policy=/usr/sbin/policy-rc.d
    made_policy=""
    if [ ! -e "$policy" ]; then
      printf '#!/bin/sh\nexit 101\n' > "$policy" && chmod +x "$policy" && made_policy=1
      trap 'rm -f "$policy"' EXIT
    fi
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
    if [ -n "$made_policy" ]; then rm -f "$policy"; trap - EXIT; fi
  else
    echo "error: missing packages: ${missing[*]}" >&2
    echo "install them with: sudo apt-get install ${missing[*]}" >&2
    exit 1
  fi
fi

# The npm servers the tests start (tools/test-servers), installed from its lock file when missing or out of date.
servers="$here/../tools/test-servers"
if [ ! -f "$servers/node_modules/.package-lock.json" ] || [ "$servers/package-lock.json" -nt "$servers/node_modules/.package-lock.json" ]; then
  echo "installing the test servers (npm ci in tools/test-servers)"
  (cd "$servers" && npm ci --no-audit --no-fund --loglevel=error >/dev/null)
fi

# The independent verifier of Lamina's signatures (tools/sigstore-verify: @sigstore/verify), installed the same way.
verifier="$here/../tools/sigstore-verify"
if [ ! -f "$verifier/node_modules/.package-lock.json" ] || [ "$verifier/package-lock.json" -nt "$verifier/node_modules/.package-lock.json" ]; then
  echo "installing the signature verifier (npm ci in tools/sigstore-verify)"
  (cd "$verifier" && npm ci --no-audit --no-fund --loglevel=error >/dev/null)
fi
