"""Staged, atomic outputs: the one way medkg writes a file or a folder.

Every command that writes goes through :func:`staged_folder` or :func:`staged_file`:

- the output is written into a staging path **beside** the target (same filesystem),
  named ``.<name>.medkg-stage-<pid>-<rand>``, and only swapped in when complete;
- a folder is swapped with one ``renameat2(RENAME_EXCHANGE)`` call, so there is no
  moment where nothing exists at the target; where the kernel or filesystem lacks it,
  the old folder is renamed aside first and :func:`recover` (run before every staged
  write and by readers) puts it back if a crash hit between the two renames;
- staging left behind by a killed process (its pid no longer runs) is removed on the
  next write next to the same target;
- a folder output carries a marker file, ``.medkg-output.json``, naming the command
  kind that wrote it. An existing folder is replaced only when it is empty or carries
  the marker of the **same** kind (or is recognised as that kind's output from before
  the marker existed); anything else is refused with a clear message and left untouched;
- a full disk is reported as :class:`~medkg.errors.OutputError` (one line, exit 2 in
  the CLI), with the staging removed.

A single file named by the user (``--out results.json``) is replaced like any ``-o``
option would; a folder at that path is refused.
"""

from __future__ import annotations

import contextlib
import ctypes
import errno
import json
import logging
import os
import secrets
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from medkg.errors import OutputError
from medkg.processes import pid_alive

log = logging.getLogger(__name__)

MARKER = ".medkg-output.json"
MARKER_FORMAT = "medkg-output/1"
STAGE = "medkg-stage"
ASIDE = "medkg-old"
# Older medkg versions staged as ``.<name>.tmp-<pid>`` / ``.<name>.old-<pid>``.
LEGACY_STAGES = ("tmp", "old")
_NO_SPACE = (errno.ENOSPC, errno.EDQUOT)
_RENAME_EXCHANGE = 2
_AT_FDCWD = -100

Recogniser = Callable[[Path], bool]


# ----------------------------------------------------------------------------- ownership
def read_marker(folder: Path) -> dict[str, Any] | None:
    """The marker of a folder medkg wrote, or ``None`` when it has none (or a broken one)."""
    try:
        data = json.loads((folder / MARKER).read_text("utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(data, dict) or data.get("format") != MARKER_FORMAT:
        return None
    return data


def legacy_manifest(file_name: str = "manifest.json", /, **fields: Any) -> Recogniser:
    """Recognise a folder written by medkg before the marker existed: its ``file_name``
    (JSON) holds every key in ``fields`` (with that value unless the value is ``...``)."""

    def recognise(folder: Path) -> bool:
        try:
            data = json.loads((folder / file_name).read_text("utf-8"))
        except (OSError, ValueError):
            return False
        if not isinstance(data, dict):
            return False
        return all(k in data and (v is ... or data[k] == v) for k, v in fields.items())

    return recognise


def legacy_files(*names: str) -> Recogniser:
    """Recognise an old output by its exact file list (e.g. a Parquet graph export)."""
    wanted = set(names)

    def recognise(folder: Path) -> bool:
        return {p.name for p in folder.iterdir()} == wanted

    return recognise


def check_folder_target(target: str | os.PathLike[str], kind: str,
                        legacy: Recogniser | None = None) -> Path:  # fmt: skip
    """Raise :class:`OutputError` unless ``target`` may receive a ``kind`` folder output:
    it does not exist, is an empty folder, or is a folder medkg wrote for ``kind``.
    Returns the absolute target. Cheap: call it before any work starts."""
    path = _absolute(target)
    if path.exists() and not path.is_dir():
        raise OutputError(f"{path} is a file, not a folder: give a folder path for the output")
    if not path.is_dir():
        if path.parent.exists() and not path.parent.is_dir():
            raise OutputError(f"{path.parent} is a file, not a folder")
        return path
    try:
        empty = not any(path.iterdir())
    except PermissionError as exc:
        raise OutputError(f"{path}: cannot read the folder ({exc.strerror})") from None
    if empty:
        return path
    marker = read_marker(path)
    if marker is not None:
        if marker.get("kind") == kind:
            return path
        raise OutputError(
            f"{path} holds a medkg {marker.get('kind')!r} output, not a {kind!r} one: "
            "refusing to overwrite it (choose another folder)"
        )
    if legacy is not None and legacy(path):
        return path
    raise OutputError(
        f"{path} is a non-empty folder that medkg did not write: refusing to overwrite it "
        "(choose a new or empty folder)"
    )


def _absolute(target: str | os.PathLike[str]) -> Path:
    path = Path(os.path.abspath(os.fspath(Path(target).expanduser())))
    return path.resolve() if path.is_symlink() else path


# ----------------------------------------------------------------------------- recovery
def _staging_pid(name: str, target_name: str) -> tuple[str, int] | None:
    """``(role, pid)`` when ``name`` is staging or an aside copy of ``target_name``."""
    prefix = f".{target_name}."
    if not name.startswith(prefix):
        return None
    rest = name[len(prefix) :]
    role, _, tail = rest.partition("-")
    if role == "medkg":  # "medkg-stage-<pid>-..." / "medkg-old-<pid>-..."
        sub, _, tail = tail.partition("-")
        role = f"medkg-{sub}"
        if role not in (STAGE, ASIDE):
            return None
    elif role not in LEGACY_STAGES:
        return None
    pid_text = tail.split("-", 1)[0].split(".", 1)[0]
    if not pid_text.isdigit():
        return None
    return role, int(pid_text)


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path, ignore_errors=True)
    else:
        with contextlib.suppress(FileNotFoundError):
            path.unlink()


def recover(target: str | os.PathLike[str]) -> None:
    """Finish or undo a swap a crash interrupted, and remove dead processes' staging.

    If the target is missing and an aside copy of it exists (a crash between the two
    renames of the fallback swap), the aside copy is renamed back. Staging and aside
    copies whose process is gone are then deleted. Safe to call at any time."""
    path = _absolute(target)
    parent = path.parent
    if not parent.is_dir():
        return
    try:
        siblings = list(parent.iterdir())
    except OSError:
        return
    found = [(p, _staging_pid(p.name, path.name)) for p in siblings]
    ours = [(p, rp) for p, rp in found if rp is not None]
    if not path.exists():
        asides = sorted(
            (p for p, (role, _) in ours if role in (ASIDE, "old") and p.is_dir()),
            key=lambda p: p.stat().st_mtime,
            reverse=True,
        )
        if asides:
            with contextlib.suppress(OSError):
                os.rename(asides[0], path)
                log.warning("restored %s from %s (a swap was interrupted)", path, asides[0].name)
    for p, (_role, pid) in ours:
        if p.exists() and not pid_alive(pid):
            log.info("removing %s, left behind by process %d", p, pid)
            _remove(p)


# ----------------------------------------------------------------------------- swapping
def _exchange(a: Path, b: Path) -> bool:
    """Atomically swap two paths (Linux renameat2); False where unsupported."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        fn = libc.renameat2
    except (OSError, AttributeError):
        return False
    rc = fn(_AT_FDCWD, os.fsencode(a), _AT_FDCWD, os.fsencode(b), _RENAME_EXCHANGE)
    if rc == 0:
        return True
    err = ctypes.get_errno()
    if err in (errno.ENOSYS, errno.EINVAL, errno.ENOTSUP, errno.EOPNOTSUPP):
        return False
    raise OSError(err, os.strerror(err), str(b))


def _swap_in(stage: Path, target: Path) -> None:
    """Put the finished ``stage`` folder at ``target``; the old one is deleted after."""
    if not target.exists():
        os.rename(stage, target)
        return
    if _exchange(stage, target):
        _remove(stage)  # now holds the previous output
        return
    aside = target.with_name(f".{target.name}.{ASIDE}-{os.getpid()}-{secrets.token_hex(4)}")
    os.rename(target, aside)
    try:
        os.rename(stage, target)
    except BaseException:
        os.rename(aside, target)
        raise
    _remove(aside)


def _no_space(exc: BaseException) -> bool:
    return isinstance(exc, OSError) and exc.errno in _NO_SPACE


@contextlib.contextmanager
def staged_folder(target: str | os.PathLike[str], kind: str, *,
                  legacy: Recogniser | None = None) -> Iterator[Path]:  # fmt: skip
    """Yield an empty staging folder; on a clean exit it replaces ``target`` atomically.

    ``kind`` names the command that writes (``"synth"``, ``"kg-export"`` ...); an existing
    ``target`` must pass :func:`check_folder_target` for that kind. On any error the
    staging is removed and ``target`` is untouched; a full disk becomes
    :class:`OutputError`."""
    path = _absolute(target)
    recover(path)
    check_folder_target(path, kind, legacy)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        stage = path.with_name(f".{path.name}.{STAGE}-{os.getpid()}-{secrets.token_hex(4)}")
        stage.mkdir()
    except OSError as exc:
        raise _output_error(exc, path) from None
    with _removed_on_failure(stage, path):
        yield stage
        (stage / MARKER).write_text(
            json.dumps({"format": MARKER_FORMAT, "kind": kind}, sort_keys=True) + "\n",
            encoding="utf-8",
        )
        # The target may have appeared while we worked: check again just before the swap.
        check_folder_target(path, kind, legacy)
        _swap_in(stage, path)


@contextlib.contextmanager
def staged_file(target: str | os.PathLike[str]) -> Iterator[Path]:
    """Yield a staging path beside ``target`` (same suffix, so writers that look at the
    extension work); on a clean exit it is fsynced and renamed over ``target``."""
    path = _absolute(target)
    if path.is_dir():
        raise OutputError(f"{path} is a folder: give a file path for the output")
    recover(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise _output_error(exc, path) from None
    stage = path.with_name(
        f".{path.name}.{STAGE}-{os.getpid()}-{secrets.token_hex(4)}{''.join(path.suffixes)}"
    )
    with _removed_on_failure(stage, path):
        yield stage
        if not stage.is_file():
            raise OutputError(f"{path}: the writer produced no file")
        fd = os.open(stage, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(stage, path)


@contextlib.contextmanager
def _removed_on_failure(stage: Path, path: Path) -> Iterator[None]:
    """Remove the staging ``stage`` when the block fails (the target is untouched); a full
    disk becomes a one-line :class:`OutputError` naming ``path``."""
    try:
        yield
    except OSError as exc:
        _remove(stage)
        if isinstance(exc, OutputError):
            raise
        if _no_space(exc):
            raise _output_error(exc, path) from None
        raise
    except BaseException:
        _remove(stage)
        raise


def _output_error(exc: OSError, path: Path) -> OutputError:
    if _no_space(exc):
        return OutputError(f"no space left on the device while writing {path}")
    reason = exc.strerror or str(exc)
    return OutputError(f"cannot write {path}: {reason}")


def write_text(path: str | os.PathLike[str], text: str) -> Path:
    """Write ``text`` (UTF-8) to ``path`` atomically."""
    with staged_file(path) as tmp:
        tmp.write_text(text, encoding="utf-8")
    return _absolute(path)


def write_bytes(path: str | os.PathLike[str], data: bytes) -> Path:
    """Write ``data`` to ``path`` atomically."""
    with staged_file(path) as tmp:
        tmp.write_bytes(data)
    return _absolute(path)


def write_json(path: str | os.PathLike[str], data: Any, **dumps: Any) -> Path:
    """Write ``data`` as JSON to ``path`` atomically (``dumps`` go to :func:`json.dumps`)."""
    return write_text(path, json.dumps(data, **dumps))


__all__ = [
    "MARKER",
    "check_folder_target",
    "legacy_files",
    "legacy_manifest",
    "read_marker",
    "recover",
    "staged_file",
    "staged_folder",
    "write_bytes",
    "write_json",
    "write_text",
]
