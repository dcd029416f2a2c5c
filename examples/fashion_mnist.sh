#!/usr/bin/env bash
# The main job: set up .venv (scripts/setup.sh) and train LeNet-5 on Fashion-MNIST, leaving metrics, a plot and
# a checkpoint in runs/lenet5-fashion-mnist/. Extra arguments go to `chainrule train` (e.g. --epochs 3).
# The data: Debian's dataset-fashion-mnist package when it is installed, else a copy in ~/.cache/chainrule, else
# the official files are downloaded and checked by SHA-256. Run it again to continue a stopped run.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
bash "$root/scripts/setup.sh" plot,progress,fast
out="runs/lenet5-fashion-mnist"
cd "$root"
if [ -f "$out/checkpoint.npz" ]; then
  exec .venv/bin/chainrule train --resume "$out" "$@"
fi
exec .venv/bin/chainrule train --model lenet5 --epochs 10 --schedule cosine --download --out "$out" "$@"
