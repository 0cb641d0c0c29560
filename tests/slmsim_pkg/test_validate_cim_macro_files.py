"""`slmsim validate --cim --macro FILE|DIR|NAME`: a user's own published macro, read with full checks."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pytest

from slmsim.cli import main
from slmsim.hw_models import periphery
from slmsim.validation_cim import load_macros, macros_dir

COLONNADE = "dimc5-jssc2021-65nm.yaml"


def _json(capsys: pytest.CaptureFixture[str], *argv: str) -> list[dict]:
    assert main(["validate", "--cim", "--json", *argv]) == 0
    return json.loads(capsys.readouterr().out)


def _bad(capsys: pytest.CaptureFixture[str], *argv: str) -> str:
    assert main(["validate", *argv]) == 2
    captured = capsys.readouterr()
    assert "Traceback" not in captured.err + captured.out
    return captured.err + captured.out


def test_copied_files_under_new_names_predict_what_the_bundled_macros_do(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    for f in macros_dir().glob("*.yaml"):
        text = f.read_text()
        (tmp_path / f.name).write_text(re.sub(r"^name: (\S+)", r"name: mine-\1", text, count=1, flags=re.M))
    bundled = {(r["macro"], r["metric"]): r for r in _json(capsys)}
    mine = {(r["macro"].removeprefix("mine-"), r["metric"]): r for r in _json(capsys, "--macro", str(tmp_path))}
    assert set(mine) == set(bundled)
    for key, r in bundled.items():
        assert mine[key]["predicted"] == r["predicted"] and mine[key]["excluded"] == r["excluded"]


def test_a_bundled_macro_by_name(capsys: pytest.CaptureFixture[str]) -> None:
    rows = _json(capsys, "--macro", "dimc5-jssc2021")
    assert {r["macro"] for r in rows} == {"dimc5-jssc2021"} and len(rows) == 2


MINE = """\
name: my-digital-64x8
paper: "a hand-made macro for this test"
source: "none: every figure below is made up"
technology_node: 28 nm
supply_voltage: 0.9 V
precision: {input_bits: 1, weight_bits: 1}
conditions: {input_toggle_rate: 0.5, weight_sparsity: 0.5}
macro:
  style: digital
  rows: 64
  cols: 8
  rows_per_op: 64
  clock: 100 MHz
  energy_per_row_write: 0 pJ
  leakage_power: 0 W
published:
  tops_per_w: 100
  area: 0.01 mm^2
  figure: "1b x 1b, random data"
"""


def test_a_users_digital_macro_by_hand(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """64 rows x 8 one-bit columns, all 64 rows per operation, 1b x 1b: one activation per MVM.
    Cells: 64 x 8 = 512 at CELL_ENERGY_J (28 nm, 0.9 V: the reference point, no scaling). Each column's adder
    tree over 64 one-bit products: 64 x (1 + 1) = 128 full-adder bits, + 1 (product width) + log2(64) = 6
    + 8 accumulator input bits = 143. Cells and adders switch at 0.5 toggle x 0.5 density = 0.25.
    Ops = 2 x 64 x 8 = 1024 per MVM."""
    f = tmp_path / "mine.yaml"
    f.write_text(MINE)
    fa = periphery.fa_bit_energy_j(28e-9, 0.9)
    energy_j = 0.25 * (512 * periphery.CELL_ENERGY_J + 8 * 143 * fa)
    rows = {r["metric"]: r for r in _json(capsys, "--macro", str(f))}
    assert rows["tops_per_w"]["predicted"] == pytest.approx(1024 / energy_j / 1e12, rel=1e-9)
    assert rows["tops_per_w"]["measured"] == 100 and rows["tops_per_w"]["excluded"] is None
    # throughput: 1024 ops per one-cycle MVM at 100 MHz = 0.1024 TOPS, over the published 0.01 mm^2
    assert rows["tops_per_mm2"]["measured"] == pytest.approx(0.1024 / 0.01)


def test_every_problem_in_every_file_at_once(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    base = (macros_dir() / COLONNADE).read_text()
    (tmp_path / "a.yaml").write_text(base.replace("input_toggle_rate: 0.5", "input_toggle_rate: 1.5")
                                     .replace("\nmacros: 1\n", "\nmacros: 0\n"))
    (tmp_path / "b.yaml").write_text(base.replace("  clock: 100 MHz", "  clock: 100 MHz\n  energy_per_readout: 1 pJ")
                                     .replace("weight_sparsity: 0.5", "weight_sparsity: 1.0"))
    (tmp_path / "c.yaml").write_text(base.replace("published:", "publshed:"))
    (tmp_path / "d.yaml").write_text(base.replace("technology_node: 65 nm", "technology_node: 65 parsecs"))
    (tmp_path / "e.yaml").write_text("- a list\n")
    (tmp_path / "f.yaml").write_text("name: [unclosed\n")
    (tmp_path / "g.yaml").write_text(base.replace("tops_per_w: 6.849", "tops_per_w: .nan"))
    (tmp_path / "h.yaml").write_text(re.sub(r"  cols: 128.*", "  cols: 10", base))
    (tmp_path / "i.yaml").write_text(base.replace("\nmacros: 1\n", "\nmacros: true\n"))
    out = _bad(capsys, "--cim", "--macro", str(tmp_path))
    for file, path in [("a", "conditions.input_toggle_rate"), ("a", "macros"), ("b", "macro.energy_per_readout"),
                       ("b", "conditions.weight_sparsity"),
                       ("c", "publshed"), ("d", "technology_node"), ("e", ""), ("f", ""), ("g", "published.tops_per_w"),
                       ("h", ""), ("i", "macros")]:
        assert f"{tmp_path / file}.yaml: {path}" in out, (file, path)
    assert "did you mean 'published'?" in out
    assert "holds no 8-bit weight" in out  # h: 10 columns cannot hold an 8-bit weight and its 7 sum columns
    assert "published.area" in out  # b: where the published area goes instead


def test_command_line_mistakes(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert "--cim beside it" in _bad(capsys, "--macro", "dimc5-jssc2021")
    assert "did you mean 'dimc5-jssc2021'?" in _bad(capsys, "--cim", "--macro", "dimc5-jssc20")
    assert "file not found" in _bad(capsys, "--cim", "--macro", str(tmp_path / "nope.yaml"))
    assert "holds no macro file" in _bad(capsys, "--cim", "--macro", str(tmp_path))
    assert "given twice" in _bad(capsys, "--cim", "--macro", "dimc5-jssc2021", "--macro", "dimc5-jssc2021")
    shutil.copy(macros_dir() / COLONNADE, tmp_path / "again.yaml")  # same name as the bundled one
    assert "given twice" in _bad(capsys, "--cim", "--macro", "dimc5-jssc2021", "--macro", str(tmp_path / "again.yaml"))
    assert "at least 2 macros" in _bad(capsys, "--cim", "--refit", "--macro", "dimc5-jssc2021")
    both = _bad(capsys, "--cim", "--macro", "nope", "--macro", str(tmp_path / "nope.yaml"))  # reported together
    assert "2 problems found" in both and "no such file or bundled macro" in both and "file not found" in both


def test_macros_come_in_the_order_given(capsys: pytest.CaptureFixture[str]) -> None:
    order = ["dimc5-jssc2021", str(macros_dir() / "aimc1-cicc2021-22nm.yaml"), "dimc1-isscc2022"]
    rows = _json(capsys, *(x for ref in order for x in ("--macro", ref)))
    assert [r["macro"] for r in rows if r["metric"] == "tops_per_w"] == ["dimc5-jssc2021", "aimc1-cicc2021",
                                                                         "dimc1-isscc2022"]


def test_refit_on_the_given_macros_says_so(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["validate", "--cim", "--refit", "--macro", "dimc5-jssc2021", "--macro", "dimc1-isscc2022"]) == 0
    out = capsys.readouterr().out
    assert "2 macros given with --macro" in out and "refit on TOPS/W (the given macros" in out


def test_only_macros_outside_the_model(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["validate", "--cim", "--macro", "aimc3-isscc2023"]) == 0
    out = capsys.readouterr().out
    assert "inside the model: no macro" in out and "outside the model: aimc3-isscc2023" in out


def test_the_bundled_files_all_pass_the_same_checks() -> None:
    assert len(load_macros()) == len(list(macros_dir().glob("*.yaml")))


def test_the_documented_example_runs(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """docs/validation.md's 'Your own macro' block is this file's hand-derived macro, with comments."""
    doc = (Path(__file__).parents[2] / "docs" / "validation.md").read_text()
    block = doc.split("**Your own macro**", 1)[1].split("```yaml\n", 1)[1].split("```", 1)[0]
    (tmp_path / "doc.yaml").write_text(block)
    (tmp_path / "mine.yaml").write_text(MINE.replace("name: my-digital-64x8", "name: mine"))
    rows = {(r["macro"], r["metric"]): r["predicted"] for r in _json(capsys, "--macro", str(tmp_path))}
    assert rows[("my-digital-64x8", "tops_per_w")] == rows[("mine", "tops_per_w")]


def test_check_reads_a_macro_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = macros_dir() / COLONNADE
    assert main(["check", str(path), "--json"]) == 0
    d = json.loads(capsys.readouterr().out)
    assert d["kind"] == "cim_macro" and d["name"] == "dimc5-jssc2021" and d["excluded"] is None
    (row,) = [r for r in _json(capsys, "--macro", "dimc5-jssc2021") if r["metric"] == "tops_per_w"]
    assert d["predicted_tops_per_w"] == row["predicted"]
    by_path = {v["path"]: v for v in d["values"]}
    assert by_path["supply_voltage"]["si"] == pytest.approx(0.6) and by_path["supply_voltage"]["unit"] == "V"
    assert d["unsourced"] == []  # the file's `source:` covers its numbers
    bad = tmp_path / "bad.yaml"
    bad.write_text(path.read_text().replace("  rows_per_op: 128", "  rows_per_op: 129"))
    assert main(["check", str(bad)]) == 2
    err = capsys.readouterr().err
    assert f"{bad}: macro.rows_per_op: rows_per_op (129) cannot exceed rows (128)" in err and "Traceback" not in err
    assert "expected: a whole number from 1 to 128 (rows)" in err
