"""Copy the front-end files the web app serves from node_modules/ into geoapp/static/vendor/.

Run after ``npm ci`` (``scripts/setup.sh`` does both). Idempotent: files whose bytes are
already in place are left alone. Writes ``vendor/VERSIONS.json`` naming each package's
version, so a page or a test can tell which build is served. Nothing is downloaded here.

Usage: python scripts/install_assets.py [--check]
"""

from __future__ import annotations

import argparse
import filecmp
import json
import shutil
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from geoapp.assets import VENDOR_DIR, VENDOR_FILES  # noqa: E402

NODE_MODULES = ROOT / "node_modules"


def _files(source: Path, dest: Path) -> list[tuple[Path, Path]]:
    if source.is_dir():
        return [(p, dest / p.relative_to(source)) for p in sorted(source.rglob("*")) if p.is_file()]
    return [(source, dest)]


def plan(node_modules: Path = NODE_MODULES, vendor: Path = VENDOR_DIR) -> list[tuple[Path, Path]]:
    """Return every (source, destination) file pair, or exit naming what is missing."""
    pairs: list[tuple[Path, Path]] = []
    missing = []
    for package, inside, target in VENDOR_FILES:
        source = node_modules / package / inside
        if not source.exists():
            missing.append(f"{package}/{inside}")
            continue
        pairs.extend(_files(source, vendor / target))
    if missing:
        sys.exit(
            "install_assets: missing in node_modules (run `npm ci` first): " + ", ".join(missing)
        )
    return pairs


def versions(node_modules: Path = NODE_MODULES) -> dict[str, str]:
    """Installed version of each vendor package, read from its package.json."""
    out = {}
    for package in sorted({p for p, _, _ in VENDOR_FILES}):
        meta = json.loads((node_modules / package / "package.json").read_text(encoding="utf-8"))
        out[package] = meta["version"]
    return out


def main(argv: list[str] | None = None) -> int:
    """Copy the files; with ``--check`` only report whether they are up to date."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="exit 1 when a file is stale")
    args = parser.parse_args(argv)
    pairs = plan()
    stale = [
        (src, dst) for src, dst in pairs if not dst.exists() or not filecmp.cmp(src, dst, False)
    ]
    if args.check:
        for _, dst in stale:
            print(f"stale: {dst.relative_to(ROOT)}")
        return 1 if stale else 0
    for src, dst in stale:
        dst.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(src, dst)
    manifest = VENDOR_DIR / "VERSIONS.json"
    text = json.dumps(versions(), indent=2, sort_keys=True) + "\n"
    if not manifest.exists() or manifest.read_text(encoding="utf-8") != text:
        manifest.write_text(text, encoding="utf-8")
    where = VENDOR_DIR.relative_to(ROOT)
    print(f"install_assets: {len(pairs)} files in {where} ({len(stale)} copied)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
