#!/usr/bin/env bash
# The main job: set up chainrule and train LeNet-5 on Fashion-MNIST, leaving metrics, a plot and a checkpoint
# in runs/lenet5-fashion-mnist/. Extra arguments go to `chainrule train` (e.g. --epochs 3).
set -euo pipefail
cd "$(dirname "$0")/.."
# The data: Debian's package when it can be installed, else chainrule downloads the official files (--download).
if [ ! -d /usr/share/datasets/fashion-mnist ] && command -v apt-get >/dev/null 2>&1; then
  sudo=""
  [ "$(id -u)" = 0 ] || sudo="sudo"
  { $sudo apt-get update -qq && $sudo apt-get install -y -qq dataset-fashion-mnist; } \
    || echo "note: could not install dataset-fashion-mnist; chainrule will download the files" >&2
fi
python3 -m pip install -q -e ".[plot,progress,fast]"
python3 -m chainrule train --model lenet5 --epochs 10 --schedule cosine --download \
  --out runs/lenet5-fashion-mnist "$@"
