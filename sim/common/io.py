"""Writing outputs so that they are never half-written.

A run that fails or is interrupted must not leave a directory that looks like a finished result,
and must not destroy the result of an earlier run. So outputs are built in a temporary sibling of
their final path and renamed into place only when complete: a rename within one filesystem is
atomic, so a reader sees either the old output or the new one, never a mixture.

>>> import tempfile, pathlib
>>> root = pathlib.Path(tempfile.mkdtemp())
>>> with output_dir(root / "world", force=False) as tmp:
...     atomic_write_text(tmp / "manifest.txt", "done\\n")
>>> (root / "world" / "manifest.txt").read_text()
'done\\n'
"""

from __future__ import annotations

import contextlib
import os
import secrets
import shutil
from collections.abc import Iterator
from pathlib import Path

from sim.common.errors import OutputError, OutputExistsError

__all__ = ["output_dir", "check_output_dir", "check_writable", "atomic_write_bytes", "atomic_write_text", "OUTPUT_MARKERS",
           "remove_stale"]

#: The files at the top of every directory matchsim writes, one of which makes an existing
#: directory one that ``--force`` may replace: a world's manifest, a run's, study's or link's
#: summary, a sweep's manifest.
OUTPUT_MARKERS = ("manifest.json", "summary.json", "sweep.json")


def check_output_dir(path: str | Path, *, force: bool, inputs=()) -> None:
    """Raise :class:`OutputExistsError` unless ``path`` may become an output directory.

    ``path`` may be absent, or an existing directory when ``force`` is true. ``--force`` replaces
    only what matchsim wrote, so even with it these are refused, none of which matchsim can give
    back once deleted:

    * a file: replacing a file by a directory is almost always a mistyped ``-o`` (pointing at the
      config, say);
    * a directory holding the current working directory (``-o . --force``);
    * a non-empty directory without any of :data:`OUTPUT_MARKERS` (``-o configs --force``);
    * a directory holding one of ``inputs``, the files the command reads (``link A/people.csv
      ... -o A --force``, ``generate A/scenario.toml -o A --force``).

    :func:`output_dir` calls this before doing anything; callers may also call it early to fail
    before slow work such as importing the generator, and must then pass their ``inputs``.
    """
    _check(Path(os.path.abspath(path)), shown=str(path), force=force, inputs=inputs)
    check_writable(Path(os.path.abspath(path)).parent, shown=str(path))


def check_writable(folder: str | Path, *, shown: str | None = None) -> None:
    """Raise :class:`OutputError` unless a directory can be made in ``folder`` (or in its
    nearest existing ancestor, where the missing ones would be made): checked by making and
    removing one, as permissions alone do not tell (root on a read-only filesystem, /sys)."""
    folder = Path(os.path.abspath(folder))
    existing = folder
    while not existing.exists() and existing != existing.parent:
        existing = existing.parent
    shown = shown or str(folder)
    if not existing.is_dir():
        raise OutputError(f"cannot write '{shown}': '{existing}' is not a directory; choose another -o")
    try:
        probe = _make_sibling_dir(existing / ".matchsim-probe", "probe")
        probe.rmdir()
    except OSError as exc:
        raise OutputError(f"cannot write '{shown}': {exc.strerror or exc} in '{existing}'; choose a directory you "
                          "can write to (-o), or fix its permissions") from None


def _check(final: Path, *, shown: str, force: bool, inputs=()) -> None:
    if final.exists() and not final.is_dir():
        raise OutputExistsError(
            f"output path exists and is not a directory: '{shown}'; "
            f"choose another -o (--force only replaces directories)"
        )
    if not final.exists():
        return
    if not force:
        raise OutputExistsError(
            f"output directory exists: '{shown}'; pass --force to replace it, or choose another -o"
        )
    cwd = Path.cwd().resolve()
    target = final.resolve()
    if target == cwd or target in cwd.parents:
        raise OutputExistsError(
            f"refusing to replace '{shown}': it contains the current working directory; choose another -o"
        )
    for given in inputs:
        source = Path(os.path.abspath(given)).resolve()
        if source == target or target in source.parents:
            raise OutputExistsError(
                f"refusing to replace '{shown}': it holds '{given}', an input of this command, which --force would "
                f"delete; choose another -o, or move the input out of it first"
            )
    entries = sorted(p.name for p in final.iterdir())
    if entries and not any(name in entries for name in OUTPUT_MARKERS):
        listed = ", ".join(f"'{n}'" for n in entries[:5]) + (f", ... ({len(entries)} in all)" if len(entries) > 5 else "")
        raise OutputExistsError(
            f"refusing to replace '{shown}': it is not empty ({listed}) and is not a matchsim output (it has none of "
            f"{', '.join(OUTPUT_MARKERS)}), and --force replaces only what matchsim wrote; choose another -o, "
            f"or empty it yourself"
        )


@contextlib.contextmanager
def output_dir(path: str | Path, *, force: bool, inputs=()) -> Iterator[Path]:
    """Yield a fresh temporary directory that becomes ``path`` when the block ends without error.

    The temporary directory is a sibling of ``path`` named ``<name>.tmp-<pid>-<random>``, so the
    final rename stays on one filesystem and is atomic. Missing parent directories are created.

    - If ``path`` exists and ``force`` is false, :class:`OutputExistsError` is raised before any
      work is done (see :func:`check_output_dir` for the other refusals, ``inputs`` among them).
    - With ``force``, the old directory is renamed aside and deleted only after the new one is in
      place, so a failure at any point leaves a complete output: the old or the new.
    - If the block raises (including ``KeyboardInterrupt``), the temporary directory is removed
      and the exception propagates; an existing ``path`` is left as it was.

    Only a hard kill (SIGKILL, power loss) can leave a ``<name>.tmp-<pid>-*`` directory behind;
    it is never mistaken for a result, and the next output written there removes it once its
    process is gone (:func:`remove_stale`).
    """
    check_output_dir(path, force=force, inputs=inputs)
    final = Path(os.path.abspath(path))
    try:
        final.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise OutputError(f"cannot write '{path}': {exc.strerror or exc}; choose a directory you can write to (-o), "
                          "or fix its permissions") from None
    for kind in ("tmp", "old"):      # what a killed run left beside this output
        remove_stale(final.parent, f"{final.name}.{kind}-")
    try:
        tmp = _make_sibling_dir(final, "tmp")
    except OSError as exc:
        raise OutputError(f"cannot write '{path}': {exc.strerror or exc}; choose a directory you can write to (-o), "
                          "or fix its permissions") from None
    try:
        yield tmp
        _move_into_place(tmp, final, shown=str(path), force=force, inputs=inputs)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def atomic_write_bytes(path: str | Path, data: bytes) -> None:
    """Write ``data`` to ``path`` so that readers see the old content or the new, never part.

    The bytes go to a temporary file in the same directory, are flushed to disk (``fsync``), and
    the file is renamed over ``path`` with :func:`os.replace`. The new file gets the usual
    permissions (0666 less the umask), not the owner-only mode of :mod:`tempfile`. Missing parent
    directories are created.
    """
    path = Path(path)
    if path.is_dir():
        raise OutputExistsError(
            f"cannot write file '{path}': a directory is in the way; remove it or choose another path"
        )
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}-{secrets.token_hex(4)}")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()
        raise
    _fsync_dir(path.parent)


def atomic_write_text(path: str | Path, text: str, *, encoding: str = "utf-8") -> None:
    """Write ``text`` to ``path`` atomically (see :func:`atomic_write_bytes`); newlines kept as given."""
    atomic_write_bytes(path, text.encode(encoding))


def remove_stale(folder: Path, prefix: str) -> list[Path]:
    """Remove the directories in ``folder`` named ``<prefix><pid>-...`` whose process ``pid`` is
    gone: what a run killed outright (SIGKILL) left behind. A directory of a live process, of
    another user's process, or without a process id in its name is kept. Returns those removed."""
    removed = []
    try:
        entries = list(folder.iterdir())
    except OSError:
        return removed
    for entry in entries:
        rest = entry.name[len(prefix):] if entry.name.startswith(prefix) else ""
        pid = rest.split("-", 1)[0]
        if not pid.isdigit() or not entry.is_dir() or entry.is_symlink() or _alive(int(pid)):
            continue
        shutil.rmtree(entry, ignore_errors=True)
        removed.append(entry)
    return removed


def _alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OverflowError):
        return True         # another user's process, or not a pid we can ask about: keep its files
    return True


# --------------------------------------------------------------------------------------------


def _make_sibling_dir(final: Path, kind: str) -> Path:
    """Create ``<name>.<kind>-<pid>-<random>`` next to ``final``; mode follows the umask."""
    while True:
        candidate = final.with_name(f"{final.name}.{kind}-{os.getpid()}-{secrets.token_hex(4)}")
        try:
            candidate.mkdir()
        except FileExistsError:
            continue
        return candidate


def _move_into_place(tmp: Path, final: Path, *, shown: str, force: bool, inputs=()) -> None:
    # Checked again: the directory may have appeared while the work ran, and os.rename would
    # silently replace an empty one.
    _check(final, shown=shown, force=force, inputs=inputs)
    if not final.exists():
        os.rename(tmp, final)
        _fsync_dir(final.parent)
        return
    aside = final.with_name(f"{final.name}.old-{os.getpid()}-{secrets.token_hex(4)}")
    os.rename(final, aside)
    try:
        os.rename(tmp, final)
    except BaseException:
        os.rename(aside, final)
        raise
    _fsync_dir(final.parent)
    # The new output is in place; failing to delete the old one must not fail the run. A leftover
    # '<name>.old-*' directory is named so that it is recognisable.
    if aside.is_symlink():
        aside.unlink()
    else:
        shutil.rmtree(aside, ignore_errors=True)


def _fsync_dir(directory: Path) -> None:
    """Flush a directory entry (a rename) to disk; a no-op where directories cannot be opened."""
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)
