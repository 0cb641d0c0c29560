"""Design-space exploration: front quality per sampler, and trials per second per storage.

    PYTHONPATH=. python benchmarks/dse_bench.py            # everything (~10-20 min on 2 cores)
    PYTHONPATH=. python benchmarks/dse_bench.py --quick    # fewer seeds, no GP

Prints the figures recorded in docs/performance.md (## DSE):

1. Front quality. A space small enough to enumerate (3,360 points: CIM tiles, macros per
   tile, macro geometry, readout sharing, macro clock and DRAM bandwidth around `edgecim`;
   two workloads, analytic engine) is evaluated exhaustively. For each sampler and budget
   (200, 500 trials) we report the hypervolume of the feasible front found as a fraction of
   the exhaustive front's, objectives normalised by the exhaustive front's ideal and nadir
   points, reference 1.1 x nadir (the same for every run), mean and worst over seeds.
2. Speed. Trials per second of the full loop (sampler, storage, evaluation, bookkeeping) on a
   one-workload space, NSGA-II, analytic engine, per storage; and `slmsim explore --jobs 2`.
"""

from __future__ import annotations

import argparse
import itertools
import os
import platform
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import date
from pathlib import Path

import numpy as np
import optuna

from slmsim.dse.pareto import hypervolume, pareto_mask, to_costs
from slmsim.dse.space import load_space
from slmsim.dse.storage import StorageSpec, storage_spec
from slmsim.dse.study import make_sampler, prepare_study, run_worker

ROOT = Path(__file__).parents[1]

BENCH_SPACE = """
name: bench
base: edgecim
parameters:
  devices.cim.tiles: {choices: [4, 8, 16, 32, 64]}
  devices.cim.macros_per_tile: {choices: [4, 8, 16, 32]}
  devices.cim.macro:
    choices:
      m64x128: {rows: 64, rows_per_op: 64, energy_per_array_op: "1.5 pJ", energy_per_readout: "0.3 pJ",
                leakage_power: "5 uW", area: "0.1 mm^2"}
      m128x128: {rows: 128, cols: 128, rows_per_op: 128}
      m256x128: {rows: 256, rows_per_op: 256, energy_per_array_op: "6 pJ", energy_per_readout: "1.2 pJ",
                 leakage_power: "20 uW", area: "0.4 mm^2"}
      m128x256: {cols: 256, energy_per_array_op: "6 pJ", energy_per_row_write: "5.2 pJ",
                 leakage_power: "20 uW", area: "0.4 mm^2"}
  devices.cim.macro.cols_per_readout: {choices: [1, 2, 4]}
  devices.cim.macro.clock: {choices: ["100 MHz", "200 MHz"]}
  memories.dram.bandwidth: {choices: ["68 GB/s", "102 GB/s", "137 GB/s", "205 GB/s", "273 GB/s", "410 GB/s", "546 GB/s"]}
workload_defaults: {prompt: 128, gen: 128, weight_bits: 4, act_bits: 8}
workloads: [WORKLOADS]
objectives: [OBJECTIVES]
constraints: ["area <= 150 mm^2"]
baselines: []
"""


# Latency / power / area: with weights streamed from DRAM (no SLM fits in SRAM CIM), decode
# energy per token is set by the DRAM bytes, so the latency / energy / area front of this
# space has only 6 distinct points (every sampler finds them); latency / power / area
# conflict for real (33 distinct front points) and tell the samplers apart.
OBJECTIVES = "decode_latency, power, area"


def write_space(folder: Path, workloads: str, name: str, objectives: str = OBJECTIVES) -> Path:
    path = folder / f"{name}.yaml"
    path.write_text(BENCH_SPACE.replace("WORKLOADS", workloads).replace("OBJECTIVES", objectives)
                    .replace("name: bench", f"name: {name}"))
    return path


def machine() -> str:
    cpu = "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return (f"{os.cpu_count()} cores ({cpu}), Python {platform.python_version()}, optuna {optuna.__version__}, "
            f"{date.today().isoformat()}")


# ----------------------------------------------------------------------------- front quality


def exhaustive(loaded) -> tuple[np.ndarray, float]:  # noqa: ANN001
    """Objective values of every feasible grid point, and the seconds it took."""
    from slmsim.dse.evaluate import Evaluator

    space = loaded.space
    ev = Evaluator(space=space, base_si=loaded.base_si, models=loaded.models)
    grids = [p.grid() for p in space.params]
    values = []
    t0 = time.perf_counter()
    for combo in itertools.product(*grids):
        e = ev.evaluate_params(dict(zip((p.path for p in space.params), combo, strict=True)))
        if e.feasible:
            values.append([e.metrics[o.metric] for o in space.objectives])
    return np.array(values), time.perf_counter() - t0


def recall(found: np.ndarray, front: np.ndarray) -> int:
    """How many distinct points of the exhaustive front were found exactly."""
    have = {tuple(np.round(r, 12)) for r in found}
    return sum(1 for r in {tuple(np.round(r, 12)) for r in front} if r in have)


def front_hv_fraction(found: np.ndarray, ideal: np.ndarray, nadir: np.ndarray, exhaustive_hv: float) -> float:
    if len(found) == 0:
        return 0.0
    norm = (found - ideal) / (nadir - ideal)
    return hypervolume(norm, np.full(norm.shape[1], 1.1)) / exhaustive_hv


def run_sampler(loaded, sampler: str, n: int, seed: int) -> tuple[np.ndarray, float]:  # noqa: ANN001
    study, config = prepare_study(loaded, storage=StorageSpec("memory", "memory"), study_name=f"{sampler}-{n}-{seed}",
                                  sampler=sampler, engine="analytic", seed=seed, n_trials=n)
    t0 = time.perf_counter()
    run_worker(study, config, sampler=make_sampler(sampler, seed=seed, space=config.space, n_trials=n))
    elapsed = time.perf_counter() - t0
    feasible = [t.values for t in study.get_trials() if t.state.name == "COMPLETE"
                and all(v <= 0 for v in t.constraints.values())]
    return np.array(feasible), elapsed


def front_quality(folder: Path, *, seeds: list[int], samplers: list[str], budgets: list[int],
                  objectives: str = OBJECTIVES) -> None:
    space_path = write_space(folder, "qwen3-0.6b, llama-3.2-1b", "bench-front", objectives)
    loaded = load_space(space_path)
    print(f"space: {loaded.space.grid_size()} points, {len(loaded.space.workloads)} workloads, objectives {objectives}")
    values, secs = exhaustive(loaded)
    costs = to_costs(values, loaded.space.directions)
    front = costs[pareto_mask(costs)]
    ideal, nadir = front.min(axis=0), front.max(axis=0)
    ex_hv = hypervolume((front - ideal) / (nadir - ideal), np.full(front.shape[1], 1.1))
    print(f"exhaustive: {len(values)} feasible of {loaded.space.grid_size()}, front {len(front)} points, "
          f"normalised hypervolume {ex_hv:.4f} ({secs:.1f} s, {loaded.space.grid_size() / secs:.0f} points/s "
          "evaluated directly)")
    n_front = len({tuple(np.round(r, 12)) for r in front})
    print(f"{'sampler':<8}{'trials':>7}{'HV fraction mean':>18}{'worst':>8}"
          f"{'exact front pts found (of ' + str(n_front) + ')':>34}{'s/run':>8}")
    for sampler in samplers:
        for n in budgets:
            if sampler == "gp" and n > 200:
                print(f"{sampler:<8}{n:>7}  skipped: the GP sampler took ~10 min for 200 trials here and grows "
                      "cubically with trials")
                continue
            fracs, sizes, times = [], [], []
            for seed in seeds[:1] if sampler == "gp" else seeds:  # GP: minutes per run, one seed
                try:
                    found, elapsed = run_sampler(loaded, sampler, n, seed)
                except Exception as exc:  # noqa: BLE001 - report and go on (e.g. GP without torch)
                    print(f"{sampler:<8}{n:>7}  skipped: {exc}")
                    break
                fc = to_costs(found, loaded.space.directions) if len(found) else found
                fracs.append(front_hv_fraction(fc, ideal, nadir, ex_hv))
                sizes.append(recall(fc, front) if len(fc) else 0)
                times.append(elapsed)
            if fracs:
                print(f"{sampler:<8}{n:>7}{np.mean(fracs):>18.4f}{min(fracs):>8.4f}{np.mean(sizes):>34.1f}"
                      f"{np.mean(times):>8.1f}", flush=True)


# ----------------------------------------------------------------------------- speed


def speed(folder: Path, *, n: int, pg_url: str | None) -> None:
    space_path = write_space(folder, "qwen3-0.6b", "bench-speed")
    loaded = load_space(space_path)
    print(f"one-workload space ({loaded.space.workloads[0].name}, analytic engine, NSGA-II), full loop:")

    def timed(label: str, make_storage, trials: int, repeats: int = 3) -> None:  # noqa: ANN001
        rates = []
        for _ in range(repeats):
            storage = make_storage()  # a fresh file each time: a journal holding old studies replays them too
            name = f"speed-{uuid.uuid4().hex[:8]}"
            study, config = prepare_study(loaded, storage=storage, study_name=name, sampler="nsga2",
                                          engine="analytic", seed=0, n_trials=trials)
            t0 = time.perf_counter()
            run_worker(study, config, sampler=make_sampler("nsga2", seed=0, space=config.space, n_trials=trials))
            rates.append(trials / (time.perf_counter() - t0))
            if storage.url.startswith("postgresql"):
                optuna.delete_study(study_name=name, storage=storage.url)
        spread = f", runs {min(rates):.0f}-{max(rates):.0f}" if repeats > 1 else ""
        print(f"  {label:<52}{float(np.median(rates)):>7.1f} trials/s  ({trials} trials{spread})", flush=True)

    def journal() -> StorageSpec:
        return storage_spec(None, out_dir=folder / uuid.uuid4().hex[:8])

    timed("in-memory", lambda: StorageSpec("memory", "memory"), n)
    timed("journal file (default; flock, fsync per finished trial)", journal, n)
    # Optuna's per-trial work grows with the study (NSGA-II generation bookkeeping, trial lists)
    timed("journal file, a longer study", journal, 2 * n)
    # Optuna's stock journal backend (symlink lock, fsync per line) for comparison
    from optuna.storages import JournalStorage
    from optuna.storages.journal import JournalFileBackend

    import slmsim.dse.storage as dst

    original = dst.open_storage

    def stock(spec: StorageSpec):  # noqa: ANN202
        if spec.kind != "journal":
            return original(spec)
        Path(spec.url).parent.mkdir(parents=True, exist_ok=True)
        return JournalStorage(JournalFileBackend(spec.url))

    dst.open_storage = stock
    import slmsim.dse.study as dstudy

    dstudy.open_storage = stock
    try:
        timed("journal file, Optuna's JournalFileBackend", journal, n)
    finally:
        dst.open_storage = original
        dstudy.open_storage = original
    timed("sqlite (RDBStorage, heartbeat)", lambda: storage_spec(f"sqlite:///{folder}/s.db", out_dir=folder),
          max(50, n // 5), repeats=1)
    if pg_url:
        try:
            timed("postgresql, 1 worker (synchronous_commit off)", lambda: storage_spec(pg_url, out_dir=folder),
                  max(50, n // 5), repeats=1)
        except Exception as exc:  # noqa: BLE001
            print(f"  postgresql: skipped ({str(exc).splitlines()[0]})")
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    for jobs in (1, 2):
        rates, walls = [], []
        for k in range(3):
            out = folder / f"cli-jobs{jobs}-{k}"
            t0 = time.perf_counter()
            res = subprocess.run([sys.executable, "-m", "slmsim.cli", "explore", str(space_path), "--trials", str(n),
                                  "--jobs", str(jobs), "--out", str(out), "--no-progress"], cwd=ROOT, env=env,
                                 capture_output=True, text=True, check=True)
            walls.append(time.perf_counter() - t0)
            rates.append(float(res.stdout.splitlines()[0].split("this run, ")[1].split(" trials/s")[0]))
        print(f"  {'slmsim explore --jobs ' + str(jobs) + ' (journal)':<52}{float(np.median(rates)):>7.1f} trials/s  "
              f"({n} trials, runs {min(rates):.0f}-{max(rates):.0f}; whole command {np.median(walls):.1f} s "
              "with start-up and outputs)", flush=True)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true", help="one seed, no GP, smaller speed runs")
    ap.add_argument("--no-front", action="store_true")
    ap.add_argument("--no-speed", action="store_true")
    ap.add_argument("--no-gp", action="store_true", help="skip the GP sampler (needs PyTorch; ~5 min)")
    ap.add_argument("--pg", default=os.environ.get("SLMSIM_PG_URL", "postgresql://slmsim:slmsim@127.0.0.1:5432/slmsim"))
    args = ap.parse_args()
    print(f"machine: {machine()}")
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        if not args.no_front:
            samplers = ["nsga2", "tpe", "random"] + ([] if args.quick or args.no_gp else ["gp"])
            seeds = [0] if args.quick else [0, 1, 2]
            front_quality(folder, seeds=seeds, samplers=samplers, budgets=[200, 500])
            print("\nthe same space with objectives decode_latency, energy_per_token, area:")
            front_quality(folder, seeds=seeds, samplers=["nsga2", "tpe", "random"], budgets=[200, 500],
                          objectives="decode_latency, energy_per_token, area")
        if not args.no_speed:
            speed(folder, n=300 if args.quick else 1000, pg_url=args.pg)


if __name__ == "__main__":
    main()
