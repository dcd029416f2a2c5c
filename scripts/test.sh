#!/usr/bin/env bash
# Set up .venv with the test extra (see setup.sh), then run the test suite; arguments go to pytest.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
bash "$root/scripts/setup.sh" test
cd "$root"
exec "$root/.venv/bin/python" -m pytest "$@"
