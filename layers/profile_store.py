"""Scoring profiles a workspace can use: the ones saved in it (versioned records) and built-ins.

A profile a meeting agrees is saved as a record in the workspace's ``profiles`` collection,
with who saved it, when and why; each save is a new version, and a save based on an older
version than the latest is refused rather than overwriting someone else's change.
"""

from __future__ import annotations

from dataclasses import dataclass

from layers.errors import N_, NotFoundError
from layers.profiles import ScoringProfile, builtin_profiles
from layers.storage import RecordVersion, Store

__all__ = ["PROFILES", "ProfileEntry", "list_profiles", "load_profile", "save_profile"]

#: Record collection of the profiles saved in a workspace.
PROFILES = "profiles"


@dataclass(frozen=True)
class ProfileEntry:
    """A profile a workspace can use: saved in it, or built in."""

    name: str
    title: str
    source: str  # "saved" or "builtin"
    version: int | None = None
    created_by: str | None = None
    note: str = ""


def list_profiles(store: Store, workspace: str) -> list[ProfileEntry]:
    """Profiles usable in ``workspace``: its saved ones (latest versions), then built-ins.

    Parameters
    ----------
    store : Store
        The store.
    workspace : str
        Workspace name.

    Returns
    -------
    list of ProfileEntry
        A saved profile hides the built-in one of the same name.
    """
    store.get_workspace(workspace)
    entries = []
    for rec in store.list_records(workspace, PROFILES):
        entries.append(
            ProfileEntry(
                rec.name,
                str(rec.body.get("title") or rec.name),
                "saved",
                rec.version,
                rec.created_by,
                rec.note,
            )
        )
    saved = {e.name for e in entries}
    for name, profile in builtin_profiles().items():
        if name not in saved:
            entries.append(ProfileEntry(name, profile.title, "builtin"))
    return entries


def load_profile(
    store: Store, workspace: str, name: str, version: int | None = None
) -> tuple[ScoringProfile, str]:
    """The profile called ``name`` and a reference to it.

    Parameters
    ----------
    store : Store
        The store.
    workspace : str
        Workspace name.
    name : str
        Profile name: a profile saved in the workspace, else a built-in one.
    version : int, optional
        Version of a saved profile (default: the latest).

    Returns
    -------
    tuple
        The profile and its reference: ``"ws/profiles/name@3"`` or ``"builtin:name"``.

    Raises
    ------
    NotFoundError
        When no saved or built-in profile has that name (the message lists them).
    """
    store.get_workspace(workspace)
    saved = {r.name for r in store.list_records(workspace, PROFILES)}
    if name in saved or version is not None:
        rec = store.get_record(workspace, PROFILES, name, version)
        return ScoringProfile.from_dict(rec.body), rec.ref
    builtins = builtin_profiles()
    if name in builtins:
        return builtins[name], f"builtin:{name}"
    known = sorted(saved | set(builtins))
    raise NotFoundError(
        N_("no scoring profile called %(name)r; profiles: %(known)s"),
        params={"name": name, "known": ", ".join(known)},
    )


def save_profile(
    store: Store,
    workspace: str,
    profile: ScoringProfile,
    *,
    user: str | None = None,
    note: str = "",
    expected_version: int | None = None,
) -> RecordVersion:
    """Save a profile in the workspace as a new version.

    Parameters
    ----------
    store : Store
        The store.
    workspace : str
        Workspace name.
    profile : ScoringProfile
        The profile (checked before anything is written).
    user : str, optional
        Who agreed or saved it.
    note : str
        Why: e.g. the meeting that agreed the weights.
    expected_version : int, optional
        The version the change was based on; a newer saved version raises
        :class:`layers.storage.ConflictError` instead of being overwritten.

    Returns
    -------
    RecordVersion
    """
    if not isinstance(profile, ScoringProfile):
        raise ValueError(f"profile must be a ScoringProfile, not {type(profile).__name__}")
    profile.check()
    return store.put_record(
        workspace,
        PROFILES,
        profile.name,
        profile.to_dict(),
        created_by=user,
        note=note,
        expected_version=expected_version,
    )
