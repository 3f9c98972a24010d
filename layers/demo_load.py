"""Load the bundled demo area (Kabupaten Merangin) into a store.

Every bundled file goes through the same :func:`layers.importer.import_into_store` that a
coordinator's own files go through, so the demo shows real validation reports. Loading is
idempotent: a file already stored as the latest version, with the same options, is skipped.
"""

from __future__ import annotations

from collections.abc import Callable

from layers.codes import CodeBridge
from layers.demo import DEMO_DIR, DEMO_TITLE, DEMO_WORKSPACE, demo_manifest
from layers.errors import NotFoundError
from layers.importer import IMPORT_KINDS, ImportOutcome, import_into_store
from layers.report import N_
from layers.storage.base import Store

__all__ = ["load_demo"]

DEMO_DESCRIPTION = N_(
    "Demo area bundled with Jangkau: the villages, health facilities, PODES and IDM "
    "of Kabupaten Merangin, Jambi, with simulated needs reports and population"
)

#: Order matters: villages first, so facilities and needs are placed in them.
_ORDER = {"villages": 0, "facilities": 1, "needs": 2, "indicators": 3, "raster": 4}


def load_demo(
    store: Store,
    workspace: str = DEMO_WORKSPACE,
    *,
    progress: Callable[[str, int, int], None] | None = None,
    user: str | None = None,
) -> list[ImportOutcome]:
    """Import the bundled demo area into ``workspace`` (created when missing).

    Parameters
    ----------
    store : Store
        Target store (initialised).
    workspace : str
        Workspace name, ``"merangin"`` by default.
    progress : callable, optional
        Called as ``progress(dataset_name, done, total)`` before each file.
    user : str, optional
        Recorded as the importer.

    Returns
    -------
    list of ImportOutcome
        One per imported file, in import order. Rows the bundle knows to be unmatched
        (e.g. PODES villages with no Kemendagri code) are kept in the reports.
    """
    try:
        store.get_workspace(workspace)
    except NotFoundError:
        store.create_workspace(
            workspace,
            title=DEMO_TITLE,
            description=DEMO_DESCRIPTION,
        )
    files = sorted(
        (f for f in demo_manifest() if f.kind in IMPORT_KINDS),
        key=lambda f: (_ORDER[f.kind], f.name),
    )
    bridge = CodeBridge.from_directory(DEMO_DIR / "codes")
    outcomes = []
    for done, item in enumerate(files):
        if progress is not None:
            progress(item.name, done, len(files))
        outcomes.append(
            import_into_store(
                store,
                workspace,
                item.path,
                item.kind,
                name=item.name,
                code_system=item.code_system,
                bridge=bridge,
                skip_rejected=True,
                user=user,
                note=item.description,
            )
        )
    if progress is not None:
        progress("", len(files), len(files))
    return outcomes
