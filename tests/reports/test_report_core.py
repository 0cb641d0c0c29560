"""reports' building blocks: display units, Pareto/hypervolume/knee, the HTML writer."""

from __future__ import annotations

import itertools
import re
from pathlib import Path

import numpy as np
import plotly.graph_objects as go
import pytest

from slmsim.reports import html
from slmsim.reports.metrics import info
from slmsim.reports.pareto import (
    default_reference,
    hypervolume,
    hypervolume_history,
    knee_index,
    pareto_mask,
)
from slmsim.core.display import fmt, fmt_ratio, num, pick_scale
from slmsim.core.errors import SpecError

# units -----------------------------------------------------------------------------------


@pytest.mark.parametrize(("value", "unit", "text"), [
    (0.0113, "s", "11.3 ms"), (2.5e-6, "s", "2.50 µs"), (1.5, "s", "1.50 s"), (0.0366, "J", "36.6 mJ"),
    (2.305e9, "bytes", "2.31 GB"), (2.184e11, "bytes/s", "218 GB/s"), (5.24e13, "ops/s", "52.4 TOPS"),
    (8.36, "W", "8.36 W"), (51.1, "mm2", "51.1 mm²"), (4.2e8, "Hz", "420 MHz"), (0.0, "s", "0 s"),
    (8.5e13, "op/s", "85.0 TOPS"),  # the unit a DSE throughput parameter carries (audit E L3)
])
def test_fmt_picks_a_readable_prefix(value: float, unit: str, text: str) -> None:
    assert fmt(value, unit) == text


def test_one_scale_for_a_whole_axis() -> None:
    s = pick_scale("s", [0.004, 0.011, 0.2])
    assert (s.label, s.factor) == ("ms", 1e-3)
    assert s(0.2) == pytest.approx(200.0)
    assert pick_scale("s", []).label == "s"
    assert pick_scale("s", [float("nan"), None]).label == "s"


def test_num_and_ratio_edge_cases() -> None:
    assert num(None) == "n/a" and num(float("nan")) == "n/a" and num(float("inf")) == "∞"
    assert num(1234.5) == "1,234" and num(0.5) == "0.500" and num(1e-5) == "1.00e-05"
    assert fmt_ratio(7.31) == "7.31×" and fmt_ratio(None) == "n/a"


def test_metric_info_known_and_guessed() -> None:
    assert info("decode_latency_s").unit == "s"
    assert info("tokens_per_j").higher_is_better
    assert info("area_mm2", "mm^2").unit == "mm2"  # study.json spells it as the DSE does
    assert info("foo_bar_w").unit == "W"


# Pareto, hypervolume, knee ---------------------------------------------------------------


def brute_pareto(pts: np.ndarray) -> np.ndarray:
    return np.array([not any(np.all(q <= p) and np.any(q < p) for q in pts) for p in pts])


@pytest.mark.parametrize(("n", "m"), [(1, 2), (30, 2), (200, 2), (60, 3), (40, 4)])
def test_pareto_mask_matches_brute_force(n: int, m: int) -> None:
    rng = np.random.default_rng(n * 10 + m)
    pts = rng.random((n, m)).round(2)  # rounding makes ties and duplicates
    assert np.array_equal(pareto_mask(pts), brute_pareto(pts))


def test_hypervolume_exact_small_cases() -> None:
    assert hypervolume(np.array([[0.5, 0.5]]), np.array([1.0, 1.0])) == pytest.approx(0.25)
    assert hypervolume(np.array([[0.0, 0.5], [0.5, 0.0]]), np.array([1.0, 1.0])) == pytest.approx(0.75)
    assert hypervolume(np.array([[0.5, 0.5, 0.5]]), np.array([1.0, 1.0, 1.0])) == pytest.approx(0.125)
    assert hypervolume(np.array([[2.0, 2.0]]), np.array([1.0, 1.0])) == 0.0  # beyond the reference
    assert hypervolume(np.empty((0, 2)), np.array([1.0, 1.0])) == 0.0


@pytest.mark.parametrize("m", [2, 3, 4])
def test_hypervolume_agrees_with_optuna(m: int) -> None:
    hv_mod = pytest.importorskip("optuna._hypervolume")
    rng = np.random.default_rng(m)
    pts = rng.random((80, m))
    ref = np.full(m, 1.1)
    expected = hv_mod.compute_hypervolume(pts[pareto_mask(pts)], ref, assume_pareto=True)
    assert hypervolume(pts, ref) == pytest.approx(expected, rel=1e-12)


def test_hypervolume_history_is_monotone_and_skips_nan() -> None:
    rng = np.random.default_rng(0)
    pts = rng.random((50, 2))
    pts[[3, 10]] = np.nan
    ref = np.array([1.1, 1.1])
    hist = hypervolume_history(pts, ref)
    assert np.all(np.diff(hist) >= -1e-15)
    assert hist[3] == hist[2] and hist[-1] == pytest.approx(hypervolume(pts[~np.isnan(pts[:, 0])], ref))


def test_knee_is_the_balanced_point() -> None:
    front = np.array([[0.0, 10.0], [1.0, 2.0], [2.0, 1.0], [10.0, 0.0]])
    assert knee_index(front) in (1, 2)
    assert knee_index(np.array([[1.0, 1.0]])) == 0
    assert np.all(default_reference(front) > front.max(axis=0))


# HTML writer -----------------------------------------------------------------------------


def _page(*blocks: html.Block) -> html.Page:
    return html.Page(title="t <&> t", sections=[html.Section(title="s", blocks=list(blocks))], facts=[("k", "v")])


def test_page_embeds_plotly_once_and_nothing_external(tmp_path: Path) -> None:
    figs = [go.Figure(go.Scatter(x=[1, 2], y=[3, 4])), go.Figure(go.Bar(x=["a"], y=[1]))]
    out = html.write(_page(*(html.Plot(f, caption="c") for f in figs),
                           html.Table(header=["a"], rows=[[html.Cell("x</script>", sort=1.0)]]),
                           html.Note("n"), html.Cards([("l", "v", "n")])), tmp_path / "sub" / "p.html")
    text = out.read_text()
    assert text.count("plotly.js (basic - minified) v") == 1  # the vendored bundle, once
    assert text.count('data-figure="') == 2
    assert not re.search(r"<(script|link|img|iframe)[^>]+(src|href)=", text)  # nothing loaded from outside
    assert "x&lt;/script&gt;" in text and "t &lt;&amp;&gt; t" in text  # escaped
    assert "Content-Security-Policy" in text


def test_non_basic_traces_get_the_full_bundle(tmp_path: Path) -> None:
    out = html.write(_page(html.Plot(go.Figure(go.Heatmap(z=[[1, 2], [3, 4]])))), tmp_path / "p.html")
    text = out.read_text()
    assert "plotly.js (basic" not in text and text.count("plotly.js v") == 1


def test_figure_json_cannot_close_the_script(tmp_path: Path) -> None:
    fig = go.Figure(go.Scatter(x=[1], y=[1], text=["</script><script>alert(1)</script>"]))
    text = html.render(_page(html.Plot(fig)))
    assert "</script><script>alert(1)" not in text


def test_templates_are_stored_once() -> None:
    from slmsim.reports import style

    figs = [go.Figure(go.Scatter(x=[i], y=[i]), layout=dict(template=style.TEMPLATE)) for i in range(4)]
    text = html.render(_page(*(html.Plot(f) for f in figs)))
    assert text.count('"colorway":[') == 1


def test_choices_are_checked() -> None:
    fig = go.Figure([go.Bar(x=["a"], y=[1]), go.Bar(x=["a"], y=[2])])
    ok = html.Plot(fig, choices=[html.Choice(label="one", restyle={"y": [[5]]}, traces=[1])])
    assert 'id="fig1-select"' in html.render(_page(ok))
    bad = html.Plot(fig, choices=[html.Choice(label="one", restyle={"y": [[5], [6]]}, traces=[1])])
    with pytest.raises(ValueError, match="2 values for 1 traces"):
        html.render(_page(bad))


def test_writing_over_a_directory_is_an_input_error(tmp_path: Path) -> None:
    with pytest.raises(SpecError, match="is a directory"):
        html.write(_page(html.Note("x")), tmp_path)


def test_every_combination_of_blocks_renders() -> None:
    blocks = [html.Note("n", kind="warning"), html.Cards([]), html.Table(header=[], rows=[]),
              html.Plot(go.Figure())]
    for combo in itertools.permutations(blocks, 2):
        assert html.render(_page(*combo)).endswith("</html>\n")


def test_version_footer_slot(tmp_path) -> None:
    """Issue 15 passes the version line through one argument; it lands in the footer."""
    from slmsim.reports import html as H

    page = H.Page(title="t", sections=[H.Section(title="s", blocks=[H.Note("n")])], footer="slmsim",
                  version_footer="slmsim 9.9 · git abc1234")
    text = H.render(page)
    foot = text[text.index("<footer>"):text.index("</footer>")]
    assert "slmsim 9.9 · git abc1234" in foot and "generated" in foot
