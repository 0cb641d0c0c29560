"""Regenerate the report screenshots in docs/img/ from real runs.

    python tests/reports/screenshots.py                    # design report + a toy study
    python tests/reports/screenshots.py --study-dir OUT    # the study report of `slmsim explore --out OUT`

The design report is `slmsim simulate --hw edgecim --model qwen3-4b --act-bits 8`. Without
--study-dir the study report comes from tests/reports/studyfix.py (a toy model, real baselines).
Needs Playwright and Chromium, like the browser test.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
sys.path[:0] = [str(HERE), str(ROOT)]

from browser import launch, missing_reason, visit  # noqa: E402
from studyfix import make_study_dir  # noqa: E402

from slmsim.reports.study import write_study_report  # noqa: E402
from slmsim.cli import main as slmsim  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description="regenerate docs/img/*-report.png")
    ap.add_argument("--study-dir", type=Path, help="a study directory from `slmsim explore --out`")
    ap.add_argument("--case-study-dir", type=Path, help="the --out directory of `slmsim case-study`")
    ap.add_argument("--out", type=Path, default=ROOT / "docs" / "img")
    a = ap.parse_args()
    reason = missing_reason()
    if reason:
        sys.exit(reason)
    from playwright.sync_api import sync_playwright

    a.out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp_s:
        tmp = Path(tmp_s)
        design = tmp / "design.html"
        if slmsim(["simulate", "--hw", "edgecim", "--model", "qwen3-4b", "--act-bits", "8",  # noqa: E501
                   "--report", str(design)]) != 0:
            sys.exit("slmsim simulate failed")
        study_dir = a.study_dir or make_study_dir(tmp / "study", n_trials=500)
        study = write_study_report(study_dir=study_dir, out_html=tmp / "study.html")
        with sync_playwright() as p:
            browser = launch(p)
            for html, png in ((design, "design-report.png"), (study, "study-report.png")):
                v = visit(browser, html, screenshot=a.out / png, width=1440)
                if v.errors:
                    sys.exit(f"{html.name}: console errors {v.errors}")
                print(f"{a.out / png}: {len(v.figures)} figures, first screen {v.ready_ms:.0f} ms, "
                      f"all {v.complete_ms:.0f} ms")
            # the first screen a reader sees (1,440 x 900) and the study report at 800 px
            for html, png, width in ((study, "study-report-first-screen.png", 1440),
                                     (design, "design-report-first-screen.png", 1440),
                                     (study, "study-report-800px.png", 800)):
                ctx = browser.new_context(offline=True, viewport={"width": width, "height": 900})
                page = ctx.new_page()
                page.goto(html.resolve().as_uri())
                page.wait_for_function("document.body.dataset.complete === '1'")
                page.screenshot(path=str(a.out / png))
                ctx.close()
                print(a.out / png)
            if a.case_study_dir:
                cs = a.case_study_dir / "report.html"
                visit(browser, cs, screenshot=a.out / "case-study-report.png", width=1440)
                print(a.out / "case-study-report.png")
            browser.close()


if __name__ == "__main__":
    main()
