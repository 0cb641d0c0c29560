"""Reports opened in a real browser (headless Chromium): no console error, every figure drawn
with data, nothing fetched from the network, and a 500-trial study report that opens fast.

Skips when Playwright or Chromium is missing, except under SLMSIM_CI=1 (.ci/run), where it
fails: .ci/setup.d/chromium.sh installs Debian's chromium.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from browser import launch, missing_reason, visit
from conftest import DesignRun

from slmsim.reports.design import write_design_report
from slmsim.reports.study import write_study_report

LOAD_LIMIT_MS = 3000  # the issue: a 500-trial report opens in under 3 s


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    reason = missing_reason()
    if reason:
        if os.environ.get("SLMSIM_CI") == "1":
            pytest.fail(f"browser test required in CI (SLMSIM_CI=1): {reason}")
        pytest.skip(reason)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = launch(p)
        try:
            yield b
        finally:
            b.close()


def check(v: Any, name: str) -> None:
    assert v.errors == [], f"{name}: console errors {v.errors}"
    outside = [u for u in v.requests if not u.startswith(("file://", "data:", "blob:"))]
    assert outside == [], f"{name}: asked the network for {outside}"
    assert v.figures, f"{name}: no figure"
    for f in v.figures:
        assert f["plotted"] and f["traces"] > 0 and f["visibleTraces"] > 0, f"{name}: {f['id']} has no data: {f}"
        assert f["marks"] > 0, f"{name}: {f['id']} drew nothing: {f}"
        assert f["height"] > 100, f"{name}: {f['id']} collapsed: {f}"


def test_design_report_in_browser(browser: Any, tmp_path: Path, design_cim: DesignRun, design_gpu: DesignRun) -> None:
    for run in (design_cim, design_gpu):
        out = write_design_report(result=run.result, plan=run.plan, trace=run.trace, out_path=tmp_path / "d.html",
                                  title=run.title)
        v = visit(browser, out)
        check(v, run.title)
        assert len(v.figures) == 5
        print(f"{run.title}: first screen {v.ready_ms:.0f} ms, all figures {v.complete_ms:.0f} ms")


@pytest.mark.parametrize("fixture", ["study2", "study3"])
def test_study_report_in_browser(browser: Any, tmp_path: Path, fixture: str, request: pytest.FixtureRequest) -> None:
    out = write_study_report(study_dir=request.getfixturevalue(fixture), out_html=tmp_path / "report.html")
    v = visit(browser, out)
    check(v, fixture)
    assert len(v.figures) == (6 if fixture == "study3" else 5)  # + the pairs view with 3 objectives


def test_500_trial_study_report_opens_fast(browser: Any, tmp_path: Path, study500: Path) -> None:
    out = write_study_report(study_dir=study500, out_html=tmp_path / "report.html")
    size = out.stat().st_size
    v = visit(browser, out)
    check(v, "500 trials")
    front = v.figures[0]
    assert front["points"] >= 400  # every feasible trial is on the front plot
    print(f"500-trial report: {size / 1e6:.2f} MB; first screen {v.ready_ms:.0f} ms, "
          f"all {len(v.figures)} figures {v.complete_ms:.0f} ms")
    assert size < 10e6
    assert v.ready_ms < LOAD_LIMIT_MS, f"first screen took {v.ready_ms:.0f} ms"
    assert v.complete_ms < 2 * LOAD_LIMIT_MS, f"drawing every figure took {v.complete_ms:.0f} ms"


def test_selector_and_table_sorting_work(browser: Any, tmp_path: Path, study2: Path) -> None:
    out = write_study_report(study_dir=study2, out_html=tmp_path / "report.html")
    context = browser.new_context(offline=True)
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    try:
        page.goto(out.resolve().as_uri())
        page.wait_for_function("document.body.dataset.complete === '1'")
        select = page.locator("select[data-target]")
        fig_id = select.get_attribute("data-target")
        ys = f"() => document.getElementById('{fig_id}')._fullData.filter(t => t.meta === 'design').map(t => t.y)"
        before = page.evaluate(ys)
        select.select_option(index=select.locator("option").count() - 1)
        after = page.evaluate(ys)
        assert after != before, "choosing another design did not change the bars"
        assert page.locator(f"#{fig_id}-detail").inner_text().startswith("devices.cim.macro_count = ")
        first_cells = "() => Array.from(document.querySelectorAll('#table1 tbody tr td:first-child')).map(c => c.textContent)"
        rows_before = page.evaluate(first_cells)
        page.locator("#table1 th").first.click()
        rows_after = page.evaluate(first_cells)
        assert sorted(rows_before) == sorted(rows_after) and rows_after != rows_before
        assert errors == []
    finally:
        context.close()


def test_demo_study_report_in_browser(browser: Any, tmp_path: Path) -> None:
    """What `make demo` ends with: a real `slmsim explore` study and its report.html."""
    from slmsim.cli import COMMANDS, main

    space = Path(__file__).parents[2] / "examples" / "space-demo.yaml"
    if "explore" not in COMMANDS or not space.is_file():
        pytest.skip("slmsim explore or examples/space-demo.yaml is not in this tree")
    out = tmp_path / "demo-out"
    assert main(["explore", str(space), "--trials", "40", "--out", str(out)]) == 0
    v = visit(browser, out / "report.html")
    check(v, "demo study")
    assert len(v.figures) >= 5
