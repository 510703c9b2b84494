#!/usr/bin/env bash
# One-shot accelerator benchmarks: training throughput, MI throughput and explainer
# throughput, in well under 10 minutes, with JSON written beside the CPU results.
#
#   pip install -e . "jax[cuda12]"        # once, on the GPU machine
#   bash benchmarks/gpu.sh                 # writes benchmarks/results/gpu/<device>/*.json
#   bash benchmarks/gpu.sh --quick         # small shapes, on any machine (CPU smoke run)
#
# Options:
#   --quick      small shapes; writes under $TMPDIR unless --out is given
#   --out DIR    where the JSON goes (default benchmarks/results/gpu/<device kind>)
#   --torch      also time the PyTorch loop rows of train_throughput (needs torch)
#
# Each benchmark runs under its own time limit (train 240 s, MI 180 s, explain
# 150 s at full size), so the whole script ends inside 10 minutes even when one
# stalls; a benchmark that hits its limit is reported and the others still run.
# The device (jax.devices()[0].device_kind) is written to device.json and
# into every result's "machine" entry.
set -uo pipefail
cd "$(dirname "$0")/.."

quick=""; out=""; torch="--no-torch"
while [[ $# -gt 0 ]]; do
  case "$1" in
    --quick) quick="--quick"; shift ;;
    --out) out="${2:?--out needs a directory}"; shift 2 ;;
    --torch) torch=""; shift ;;
    -h|--help) sed -n '2,18p' "$0"; exit 0 ;;
    *) echo "gpu.sh: unknown option '$1' (allowed: --quick, --out DIR, --torch)" >&2; exit 2 ;;
  esac
done

device_json=$(python -c '
import json, platform, jax
d = jax.devices()
print(json.dumps({"platform": d[0].platform, "device_kind": d[0].device_kind,
                  "device_count": len(d), "jax": jax.__version__,
                  "host": platform.platform()}))') || { echo "gpu.sh: jax does not start" >&2; exit 1; }
kind=$(python -c 'import json, sys; print(json.loads(sys.argv[1])["device_kind"])' "$device_json")
platform=$(python -c 'import json, sys; print(json.loads(sys.argv[1])["platform"])' "$device_json")
if [[ -z "$out" ]]; then
  if [[ -n "$quick" ]]; then out=$(mktemp -d "${TMPDIR:-/tmp}/attnjax-gpu-quick.XXXXXX")
  else out="benchmarks/results/gpu/$(echo "$kind" | tr -c 'A-Za-z0-9._-\n' '_')"; fi
fi
if [[ "$platform" == "cpu" && -z "$quick" ]]; then
  echo "gpu.sh: JAX sees no accelerator (platform cpu); run with --quick for a smoke run," \
       "or install jax[cuda12]" >&2
  exit 1
fi
mkdir -p "$out"
echo "$device_json" > "$out/device.json"
echo "gpu.sh: $kind ($platform), results in $out"

if [[ -n "$quick" ]]; then limits=(300 300 300); else limits=(240 180 150); fi
failed=0
run() {  # run LIMIT NAME COMMAND...
  local limit=$1 name=$2; shift 2
  local start=$SECONDS
  echo "== $name (limit ${limit}s)"
  timeout "$limit" "$@"
  local rc=$?
  echo "== $name: exit $rc after $((SECONDS - start)) s"
  if [[ $rc -ne 0 ]]; then failed=$((failed + 1)); fi
}
export PYTHONUNBUFFERED=1
run "${limits[0]}" train_throughput python benchmarks/train_throughput.py $quick $torch \
    --cpu-devices 1 --out "$out/train_throughput.json"
run "${limits[1]}" mi_throughput python benchmarks/mi_throughput.py $quick \
    --sections throughput,large_n --out "$out/mi_throughput.json"
run "${limits[2]}" explain_throughput python benchmarks/explain_throughput.py $quick \
    --out "$out/explain_throughput.json"
echo "gpu.sh: $((3 - failed)) of 3 benchmarks finished in $SECONDS s; JSON in $out"
exit $((failed > 0))
