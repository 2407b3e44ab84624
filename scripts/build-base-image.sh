#!/usr/bin/env bash
# Builds Lamina's base image, lamina-serve:VERSION: publishes lamina-serve self-contained for linux-x64, then runs
# `lamina image base` (a minimal Debian made by mmdebstrap, cached in ~/.lamina/cache/base, plus the service).
# Reproducible: SOURCE_DATE_EPOCH defaults to the commit's time, and the publish maps source paths
# (ContinuousIntegrationBuild), so two builds of one commit on two machines give the same digest when the mirror
# serves the same packages (pin it with --mirror http://snapshot.debian.org/archive/debian/YYYYMMDDTHHMMSSZ).
#
#   scripts/build-base-image.sh --oci-layout out/images            # writes oci:out/images:VERSION
#   scripts/build-base-image.sh --tag registry.example.com/lamina-serve:0.1.0 --push
#
# Every option is passed to `lamina image base` (see `lamina image base --help`); --serve is this script's.
set -euo pipefail
cd "$(dirname "$0")/.."

serve="out/lamina-serve"
export SOURCE_DATE_EPOCH="${SOURCE_DATE_EPOCH:-$(git log -1 --format=%ct)}"

rm -rf "$serve"
dotnet publish src/Lamina.Serve -c Release -r linux-x64 --self-contained -p:ContinuousIntegrationBuild=true -o "$serve" -nologo -v quiet
dotnet build src/Lamina.Cli -c Release -nologo -v quiet
dotnet src/Lamina.Cli/bin/Release/net10.0/lamina.dll image base --serve "$serve" "$@"
