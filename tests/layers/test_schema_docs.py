"""docs/layers.md is generated from the schema and must be up to date."""

from __future__ import annotations

import importlib.util

from tests.conftest import REPO


def test_layers_doc_matches_the_schema():
    spec = importlib.util.spec_from_file_location(
        "make_layers_doc", REPO / "scripts" / "make_layers_doc.py"
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    current = (REPO / "docs" / "layers.md").read_text(encoding="utf-8")
    assert current == module.render(), "run: python scripts/make_layers_doc.py"
