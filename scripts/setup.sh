#!/usr/bin/env bash
# Make (once) and refresh the project's own virtual environment, .venv, with chainrule installed in editable
# mode plus the extras named in $1 (e.g. "plot,progress,fast"). It never touches the system Python: a Debian or
# Ubuntu Python refuses pip outside a virtual environment (PEP 668), and one without the python3-venv package has
# no ensurepip, so the environment is then made without pip and pip is brought in from PyPI, checked by SHA-256.
# No sudo. Set PYTHON to choose the interpreter (default python3).
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
venv="$root/.venv"
extras="${1:-}"
python="${PYTHON:-python3}"

fail() { echo "setup: error: $*" >&2; exit 1; }
command -v "$python" >/dev/null 2>&1 || fail "$python not found — install Python 3.10 or newer (or set PYTHON=/path/to/python3)"
"$python" -c 'import sys; sys.exit(sys.version_info < (3, 10))' \
  || fail "chainrule needs Python 3.10 or newer, $python is $("$python" -V 2>&1) — set PYTHON=/path/to/python3.10+"

if ! "$venv/bin/python" -m pip --version >/dev/null 2>&1; then
  if [ -e "$venv" ] && [ ! -f "$venv/pyvenv.cfg" ]; then
    fail "$venv exists and is not a virtual environment — move it away, then run this again"
  fi
  rm -rf "$venv"  # a half-made environment of ours (e.g. venv stopped by a missing ensurepip)
  if ! "$python" -m venv "$venv" >/dev/null 2>&1; then
    rm -rf "$venv"
    echo "setup: $python has no ensurepip; making .venv without pip and fetching pip from PyPI" >&2
    "$python" -m venv --without-pip "$venv" || fail "could not make $venv — is the venv module installed?"
    "$venv/bin/python" "$root/scripts/bootstrap_pip.py" || fail "could not install pip into $venv"
  fi
fi
echo "setup: installing chainrule${extras:+[$extras]} into $venv" >&2
"$venv/bin/python" -m pip install -q --disable-pip-version-check -e "$root${extras:+[$extras]}"
