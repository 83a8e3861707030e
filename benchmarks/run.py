"""Run every benchmark in turn: linear mixed models, GLMMs, the Bayesian engine.

Each script times hiermix and its peers on the same data in one run and prints times, ratios
and criterion differences; see ``benchmarks/README.md``. Arguments after the script names are
not passed on: run a script directly (``python benchmarks/lmm.py --help``) for its options.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).parent
SCRIPTS = ("lmm.py", "glmm.py", "bayes.py")


def main() -> int:
    chosen = [a for a in sys.argv[1:] if a in SCRIPTS] or list(SCRIPTS)
    status = 0
    for name in chosen:
        print(f"\n=== benchmarks/{name} ===", flush=True)
        status |= subprocess.call([sys.executable, str(HERE / name)])
    return status


if __name__ == "__main__":
    sys.exit(main())
