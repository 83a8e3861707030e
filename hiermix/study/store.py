"""A study's store on disk: one small CSV per finished block of replicates.

Layout of the store directory::

    manifest.json                      what the study is (formula, truth, methods, seed ...)
    c0000_r00000000_00000010.csv       condition 0, replicates 0..9 (stop exclusive)

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
_BLOCK = re.compile(r"^c(\d{4})_r(\d{8})_(\d{8})\.csv$")


def block_name(cond: int, start: int, stop: int) -> str:
    return f"c{cond:04d}_r{start:08d}_{stop:08d}.csv"


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

    def done(self, cond: int) -> set[int]:
        """Replicate indices of condition ``cond`` already stored."""
        out: set[int] = set()
        for name in os.listdir(self.path):
            m = _BLOCK.match(name)
            if m and int(m.group(1)) == cond:
                out.update(range(int(m.group(2)), int(m.group(3))))
        return out

    def write_block(self, cond: int, start: int, stop: int, rows: pd.DataFrame) -> Path:
        """Write one finished block atomically (temporary file, then rename)."""
        file = self.path / block_name(cond, start, stop)
        tmp = file.with_suffix(".tmp")
        rows.to_csv(tmp, index=False, float_format="%.17g")
        os.replace(tmp, file)
        return file

    def read(self, cond: int, nsim: int) -> pd.DataFrame:
        """Every stored row of condition ``cond`` with rep < nsim."""
        frames = []
        for name in sorted(os.listdir(self.path)):
            m = _BLOCK.match(name)
            if m and int(m.group(1)) == cond and int(m.group(2)) < nsim:
                frames.append(pd.read_csv(self.path / name,
                                          dtype={"error": object, "interval_error": object}))
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
