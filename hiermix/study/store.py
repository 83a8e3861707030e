"""A study's store on disk: one small CSV per finished block of replicates.

Layout of the store directory::

    manifest.json                      what the study is (formula, truth, methods, seed ...)
    c0000_m01_r00000000_00000010.csv   condition 0, method 1 (of the manifest's list),
                                       replicates 0..9 (stop exclusive)

A block holds one method, so each method's replicates are stored as they finish, whatever the
other methods' pace. Stores written before blocks were split by method hold every method in
``c0000_r00000000_00000010.csv``; they are read as they are, and their replicates count as
done for every method.

A block is written once, to a temporary name and renamed, so a killed study leaves only
complete blocks behind. A rerun reads the manifest, refuses a different study, and computes
only the replicates no block holds; a larger ``nsim`` adds blocks, never rewrites one. CSV
keeps the store readable without hiermix; floats are written with 17 significant digits and
read back exactly.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path
from typing import Any

import pandas as pd

from ..errors import DataError

MANIFEST = "manifest.json"
_BLOCK = re.compile(r"^c(\d{4})(?:_m(\d{2,}))?_r(\d{8})_(\d{8})\.csv$")


def block_name(cond: int, start: int, stop: int, method: int | None = None) -> str:
    """The file of replicates start..stop-1 of condition ``cond`` and method number
    ``method`` (None: every method, the layout of older stores)."""
    m = "" if method is None else f"_m{method:02d}"
    return f"c{cond:04d}{m}_r{start:08d}_{stop:08d}.csv"


def _blocks(names: list[str], cond: int) -> list[tuple[str, int | None, int, int]]:
    """(file name, method or None, start, stop) of condition ``cond``'s blocks."""
    out = []
    for name in sorted(names):
        hit = _BLOCK.match(name)
        if hit and int(hit.group(1)) == cond:
            method = None if hit.group(2) is None else int(hit.group(2))
            out.append((name, method, int(hit.group(3)), int(hit.group(4))))
    return out


class StudyStore:
    """The store directory of one study (see the module docstring)."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)

    def open(self, manifest: dict[str, Any]) -> None:
        """Create the directory and manifest, or check an existing one is the same study.

        Raises
        ------
        DataError
            The path is a file, or a directory holding a different study or files this
            store did not write.
        """
        if self.path.exists() and not self.path.is_dir():
            raise DataError(f"store {str(self.path)!r} is a file, not a directory")
        self.path.mkdir(parents=True, exist_ok=True)
        file = self.path / MANIFEST
        text = json.dumps(manifest, indent=1, sort_keys=True, default=str)
        if not file.exists():
            foreign = [p.name for p in self.path.iterdir()]
            if foreign:
                raise DataError(f"store {str(self.path)!r} holds files it did not write "
                                f"({foreign[:3]}); give an empty or new directory")
            self._write_text(file, text)
            return
        old = json.loads(file.read_text())
        new = json.loads(text)
        diff = sorted(k for k in set(old) | set(new) if old.get(k) != new.get(k))
        if diff:
            raise DataError(f"store {str(self.path)!r} holds a different study: {diff} "
                            "differ; give another store directory")

    def done(self, cond: int, method: int) -> set[int]:
        """Replicate indices of condition ``cond`` already stored for method number
        ``method``."""
        out: set[int] = set()
        for _, m, start, stop in _blocks(os.listdir(self.path), cond):
            if m is None or m == method:
                out.update(range(start, stop))
        return out

    def write_block(self, cond: int, start: int, stop: int, rows: pd.DataFrame,
                    method: int | None = None) -> Path:
        """Write one finished block atomically (temporary file, then rename)."""
        file = self.path / block_name(cond, start, stop, method)
        tmp = file.with_suffix(".tmp")
        rows.to_csv(tmp, index=False, float_format="%.17g")
        os.replace(tmp, file)
        return file

    def read(self, cond: int, nsim: int) -> pd.DataFrame:
        """Every stored row of condition ``cond`` with rep < nsim."""
        frames = [pd.read_csv(self.path / name, dtype={"error": object, "interval_error": object})
                  for name, _, start, _ in _blocks(os.listdir(self.path), cond) if start < nsim]
        if not frames:
            return pd.DataFrame()
        out = pd.concat(frames, ignore_index=True)
        return out[out["rep"] < nsim]

    @staticmethod
    def _write_text(file: Path, text: str) -> None:
        tmp = file.with_suffix(".tmp")
        tmp.write_text(text)
        os.replace(tmp, file)


def plan_blocks(done: set[int], nsim: int, block_size: int) -> list[tuple[int, int]]:
    """The (start, stop) blocks covering replicates 0..nsim-1 not in ``done``, cut at
    multiples of ``block_size`` so that reruns with a larger nsim line up."""
    if block_size < 1:
        raise DataError(f"block_size must be >= 1; got {block_size}")
    out = []
    start = None
    for i in range(nsim + 1):
        missing = i < nsim and i not in done
        if missing and start is None:
            start = i
        cut = i % block_size == 0 and start is not None and start < i
        if start is not None and (not missing or cut):
            out.append((start, i))
            start = i if missing else None
    return out
