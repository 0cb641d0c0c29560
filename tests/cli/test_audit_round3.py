"""The low-severity leftovers of the second bad-input audit (2026-12-02): each message names what
the user wrote, the count of problems is the true one, and nothing is created by a refused run."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.cli._audit import llama_config, run




def test_a_bad_hidden_size_is_reported_as_itself_not_as_the_derived_head_dim(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(capsys, "simulate", "--hw", "orin-nano", "--model", str(llama_config(tmp_path, hidden_size="big")))
    assert code == 2
    assert "1 problem found" in err and "hidden_size" in err and "'big'" in err
    assert "head_dim" not in err  # the user never wrote one: hidden_size / heads was the derivation
    # a head_dim the user did write is still checked on its own
    code, _, err = run(capsys, "simulate", "--hw", "orin-nano", "--model",
                       str(llama_config(tmp_path, hidden_size="big", head_dim="wide")))
    assert code == 2 and "2 problems found" in err and "head_dim" in err and "hidden_size" in err


def _many_unknown_keys(tmp_path: Path, n: int) -> Path:
    path = tmp_path / "many.yaml"
    path.write_text("name: many\nextends: orin-nano\n" + "".join(f"bogus_{i}: 1\n" for i in range(n)))
    return path


def test_the_problem_count_is_the_true_one_beyond_the_bounded_list(tmp_path: Path,
                                                                    capsys: pytest.CaptureFixture[str]) -> None:
    """A SpecError holds at most 1,000 problems; gathering several into one used to drop the rest
    from the count ("1000 problems found ... and 950 more" for a file with 3,000)."""
    hw = _many_unknown_keys(tmp_path, 3000)
    code, _, err = run(capsys, "simulate", "--hw", str(hw), "--model", "llama-3.2-1b")
    assert code == 2 and err.startswith("3000 problems found") and "and 2950 more problems" in err
    space = tmp_path / "space.yaml"
    space.write_text(f"name: s\nbase: {hw}\nparameters:\n  memories.dram.bandwidth: {{low: 68 GB/s, high: 546 GB/s}}\n"
                     "workloads: [llama-3.2-1b]\nobjectives: [decode_latency]\n")
    code, _, err = run(capsys, "explore", str(space), "--trials", "2", "--out", str(tmp_path / "o"), "--no-progress")
    assert code == 2 and err.startswith("3000 problems found")
    assert not (tmp_path / "o").exists()


def test_a_worker_on_a_missing_journal_or_sqlite_file_creates_nothing(tmp_path: Path,
                                                                     capsys: pytest.CaptureFixture[str]) -> None:
    for storage, name in ((str(tmp_path / "new.log"), "new.log"), (f"sqlite:///{tmp_path / 'new.db'}", "new.db")):
        code, _, err = run(capsys, "worker", "--storage", storage, "--study", "x")
        assert code == 2 and "--storage: no such file" in err and name in err
    assert list(tmp_path.iterdir()) == []  # no empty journal, no .flock, no database


def test_yaml_merge_keys_and_tags_get_their_own_hint(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    merge = tmp_path / "merge.yaml"
    merge.write_text("common: &c {name: x}\nname: y\nextends: orin-nano\n<<: *c\n")
    code, _, err = run(capsys, "check", str(merge))
    assert code == 2 and "merge keys" in err and "extends:" in err
    tag = tmp_path / "tag.yaml"
    tag.write_text("name: !!python/object:os.system x\n")
    code, _, err = run(capsys, "check", str(tag))
    assert code == 2 and "YAML tags" in err


def test_flags_a_stack_overrides_are_warned_not_silently_dropped(capsys: pytest.CaptureFixture[str]) -> None:
    base = ("simulate", "--hw", "orin-nano", "--model", "llama-3.2-1b", "--gen", "8", "--stack", "mlc", "--json")
    code, out, _ = run(capsys, *base, "--weight-bits", "8", "--group-size", "64")
    assert code == 0
    got = json.loads(out)
    assert any("--weight-bits, --group-size ignored with --stack" in w for w in got["warnings"])
    code, plain, _ = run(capsys, *base)
    assert code == 0
    ref = json.loads(plain)
    # ignored means ignored: the stack's q4f16_ft decides, so the figures are the same
    assert got["decode_tokens_per_s"] == ref["decode_tokens_per_s"]
    assert not any("ignored with --stack" in w for w in ref["warnings"])


def test_kv_bits_a_compiled_asset_fixes_are_warned_and_ignored(capsys: pytest.CaptureFixture[str]) -> None:
    """Genie's w4a16 assets store the KV cache in 8 bits: --kv-bits 16 changes nothing and says so;
    on a stack whose format leaves the KV precision open (MLC) --kv-bits is kept."""
    base = ("simulate", "--hw", "snapdragon-8-elite", "--model", "llama-3.2-1b", "--prompt", "128", "--gen", "8",
            "--stack", "genie", "--json")
    code, out, _ = run(capsys, *base, "--kv-bits", "16")
    got = json.loads(out)
    assert code == 0 and any("--kv-bits 16 ignored" in w and "8 bits" in w for w in got["warnings"])
    _, plain, _ = run(capsys, *base)
    ref = json.loads(plain)
    assert got["memory_footprint_bytes"]["kv_cache"] == ref["memory_footprint_bytes"]["kv_cache"]
    assert not any("--kv-bits" in w for w in ref["warnings"])
    mlc = ("simulate", "--hw", "orin-nano", "--model", "llama-3.2-1b", "--gen", "8", "--stack", "mlc", "--json")
    _, a, _ = run(capsys, *mlc, "--kv-bits", "8")
    _, b, _ = run(capsys, *mlc)
    assert json.loads(a)["memory_footprint_bytes"]["kv_cache"] == \
        pytest.approx(json.loads(b)["memory_footprint_bytes"]["kv_cache"] / 2)


def test_a_draft_top_k_above_the_models_top_k_is_warned(capsys: pytest.CaptureFixture[str]) -> None:
    # olmoe-1b-7b routes 8 of 64 experts; a 12-expert draft is clamped to 8
    base = ("simulate", "--hw", "elmoe3d", "--model", "olmoe-1b-7b", "--gen", "8", "--decoding", "self_speculative",
            "--json")
    code, out, _ = run(capsys, *base, "--draft-top-k", "12")
    assert code == 0
    twelve = json.loads(out)
    assert any("draft_top_k 12 is above olmoe-1b-7b's top_k 8" in w for w in twelve["warnings"])
    code, out, _ = run(capsys, *base, "--draft-top-k", "8")
    eight = json.loads(out)
    assert not any("draft_top_k" in w for w in eight["warnings"])
    assert twelve["decode_tokens_per_s"] == eight["decode_tokens_per_s"]  # the clamp the warning states
