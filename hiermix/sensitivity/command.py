"""``hiermix sensitivity FORMULA --data CSV --priors priors.toml --out DIR``.

Fits FORMULA by maximum likelihood, samples it under every prior set of the TOML file
(:mod:`hiermix.sensitivity.prior_file`), computes the power-scaling sensitivity under each and
the influence of each level of the first grouping factor (or ``--group``), and writes the
report folder of :func:`hiermix.sensitivity.report.fill_sensitivity_report`. The folder is
checked before any work and written whole or not at all (:mod:`hiermix.compare.destination`).
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ..compare.report import ReportSection


def add_parser(sub: Any, count: Callable[[int], Any], level: Callable[[str], float]) -> None:
    """Add the ``sensitivity`` subcommand to the ``hiermix`` parser."""
    s = sub.add_parser("sensitivity", help="prior sweep, power-scaling and influence report",
                       description="Sample FORMULA under each named prior set of a TOML file, "
                                   "beside the ML fit; power-scaling sensitivity under each; "
                                   "influence of each group on the ML fit; an HTML report.")
    s.add_argument("formula", help='lme4-style formula, e.g. "y ~ x + (1 + x | g)"')
    s.add_argument("--data", required=True, help="CSV file")
    s.add_argument("--priors", required=True,
                   help='TOML file, one table per prior set: [tight] sd = "HalfNormal(1)"')
    s.add_argument("--family", default="gaussian")
    s.add_argument("--link", default=None)
    s.add_argument("--group", default=None,
                   help="grouping factor for the influence table (default: the first term's)")
    s.add_argument("--draws", type=count(1), default=1000)
    s.add_argument("--tune", type=count(0), default=1000)
    s.add_argument("--chains", type=count(1), default=4)
    s.add_argument("--seed", type=count(0), default=20261121)
    s.add_argument("--ci", type=level, default=0.95, help="interval level (default 0.95)")
    s.add_argument("--out", default="hiermix-sensitivity",
                   help="report folder; must not exist yet or be empty, unless --overwrite")
    s.add_argument("--overwrite", action="store_true",
                   help="replace a previous hiermix report in --out")


def run(args: argparse.Namespace) -> int:
    from ..cli import read_data
    from ..compare.destination import ReportDestination
    from ..datasets import types_path
    from ..formula import parse
    from ..model import Model
    from .power_scaling import sensitivity
    from .prior_file import read_prior_sets
    from .prior_sweep import prior_sweep
    from .report import fill_sensitivity_report

    spec = parse(args.formula)
    dest = ReportDestination.check(args.out, overwrite=args.overwrite,
                                   protect=[args.data, types_path(args.data), args.priors])
    sets = read_prior_sets(args.priors)
    data = read_data(args.data)
    log = sys.stderr
    t0 = time.perf_counter()
    model = Model(spec, data, family=args.family, link=args.link,
                  data_name=Path(args.data).stem)
    print(f"- {spec} on {args.data}: {len(sets)} prior sets ({', '.join(sets)})", file=log)
    fit = model.fit()
    influence = fit.influence(group=args.group)
    sweep = prior_sweep(model, sets, draws=args.draws, tune=args.tune, chains=args.chains,
                        random_seed=args.seed, ci=args.ci, fit=fit,
                        progressbar=sys.stderr.isatty())
    power = {name: sensitivity(post) for name, post in sweep.posteriors.items()}
    print(sweep.wide().to_string())
    out = dest.write(lambda folder: fill_sensitivity_report(
        folder, sweep, power, influence, model.formula, data_path=args.data))
    print(f"\nreport written to {out / 'report.html'} "
          f"(total {time.perf_counter() - t0:.1f} s)", file=log)
    return 0


def compare_section(fit: Any, post: Any) -> ReportSection:
    """For ``hiermix compare --sensitivity``: the "Sensitivity" section of the report (the
    power-scaling table of ``post`` and the most influential groups of ``fit``)."""
    from .report import sensitivity_section

    power = post.sensitivity()
    influence = fit.influence() if fit.design.reterms else None
    return sensitivity_section(power, influence)
