"""The import contract of pyproject.toml holds (STYLE.md habit 16): layers point one way and
no package imports another's private modules. ``lint-imports`` checks it; a breach fails
``make test`` with the tool's own report of which import broke which contract."""

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_imports_keep_the_layer_contract():
    lint_imports = Path(sys.executable).with_name("lint-imports")
    out = subprocess.run(
        [str(lint_imports), "--no-cache", "--no-logo"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert out.returncode == 0, out.stdout + out.stderr
