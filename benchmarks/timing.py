"""What every benchmark script shares: best-of-N timing, running an R peer, and the table.

The scripts are run as ``python benchmarks/<name>.py``, so this module is imported by name.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import pandas as pd


def best_time(fn: Callable[[], Any], repeat: int, warmup: bool = False) -> tuple[float, Any]:
    """The shortest of ``repeat`` wall times of ``fn()`` (after one untimed call if
    ``warmup``), and the last result."""
    if warmup:
        fn()
    best, out = float("inf"), None
    for _ in range(max(repeat, 1)):
        t = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - t)
    return best, out


def print_table(ours: Sequence[tuple[str, float, float]],
                peers: Sequence[tuple[str, tuple[float, float] | str]], criterion: str) -> None:
    """Rows (engine, seconds, ratio to the first of ``ours``, criterion, difference).

    A peer given as a string could not run; the string says why.
    """
    ref_t, ref_obj = ours[0][1], ours[0][2]
    print(f"  {'engine':16s} {'seconds':>10s} {'x hiermix':>10s} {criterion:>18s} "
          f"{'minus hiermix':>14s}")
    rows: list[tuple[str, tuple[float, float] | str]] = [(n, (t, o)) for n, t, o in ours]
    for name, res in [*rows, *peers]:
        if isinstance(res, str):
            print(f"  {name:16s} {'-':>10s}  ({res})")
        else:
            t, obj = res
            print(f"  {name:16s} {t:10.4f} {t / ref_t:10.2f} {obj:18.6f} {obj - ref_obj:14.2e}")


def run_rscript(script: str, data: pd.DataFrame, args: Sequence[str]) -> dict[str, float] | str:
    """Run an R script on ``data`` (written to CSV) and read the JSON object its last line prints.

    The script receives the CSV path, then ``args``, then the comma-joined names of the
    categorical columns (which it must turn into factors). Returns a reason instead when
    ``Rscript`` is missing or the script fails.
    """
    rscript = shutil.which("Rscript")
    if rscript is None:
        return "Rscript not on PATH"
    factors = [c for c in data.columns if isinstance(data[c].dtype, pd.CategoricalDtype)]
    with tempfile.TemporaryDirectory() as tmp:
        csv = Path(tmp) / "data.csv"
        path = Path(tmp) / "fit.R"
        data.to_csv(csv, index=False)
        path.write_text(script)
        proc = subprocess.run([rscript, str(path), str(csv), *args, ",".join(factors)],
                              capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        tail = proc.stderr.strip().splitlines()[-1:]
        return "R failed: " + (tail[0] if tail else f"exit {proc.returncode}")
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    return {k: float(v) for k, v in out.items()}
