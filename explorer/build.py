"""Rebuild the explorer's vendored viewer: ``python explorer/build.py`` (needs Node.js and npm).

The explorer at ``session.link`` renders with FINOS Perspective. Its browser
builds (ES modules and WebAssembly, no further imports) are installed from
the npm registry at the versions ``package-lock.json`` pins, then copied into
the package, so that the wheel carries them and the explorer works with no
network. tiercube's own page code (``assets/explorer.js``) needs no build.

To upgrade: change the versions in ``package.json``, run ``npm install`` here
to update the lock file, run this script, and commit the lock file and the
copied assets together.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

HERE = Path(__file__).resolve().parent
VENDOR = HERE.parent / "src" / "tiercube" / "_server" / "explorer" / "assets" / "vendor"

# package -> the files the page loads, relative to the package (the wasm stays beside ``cdn/``:
# the modules find it at ``../wasm/`` from their own URL).
FILES = {
    "perspective": ["dist/cdn/perspective.js", "dist/wasm/perspective-server.wasm"],
    "perspective-viewer": ["dist/cdn/perspective-viewer.js", "dist/wasm/perspective-viewer.wasm", "dist/css/pro.css"],
    "perspective-viewer-datagrid": ["dist/cdn/perspective-viewer-datagrid.js"],
    "perspective-viewer-d3fc": ["dist/cdn/perspective-viewer-d3fc.js"],
}


def main() -> None:
    subprocess.run(["npm", "ci", "--no-audit", "--no-fund"], cwd=HERE, check=True)
    shutil.rmtree(VENDOR, ignore_errors=True)
    for package, files in FILES.items():
        source = HERE / "node_modules" / "@finos" / package
        for name in [*files, "LICENSE.md", "package.json"]:
            target = VENDOR / package / name.removeprefix("dist/")
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(source / name, target)
    total = sum(f.stat().st_size for f in VENDOR.rglob("*") if f.is_file())
    print(f"copied into {VENDOR}: {total / 1e6:.1f} MB")


if __name__ == "__main__":
    main()
