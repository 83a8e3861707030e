"""The ``hiermix`` command line: ``hiermix compare FORMULA --data FILE.csv ...`` and
``hiermix study CONFIG.toml --out DIR [--scheduler ADDRESS]`` (:mod:`hiermix.study.config`).

Fits one formula with both engines, prints the three comparison tables and writes a report
directory. Bad input ends with a one-line message naming the culprit and exit code 2, never a
traceback. Every output path is checked before any fitting or sampling, and the report is
written whole or not at all, never over a file hiermix did not write (see
:mod:`hiermix.compare.destination`).
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pandas as pd

from .errors import HiermixError

EXIT_INPUT = 2


def _count(minimum: int) -> Any:
    """An argparse type: an integer of at least ``minimum``."""
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"must be a whole number, not {text!r}") from None
        if value < minimum:
            raise argparse.ArgumentTypeError(f"must be at least {minimum}, not {value}")
        return value

    return parse


def _level(text: str) -> float:
    """An argparse type: an interval level strictly between 0 and 1."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a number, not {text!r}") from None
    if not 0.0 < value < 1.0:
        raise argparse.ArgumentTypeError(f"must lie strictly between 0 and 1 (0.95 for 95%), "
                                         f"not {text}")
    return value


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="hiermix",
        description="Mixed-effects models from one lme4 formula: maximum likelihood and "
                    "the same model in PyMC, side by side.")
    sub = p.add_subparsers(dest="command", required=True)
    c = sub.add_parser("compare", help="fit both engines and compare them",
                       description="Fit FORMULA on the data by maximum likelihood and by "
                                   "NUTS, print the comparison and write a report.")
    c.add_argument("formula", help='lme4-style formula, e.g. "y ~ x + (1 + x | g)"')
    c.add_argument("--data", required=True, help="CSV file (a <name>.types.json beside it "
                   "restores R's factor levels)")
    c.add_argument("--family", default="gaussian",
                   help="gaussian, binomial, poisson, Gamma or inverse_gaussian "
                        "(default gaussian)")
    c.add_argument("--link", default=None,
                   help="one of R's links for the family, e.g. log or probit (default: the "
                        "family's canonical link)")
    crit = c.add_mutually_exclusive_group()
    crit.add_argument("--reml", dest="reml", action="store_true", default=None,
                      help="REML for linear mixed models (their default; GLMMs refuse it)")
    crit.add_argument("--ml", dest="reml", action="store_false", help="maximum likelihood")
    c.add_argument("--nagq", type=_count(0), default=1, help="quadrature points for GLMMs "
                   "(1 = Laplace)")
    c.add_argument("--draws", type=_count(1), default=1000,
                   help="posterior draws per chain after tuning (default 1000)")
    c.add_argument("--tune", type=_count(0), default=1000,
                   help="tuning steps per chain (default 1000)")
    c.add_argument("--chains", type=_count(1), default=4,
                   help="independent NUTS chains (default 4)")
    c.add_argument("--seed", type=_count(0), default=20261121,
                   help="random seed of the sampler (default 20261121)")
    c.add_argument("--ci", type=_level, default=0.95, help="interval level (default 0.95)")
    c.add_argument("--ml-interval", choices=("profile", "wald", "boot"), default="profile",
                   help="ML intervals for the variance components (default profile)")
    c.add_argument("--out", default="hiermix-report",
                   help="report folder (default hiermix-report); must not exist yet or be "
                        "empty, unless --overwrite")
    c.add_argument("--overwrite", action="store_true",
                   help="replace a previous hiermix report in --out (only a folder that holds "
                        "hiermix's own, unchanged files and nothing else)")
    # sensitivity (hiermix.sensitivity.command): a report section and a subcommand
    c.add_argument("--sensitivity", action="store_true",
                   help="add a Sensitivity section: power-scaling table and the five most "
                        "influential groups")
    from .sensitivity.command import add_parser as add_sensitivity_parser

    _study_parser(sub)
    add_sensitivity_parser(sub, _count, _level)
    return p


def _study_parser(sub: Any) -> None:
    s = sub.add_parser("study", help="a simulation study from a TOML file",
                       description="Simulate replicates from the truth in CONFIG, estimate "
                                   "each with every method, and write a report with CSVs.")
    s.add_argument("config", help="study file (TOML; see hiermix.study.config)")
    s.add_argument("--out", required=True, help="report folder; must not exist yet or be "
                   "empty, unless --overwrite")
    s.add_argument("--overwrite", action="store_true",
                   help="replace a previous hiermix report in --out")
    s.add_argument("--scheduler", default=None,
                   help="Dask scheduler address (tcp://host:8786); local processes otherwise")
    s.add_argument("--jobs", type=_count(1), default=None,
                   help="local worker processes (default: every CPU)")
    s.add_argument("--store", default=None, help="resumable store folder (overrides the file's)")


def run_study(args: argparse.Namespace) -> int:
    from .compare.destination import ReportDestination
    from .study.config import load_config
    from .study.driver import simulation_study
    from .study.report import write_study_report

    kw = load_config(args.config)
    data_path = kw.pop("data_path")
    store = args.store or kw.pop("store")
    kw.pop("store", None)
    dest = ReportDestination.check(args.out, overwrite=args.overwrite,
                                   protect=[args.config, data_path, store])
    client = None
    if args.scheduler:
        from dask.distributed import Client

        client = Client(args.scheduler)
    try:
        res = simulation_study(**kw, store=store, client=client, n_jobs=args.jobs,
                               progressbar=sys.stderr.isatty())
    finally:
        if client is not None:
            client.close()
    print(res.summary())
    out = dest.write(lambda folder: write_study_report(res, folder))
    print(f"\nreport written to {out / 'report.html'}", file=sys.stderr)
    return 0


def read_data(path: str) -> pd.DataFrame:
    """Read a CSV for the command line (with R's factor levels when a types file is beside it).

    Integer codes used as grouping factors need no conversion here: the design turns every
    grouping column into levels, sorted numerically for numbers.

    Raises
    ------
    HiermixError
        Missing or unreadable file.
    """
    from .datasets import read_csv_with_types
    from .errors import DataError

    file = Path(path)
    if not file.exists():
        raise DataError(f"data file {path!r} does not exist")
    if not file.is_file():
        raise DataError(f"data file {path!r} is not a file")
    try:
        return read_csv_with_types(file)
    except HiermixError:
        raise
    except (OSError, ValueError, pd.errors.ParserError) as err:
        raise DataError(f"cannot read {path!r} as CSV: {err}") from None


def _one_line(err: BaseException) -> str:
    text = str(err)
    if hasattr(err, "reason") and hasattr(err, "formula"):
        # FormulaSyntaxError: keep the caret picture on the lines after the message
        return text
    return " ".join(text.split())


def _stage(msg: str, out: Any) -> float:
    print(f"- {msg}", file=out, flush=True)
    return time.perf_counter()


def run_compare(args: argparse.Namespace) -> int:
    from .compare.destination import ReportDestination
    from .datasets import types_path
    from .formula import parse
    from .model import Model

    spec = parse(args.formula)
    # every output path is checked before the long work, so a refusal costs nothing
    dest = ReportDestination.check(args.out, overwrite=args.overwrite,
                                   protect=[args.data, types_path(args.data)])
    data = read_data(args.data)
    data_name = Path(args.data).stem
    log = sys.stderr
    t0 = _stage(f"binding {spec} to {args.data} ({len(data)} rows)", log)
    model = Model(spec, data, family=args.family, link=args.link, data_name=data_name)
    print(model.design.summary(), file=log)

    t = _stage("maximum likelihood fit", log)
    fit = model.fit(REML=args.reml, nAGQ=args.nagq)
    print(f"  done in {time.perf_counter() - t:.2f} s", file=log)

    t = _stage(f"NUTS: {args.chains} chains x {args.draws} draws after {args.tune} tuning", log)
    post = model.sample(draws=args.draws, tune=args.tune, chains=args.chains,
                        random_seed=args.seed, progressbar=sys.stderr.isatty())
    print(f"  done in {time.perf_counter() - t:.2f} s", file=log)

    from .compare import compare
    from .compare.report import fill_report, print_tables

    cmp = compare(fit, post, ci=args.ci, ml_interval=args.ml_interval, seed=args.seed)
    print_tables(cmp)
    sections = []
    if args.sensitivity:
        from .sensitivity.command import compare_section

        sections.append(compare_section(fit, post))

    def fill(folder: Path) -> None:
        fill_report(cmp, folder, data_path=args.data, sections=sections)

    out = dest.write(fill)
    print(f"\nreport written to {out / 'report.html'} "
          f"(total {time.perf_counter() - t0:.1f} s)", file=log)
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``hiermix`` command."""
    args = _parser().parse_args(argv)
    try:
        if args.command == "compare":
            return run_compare(args)
        if args.command == "study":
            return run_study(args)
        if args.command == "sensitivity":
            from .sensitivity.command import run as run_sensitivity

            return run_sensitivity(args)
    except HiermixError as err:
        print(f"hiermix: error: {_one_line(err)}", file=sys.stderr)
        return EXIT_INPUT
    except KeyboardInterrupt:
        print("hiermix: interrupted", file=sys.stderr)
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
