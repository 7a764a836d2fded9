#!/usr/bin/env bash
# Runs the PyTorch reference (benches/torch_reference.py) and `neural-style-studio bench` back to
# back on the same images and prints ours/theirs for seconds per iteration and peak RSS.
# Not part of CI. Usage: benches/compare_torch.sh [size=512] [iters=12] [content] [style]
set -euo pipefail
cd "$(dirname "$0")/.."
size=${1:-512}
iters=${2:-12}
content=${3:-../shared/images/tubingen.jpg}
style=${4:-../shared/images/starry_night.jpg}
venv=${TORCH_VENV:-/tmp/torchenv}
if [ ! -x "$venv/bin/python" ] || ! "$venv/bin/python" -c "import torch" 2>/dev/null; then
  python3 -m venv "$venv"
  "$venv/bin/pip" install -q torch pillow numpy safetensors
fi
cargo build --release -q
out=$(mktemp -d)
echo "== PyTorch $("$venv/bin/python" -c 'import torch; print(torch.__version__)'), $size px, $iters iterations"
"$venv/bin/python" benches/torch_reference.py --content "$content" --style "$style" --size "$size" \
  --iters "$iters" --json "$out/torch.json" | tail -1
echo "== neural-style-studio"
# --unbounded: torch.optim.LBFGS is the classic optimiser (no box, no line search).
./target/release/neural-style-studio bench --unbounded --size "$size" --iters "$((iters - 2))" --warmup 2 \
  --content "$content" --style "$style" --part --json "$out/ours.json"
python3 - "$out/torch.json" "$out/ours.json" <<'PY'
import json, sys
t = json.load(open(sys.argv[1])); o = json.load(open(sys.argv[2]))["results"][0]
print(f"ratio ours/torch: s/iter median {o['median_s'] / t['median_s']:.2f}, "
      f"min {o['min_s'] / t['min_s']:.2f}; peak RSS {o['peak_rss_mib'] / t['peak_rss_mib']:.2f}")
PY
