"""`slmsim report`: the HTML report of a design-space exploration study.

`slmsim report DIR` reads the study directory that `slmsim explore --out DIR` wrote
(trials, Pareto set, study.json with baselines and workloads) and writes DIR/report.html
unless `--out` says otherwise. `slmsim report STORAGE --study NAME` reads the trials
straight from Optuna storage (a sqlite:/postgresql:/redis: URL or a journal file), for a
study that has no directory, e.g. one several workers are still filling.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from slmsim.commands._common import EXIT_OK, fmt_bytes
from slmsim.core.errors import Problem, SpecError


def register(sub: argparse._SubParsersAction) -> None:
    r = sub.add_parser("report", help="write the HTML report of a DSE study (directory or Optuna storage)",
                       description=__doc__.split("\n\n", 1)[1] if __doc__ else None,
                       formatter_class=argparse.RawDescriptionHelpFormatter)
    r.add_argument("source", metavar="DIR_OR_STORAGE",
                   help="a study directory (the --out of `slmsim explore`), or an Optuna storage: "
                        "sqlite:///study.db, postgresql://..., redis://..., or a journal file path")
    r.add_argument("--study", metavar="NAME", help="study name (needed when the storage holds several studies)")
    r.add_argument("--out", metavar="PATH", type=Path,
                   help="HTML file to write (default: DIR/report.html, or NAME-report.html for a storage, NAME "
                        "the --study given, else 'study')")
    r.set_defaults(func=_cmd_report)


def _is_storage_url(source: str) -> bool:
    return "://" in source or source.startswith(("sqlite:", "journal:"))


def _cmd_report(args: argparse.Namespace) -> int:
    from slmsim.reports.study import write_storage_report, write_study_report
    from slmsim.study_probe import evaluator_factory

    source: str = args.source
    path = Path(source)
    if not _is_storage_url(source) and path.is_dir():
        from slmsim.commands.explore import OUR_FILES

        if not any((path / f).exists() for f in OUR_FILES):
            raise SpecError([Problem(file=source, path="", message="is not a study directory: it holds none of "
                                     + ", ".join(OUR_FILES), expected="the --out directory of `slmsim explore` "
                                     "or `slmsim sweep`", hint="give the study's --out directory, or an Optuna "
                                     "storage (a journal file, sqlite:///study.db, ...) with --study NAME")])
        out = args.out or path / "report.html"
        written = write_study_report(study_dir=path, out_html=out, study_name=args.study,
                                     evaluator_factory=evaluator_factory)
    elif _is_storage_url(source) or path.is_file():
        out = args.out or Path(f"{args.study or 'study'}-report.html")
        written = write_storage_report(storage=source, out_html=out, study_name=args.study)
    else:
        from slmsim.core.credentials import mask_secrets

        raise SpecError([Problem(file=mask_secrets(source), path="", message="no such study directory or storage",
                                 hint="give the --out directory of `slmsim explore`, or an Optuna storage "
                                      "(sqlite:///study.db, postgresql://user@host/db, a journal file) "
                                      "with --study NAME")])
    print(f"report written to {written} ({fmt_bytes(written.stat().st_size)})")
    return EXIT_OK
