"""Shared test helpers: paths to the repository, bundled demo data and ../shared data."""

from __future__ import annotations

from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = REPO.parent / "shared" / "data"
JAMBI = SHARED_DATA / "jambi"


def shared_file(*parts: str) -> Path:
    """Path under ../shared/data, skipping the test with a reason when it is absent."""
    path = SHARED_DATA.joinpath(*parts)
    if not path.exists():
        pytest.skip(f"real data not available here: {path} (CI has ../shared/data)")
    return path


@pytest.fixture
def jambi_codes_dir() -> Path:
    """Folder with the official BPS-Kemendagri bridge and the village crosswalk."""
    return shared_file("jambi", "codes")
