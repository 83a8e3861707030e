"""The folder a report goes to: checked before any work, written whole or not at all.

hiermix never overwrites or deletes a file it did not write. :meth:`ReportDestination.check`
runs before any fitting or sampling and refuses, with one :class:`~hiermix.errors.OutputError`
line, every destination it could not fill safely:

* a name longer than the file system allows, a missing parent folder, a file where a folder
  should be, or a parent folder hiermix cannot write in;
* ``out`` that is a symbolic link (nothing is written through a link);
* ``out`` that would hold or replace a protected file (the data and its types file);
* an existing non-empty ``out``, unless ``overwrite=True``; and even then only when it holds
  nothing but a previous hiermix report: every entry listed in that report's manifest
  (:data:`MANIFEST`), each file unchanged since (same SHA-256), no link, no other file.

:meth:`ReportDestination.write` fills a fresh folder beside ``out`` and then puts it in place
with one rename, so an interrupted run leaves the old report or the new one, never half of each.
Replacing an old report swaps the two folders atomically (Linux ``renameat2`` with
``RENAME_EXCHANGE``; elsewhere two renames in a row) and then removes the old report's files,
one by one as its manifest lists them, after checking them again.
"""

from __future__ import annotations

import contextlib
import ctypes
import errno
import hashlib
import json
import os
import shutil
import stat
import sys
import tempfile
import warnings
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

from ..errors import OutputError

#: The file listing every file and folder hiermix wrote in a report folder, with SHA-256 sums.
MANIFEST = "hiermix-manifest.json"

#: Extra characters a report adds below ``out`` (posterior.zarr/posterior/beta/c/0/0/0 ...).
_DEPTH_MARGIN = 120
_SHOWN = 4


def _name_max(folder: Path) -> int:
    try:
        return int(os.pathconf(folder, "PC_NAME_MAX"))
    except (OSError, ValueError, AttributeError):
        return 255


def _path_max(folder: Path) -> int:
    try:
        return int(os.pathconf(folder, "PC_PATH_MAX"))
    except (OSError, ValueError, AttributeError):
        return 4096


def _sha256(path: Path) -> str:
    flags = os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0)
    fd = os.open(path, flags)
    h = hashlib.sha256()
    with os.fdopen(fd, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def _listing(folder: Path) -> tuple[dict[str, str], list[str]]:
    """Files (relative path -> SHA-256) and sub-folders of a folder hiermix has just filled."""
    files: dict[str, str] = {}
    dirs: list[str] = []
    for root, subdirs, names in os.walk(folder):
        rel = Path(root).relative_to(folder)
        dirs += [(rel / d).as_posix() for d in subdirs]
        for name in names:
            if name != MANIFEST:
                files[(rel / name).as_posix()] = _sha256(Path(root) / name)
    return files, sorted(dirs)


def _read_manifest(folder: Path) -> tuple[dict[str, str], set[str]] | None:
    path = folder / MANIFEST
    try:
        if path.is_symlink() or not path.is_file():
            return None
        raw = json.loads(path.read_text(encoding="utf-8"))
        files, dirs = raw["files"], raw["dirs"]
        if not (isinstance(files, dict) and isinstance(dirs, list)):
            return None
        return {str(k): str(v) for k, v in files.items()}, {str(d) for d in dirs}
    except (OSError, ValueError, KeyError, TypeError):
        return None


def foreign_entries(folder: Path) -> list[str]:
    """Entries of ``folder`` that are not an unchanged part of the hiermix report it holds.

    Parameters
    ----------
    folder : Path
        An existing folder.

    Returns
    -------
    list of str
        Relative paths, with a note for changed files and links; empty when the folder holds
        a hiermix report and nothing else. Links are listed, never followed.
    """
    manifest = _read_manifest(folder)
    if manifest is None:
        return [f"{e.name}" for e in sorted(os.scandir(folder), key=lambda e: e.name)]
    files, dirs = manifest
    out: list[str] = []

    def visit(sub: Path, rel: str) -> None:
        for entry in sorted(os.scandir(sub), key=lambda e: e.name):
            name = f"{rel}{entry.name}"
            if rel == "" and entry.name == MANIFEST:
                continue
            if entry.is_symlink():
                out.append(f"{name} (a link)")
            elif entry.is_dir(follow_symlinks=False):
                if name in dirs:
                    visit(Path(entry.path), name + "/")
                else:
                    out.append(name + "/")
            elif not entry.is_file(follow_symlinks=False):
                out.append(name)
            elif name not in files:
                out.append(name)
            elif _sha256(Path(entry.path)) != files[name]:
                out.append(f"{name} (changed since hiermix wrote it)")

    visit(folder, "")
    return out


def _exchange(a: Path, b: Path) -> bool:
    """Swap two folders in one step (Linux renameat2 RENAME_EXCHANGE); False if unsupported."""
    if not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        renameat2 = libc.renameat2
    except (OSError, AttributeError):
        return False
    at_fdcwd, rename_exchange = -100, 2
    renameat2.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p,
                          ctypes.c_uint]
    if renameat2(at_fdcwd, os.fsencode(a), at_fdcwd, os.fsencode(b), rename_exchange) == 0:
        return True
    err = ctypes.get_errno()
    if err in (errno.EINVAL, errno.ENOSYS, errno.EOPNOTSUPP):
        return False
    raise OSError(err, os.strerror(err), str(b))


def _remove_report(folder: Path) -> None:
    """Delete a replaced report: only the entries its manifest lists, after checking them."""
    if foreign_entries(folder):
        warnings.warn(f"the replaced report in {folder} changed while hiermix ran; it is left "
                      "there for you to inspect", stacklevel=3)
        return
    manifest = _read_manifest(folder)
    if manifest is None:
        return
    files, dirs = manifest
    for rel in files:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(folder / rel)
    for rel in sorted(dirs, key=lambda d: d.count("/"), reverse=True):
        with contextlib.suppress(FileNotFoundError):
            os.rmdir(folder / rel)
    os.unlink(folder / MANIFEST)
    os.rmdir(folder)


@dataclass(frozen=True)
class ReportDestination:
    """A checked report folder; build with :meth:`check`, fill with :meth:`write`.

    Attributes
    ----------
    out : Path
        The folder as given.
    path : Path
        Its absolute form.
    replace : bool
        True when ``out`` holds a previous hiermix report that :meth:`write` replaces.
    """

    out: Path
    path: Path
    replace: bool

    @classmethod
    def check(cls, out: str | os.PathLike[str], overwrite: bool = False,
              protect: Iterable[str | os.PathLike[str] | None] = ()) -> ReportDestination:
        """Refuse any destination a report could not be written to safely (module docstring).

        Parameters
        ----------
        out : path
            The report folder.
        overwrite : bool
            Allow replacing a previous hiermix report in ``out``.
        protect : iterable of path
            Files that must never be replaced (the data, its types file); None entries and
            missing files are skipped.

        Raises
        ------
        OutputError
            With a one-line reason; nothing has been written.
        """
        text = os.fspath(out)
        if not text.strip():
            raise OutputError("the output folder name is empty")
        given = Path(text)
        path = Path(os.path.abspath(given))
        ancestor = path.parent
        # os.path.exists, unlike Path.exists, answers False for a name that is too long
        while not os.path.exists(ancestor) and ancestor != ancestor.parent:
            ancestor = ancestor.parent
        limit = _name_max(ancestor if os.path.isdir(ancestor) else ancestor.parent)
        for part in path.parts:
            n = len(os.fsencode(part))
            if n > limit:
                shown = part if len(part) <= 40 else part[:37] + "..."
                raise OutputError(f"the name {shown!r} in the output folder is {n} bytes long; "
                                  f"this file system allows at most {limit}")
        if len(os.fsencode(str(path))) + _DEPTH_MARGIN > _path_max(
                ancestor if os.path.isdir(ancestor) else ancestor.parent):
            raise OutputError(f"the output folder path is too long ({len(str(path))} "
                              "characters) for the files a report holds; choose a shorter one")
        real_out = Path(os.path.realpath(path))
        for p in protect:
            if p is None or not Path(p).exists():
                continue
            real = Path(os.path.realpath(p))
            if real == real_out or real_out in real.parents:
                raise OutputError(f"the output folder {text} would hold or replace "
                                  f"{os.fspath(p)}, which hiermix only reads; choose another "
                                  "folder")
        parent = path.parent
        if not parent.exists():
            if ancestor.exists() and not ancestor.is_dir():
                raise OutputError(f"{ancestor} is a file, not a folder, so the output folder "
                                  f"{text} cannot be made there")
            raise OutputError(f"the folder {parent} that would hold the output folder {text} "
                              "does not exist; create it first")
        if not parent.is_dir():
            raise OutputError(f"{parent} is a file, not a folder, so the output folder {text} "
                              "cannot be made there")
        replace = False
        if path.is_symlink():
            raise OutputError(f"the output folder {text} is a symbolic link; hiermix does not "
                              "write through links: give the folder itself")
        if path.exists():
            if not path.is_dir():
                raise OutputError(f"the output folder {text} is an existing file, not a "
                                  "folder; hiermix will not replace it")
            if any(os.scandir(path)):
                if not overwrite:
                    raise OutputError(f"the output folder {text} exists and is not empty; "
                                      "pass --overwrite to replace a report hiermix wrote "
                                      "there, or choose a new folder")
                foreign = foreign_entries(path)
                if foreign:
                    shown = ", ".join(foreign[:_SHOWN]) + (
                        f" and {len(foreign) - _SHOWN} more" if len(foreign) > _SHOWN else "")
                    raise OutputError(f"the output folder {text} holds what hiermix did not "
                                      f"write ({shown}); hiermix replaces only a folder that "
                                      "holds its own report and nothing else")
                if not os.access(path, os.W_OK | os.X_OK):
                    raise OutputError(f"cannot replace the report in {text}: permission "
                                      "denied")
                replace = True
        try:
            probe = tempfile.mkdtemp(prefix=".hiermix-probe-", dir=parent)
            os.rmdir(probe)
        except OSError as err:
            raise OutputError(f"cannot write in the folder {parent} that would hold the "
                              f"output folder {text}: {err.strerror or err}") from None
        return cls(out=given, path=path, replace=replace)

    def write(self, fill: Callable[[Path], object]) -> Path:
        """Fill a fresh folder beside ``out`` with ``fill(folder)``, then put it in place.

        Parameters
        ----------
        fill : callable
            Writes the report's files into the folder it is given.

        Returns
        -------
        Path
            ``out``.

        Raises
        ------
        OutputError
            ``out`` changed while the report was written so that it can no longer be
            replaced safely; the new report is left in the folder the message names.
        """
        stage = Path(tempfile.mkdtemp(prefix=f".{self.path.name[:40]}.hiermix-",
                                      dir=self.path.parent))
        try:
            fill(stage)
            files, dirs = _listing(stage)
            (stage / MANIFEST).write_text(json.dumps(
                {"written_by": "hiermix", "files": files, "dirs": dirs}, indent=1),
                encoding="utf-8")
        except BaseException:
            shutil.rmtree(stage, ignore_errors=True)
            raise
        try:
            self._put_in_place(stage)
        except OSError as err:
            raise OutputError(f"could not put the report in {self.out} ({err.strerror or err}); "
                              f"the new report is in {stage}") from None
        return self.out

    def _put_in_place(self, stage: Path) -> None:
        path = self.path
        if not path.exists() and not path.is_symlink():
            # rename refuses a non-empty folder or a file that appeared since the check
            os.rename(stage, path)
            return
        st = os.lstat(path)
        if not stat.S_ISDIR(st.st_mode):
            raise OutputError(f"{self.out} became a file or link while hiermix ran; the new "
                              f"report is in {stage}")
        if not any(os.scandir(path)):
            os.rename(stage, path)
            return
        if not self.replace or foreign_entries(path):
            raise OutputError(f"{self.out} changed while hiermix ran and is no longer only a "
                              f"hiermix report; the new report is in {stage}")
        if _exchange(stage, path):
            _remove_report(stage)
            return
        old = Path(tempfile.mkdtemp(prefix=f".{path.name[:40]}.hiermix-old-", dir=path.parent))
        os.rmdir(old)
        os.rename(path, old)
        try:
            os.rename(stage, path)
        except OSError:
            os.rename(old, path)
            raise
        _remove_report(old)
