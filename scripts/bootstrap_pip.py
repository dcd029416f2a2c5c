"""Install pip into the running interpreter's virtual environment from PyPI, for a Python without ensurepip.

The newest pip wheel is found through PyPI's JSON API, its SHA-256 is checked against the digest PyPI
publishes, and the wheel installs itself (a pip wheel can run from its own zip file). Standard library only.
Usage: ``.venv/bin/python scripts/bootstrap_pip.py [URL]``, URL being a mirror's JSON page for pip (default PyPI's).
"""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
import tempfile
import urllib.parse
import urllib.request
from pathlib import Path

INDEX = "https://pypi.org/pypi/pip/json"
MAX_BYTES = 64 << 20  # a pip wheel is about 2 MB
TIMEOUT_S = 60


def main(argv: list[str]) -> int:
    try:
        return install(argv[0] if argv else INDEX)
    except (OSError, ValueError, KeyError) as e:  # network, TLS, or an unexpected answer from the index
        print(f"bootstrap_pip: error: could not fetch pip from PyPI ({e}) — check the connection and try again",
              file=sys.stderr)
        return 1


def install(index: str) -> int:
    if sys.prefix == sys.base_prefix:
        print("bootstrap_pip: error: run this with a virtual environment's python, not the system one", file=sys.stderr)
        return 2
    with urllib.request.urlopen(index, timeout=TIMEOUT_S) as response:
        release = json.load(response)
    wheels = [f for f in release["urls"] if f["filename"].endswith("-none-any.whl")]
    if not wheels:
        print(f"bootstrap_pip: error: no pip wheel listed at {index}", file=sys.stderr)
        return 1
    wheel = wheels[0]
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / wheel["filename"]
        url = urllib.parse.urljoin(index, wheel["url"])  # an index may list the file relative to itself
        with urllib.request.urlopen(url, timeout=TIMEOUT_S) as response:
            data = response.read(MAX_BYTES + 1)
        if len(data) > MAX_BYTES:
            print(f"bootstrap_pip: error: {wheel['filename']} is larger than {MAX_BYTES} bytes", file=sys.stderr)
            return 1
        digest = hashlib.sha256(data).hexdigest()
        if digest != wheel["digests"]["sha256"]:
            print(f"bootstrap_pip: error: {wheel['filename']} has SHA-256 {digest}, the index lists "
                  f"{wheel['digests']['sha256']}; try again later", file=sys.stderr)
            return 1
        path.write_bytes(data)
        return subprocess.call([sys.executable, f"{path}/pip", "install", "-q", "--no-index", str(path)])


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
