# Sourced by the bench/*.sh scripts: the repository root as working folder, a Release build, the data folder, and the
# benchmark runner. Benchmarks are not tests; baselines are Debian packages installed on demand.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
scripts/ensure-native.sh
data=bench/.data
mkdir -p "$data"

# require_python_module MODULE PACKAGE: the Debian python3 must import MODULE, installing PACKAGE as root if needed.
require_python_module() {
  /usr/bin/python3 -c "import $1" 2>/dev/null && return 0
  if [ "$(id -u)" -eq 0 ]; then apt-get install -y -qq --no-install-recommends "$2" >/dev/null
  else echo "error: the baseline needs $2 (sudo apt-get install $2)" >&2; exit 1; fi
}

# The benchmarks time the command as ./setup.sh installs it: published, ahead-of-time compiled (ReadyToRun).
build() { dotnet build Lamina.slnx -c Release -nologo -v quiet >/dev/null && scripts/publish-cli.sh >/dev/null; }
bench() { dotnet bench/Lamina.Bench/bin/Release/net10.0/Lamina.Bench.dll "$@"; }

# analyze_setup: the demo's trained models, analysis.yaml, bundle and held-out 8192² slide, made once under
# bench/.data/analyze (~10 minutes on 2 cores) with LAMINA_HOME there; shared by bench/analyze.sh and bench/serve.sh.
# Sets LAMINA_HOME (exported) and demo.
analyze_setup() {
  local here=$data/analyze
  export LAMINA_HOME=$PWD/$here/home
  demo=$here/demo
  if [ ! -f "$demo/analysis/report.json" ]; then
    echo "setting up: lamina demo (trains both models, writes analysis.yaml, synthesises the held-out slide)"
    rm -rf "$here"
    mkdir -p "$here"
    ./lamina demo --out "$demo" --slide-size 8192 > "$here/demo.log"
  fi
}
