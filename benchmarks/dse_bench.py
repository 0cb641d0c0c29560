"""Design-space exploration: front quality per sampler, speed, workers, kills, report time.

    PYTHONPATH=. python benchmarks/dse_bench.py                 # everything (~20-30 min on 2 cores)
    PYTHONPATH=. python benchmarks/dse_bench.py --quick         # fewer seeds, no GP
    PYTHONPATH=. python benchmarks/dse_bench.py --only speed,workers,report,kills,repeats

Prints each figure next to its target (issues 15, 17, 18); docs/performance.md (## DSE)
records them with the machine and its load (printed at the start and end of each part).
Comparisons (--jobs 2 vs 1, 1-8 PostgreSQL workers) are measured in one run, interleaved.

1. front: a space small enough to enumerate (3,360 points around `edgecim`, two
   workloads) evaluated exhaustively; per sampler and budget, the hypervolume found as a
   fraction of the exhaustive front's (objectives normalised by its ideal and nadir,
   reference 1.1 x nadir), mean and worst over seeds.
2. speed: trials/s of the full loop (sampler, storage, evaluation, bookkeeping) on a
   one-workload space, NSGA-II, analytic engine, per storage (target >= 400 trials/s);
   `slmsim explore --jobs 1` vs `--jobs 2` (target >= 1.7x on a quiet machine).
   Design claims on/off with one worker (their cost when nobody contends).
3. workers: 1, 2, 4, 8 `slmsim worker` processes on one PostgreSQL study, straight to the
   database and through one `slmsim serve-storage` gRPC proxy, interleaved, with the CPU per
   trial of the workers, the proxy and the database server.
4. report: seconds to write the report of a 1,000-trial study (target <= 1.5 s).
5. kills: 20 SIGKILLs of `explore` (random sampler): trials lost, designs evaluated twice
   (target 0 and 0); 8 PostgreSQL workers with 2 SIGKILLed, direct and through the proxy:
   lost, evaluated twice (0, 0).
6. repeats: `explore examples/space-edgecim.yaml --trials 150`: evaluations = distinct
   parameter sets, repeats marked duplicate_of.
7. serving: CPU per new design of a served workload against the same workload as one batch.
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import signal
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


def load() -> str:
    try:
        return "load " + " ".join(Path("/proc/loadavg").read_text().split()[:3])
    except OSError:
        return "load unknown"


def machine() -> str:
    cpu = "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return (f"nproc {os.cpu_count()} ({cpu}), {load()}, Python {platform.python_version()}, optuna {optuna.__version__}, "
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


def speed(folder: Path, *, n: int, pg_url: str | None, jobs_repeats: int = 3) -> None:
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
    timed("journal file (default; one append per trial, group fsync)", journal, n)
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
    claims_cost(folder, pg_url, n=n)
    jobs_scaling(space_path, folder, n=n, repeats=jobs_repeats)


def _explore(space_path: Path, out: Path, *extra: str, stats: Path | None = None) -> tuple[float, float, str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    if stats is not None:
        env["SLMSIM_WORKER_STATS"] = str(stats)  # each worker appends its loop's trials, CPU and wall seconds
    t0 = time.perf_counter()
    res = subprocess.run([sys.executable, "-m", "slmsim.cli", "explore", str(space_path), "--out", str(out),
                          "--no-progress", *extra], cwd=ROOT, env=env, capture_output=True, text=True, check=True)
    wall = time.perf_counter() - t0
    rate = float(res.stdout.splitlines()[0].split("this run, ")[1].split(" trials/s")[0])
    return rate, wall, res.stdout


def _busy() -> tuple[int, int]:
    """(busy, total) jiffies of the whole machine from /proc/stat (every process, ours or not)."""
    try:
        v = [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    except OSError:
        return 0, 0
    return sum(v) - v[3] - v[4], sum(v)  # idle and iowait are not busy


def _control_work(q) -> None:  # noqa: ANN001
    """A fixed piece of CPU-bound Python (dict updates, like the DSE loop's bookkeeping)."""
    w0 = time.perf_counter()
    d: dict[int, int] = {}
    for i in range(2_000_000):
        d[i & 1023] = d.get(i & 1023, 0) + i * 3
    q.put(time.perf_counter() - w0)


def control_ratio() -> float:
    """Throughput of 2 processes running the same fixed work at once over 1 alone: how much
    of a second core the machine gives us right now (2.0 on two free cores). The ceiling of
    any --jobs 2 gain at that moment."""
    import multiprocessing

    ctx = multiprocessing.get_context("fork")
    rates = []
    for k in (1, 2):
        q = ctx.Queue()
        procs = [ctx.Process(target=_control_work, args=(q,)) for _ in range(k)]
        t0 = time.perf_counter()
        for p in procs:
            p.start()
        for _ in procs:
            q.get()
        for p in procs:
            p.join()
        rates.append(k / (time.perf_counter() - t0))
    return rates[1] / rates[0]


def jobs_scaling(space_path: Path, folder: Path, *, n: int, repeats: int = 3) -> None:
    """`explore --jobs 1` and `--jobs 2`, interleaved, so both see the same machine load.

    Besides the trials/s `explore` prints, each worker reports its loop's CPU (user + sys,
    `os.times`) and wall time, and /proc/stat gives how busy the whole machine was: if the CPU
    per trial is the same at 1 and 2 jobs, whatever the wall time does not gain is cores the
    workers did not get."""
    rows: dict[int, list[dict[str, float]]] = {1: [], 2: []}
    for k in range(repeats):
        for jobs in (1, 2):
            stats = folder / f"stats-{jobs}-{k}.jsonl"
            b0, a0 = _busy()
            rate, wall, _ = _explore(space_path, folder / f"cli-jobs{jobs}-{k}", "--trials", str(n), "--jobs", str(jobs),
                                     stats=stats)
            b1, a1 = _busy()
            control = control_ratio()  # right after each run: what a second process could gain then
            ws = [json.loads(line) for line in stats.read_text().splitlines()]
            cpu = sum(w["user_s"] + w["sys_s"] for w in ws)
            loop = max(w["wall_s"] for w in ws)
            rows[jobs].append({"rate": rate, "wall": wall, "cpu_ms": 1e3 * cpu / max(1, sum(w["trials"] for w in ws)),
                               "cores": cpu / loop, "busy": (b1 - b0) / max(1, a1 - a0) * (os.cpu_count() or 1),
                               "control": control, "pids": len({w["pid"] for w in ws})})
    for jobs in (1, 2):
        r = rows[jobs]
        med = {key: float(np.median([x[key] for x in r])) for key in r[0]}
        print(f"  {'slmsim explore --jobs ' + str(jobs) + ' (journal)':<52}{med['rate']:>7.1f} trials/s"
              f"  ({n} trials, runs {min(x['rate'] for x in r):.0f}-{max(x['rate'] for x in r):.0f}; whole command "
              f"{med['wall']:.1f} s)   target >= 400 trials/s", flush=True)
    print(f"  pair | trials/s j1, j2 | ratio | control: 2 procs / 1 | CPU ms/trial j1, j2 | cores our workers used "
          f"j1, j2 | machine busy (of {os.cpu_count()} cores) j1, j2 | worker pids j2")
    for k, (a, b) in enumerate(zip(rows[1], rows[2], strict=True)):
        print(f"  {k:>4} | {a['rate']:7.1f} {b['rate']:7.1f} | {b['rate'] / a['rate']:5.2f}x | "
              f"{a['control']:5.2f}x {b['control']:5.2f}x | {a['cpu_ms']:5.2f} {b['cpu_ms']:5.2f} | {a['cores']:5.2f} "
              f"{b['cores']:5.2f} | {a['busy']:5.2f} {b['busy']:5.2f} | {b['pids']}")
    cpu = [b["cpu_ms"] / a["cpu_ms"] for a, b in zip(rows[1], rows[2], strict=True)]
    print(f"  CPU per trial, --jobs 2 / --jobs 1: {np.median(cpu):.2f}x (pairs {min(cpu):.2f}-{max(cpu):.2f}); "
          "the wall-time ratio can reach 2 x (jobs-1 CPU / jobs-2 CPU) only with two free cores", flush=True)
    ratio = [b["rate"] / a["rate"] for a, b in zip(rows[1], rows[2], strict=True)]
    print(f"  --jobs 2 / --jobs 1 throughput, paired runs: {np.median(ratio):.2f}x (runs "
          f"{min(ratio):.2f}-{max(ratio):.2f})   target >= 1.7x on a quiet machine; {load()}", flush=True)


# ----------------------------------------------------------------------------- PostgreSQL workers


def _pg_study(loaded, pg_url: str, n: int, sampler: str = "nsga2"):  # noqa: ANN001, ANN202
    name = f"bench-{uuid.uuid4().hex[:8]}"
    storage = storage_spec(pg_url, out_dir=Path.cwd())
    prepare_study(loaded, storage=storage, study_name=name, sampler=sampler, engine="analytic", seed=0, n_trials=n)
    return name, storage


def _workers(url: str, name: str, k: int, *, sampler: str | None = None) -> list[subprocess.Popen]:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    cmd = [sys.executable, "-m", "slmsim.cli", "worker", "--storage", url, "--study", name, "--no-progress"]
    if sampler:
        cmd += ["--sampler", sampler]
    return [subprocess.Popen(cmd + ["--seed", str(i)], cwd=ROOT, env=env, stdout=subprocess.DEVNULL,
                             stderr=subprocess.PIPE, start_new_session=True) for i in range(k)]


def _span_rate(storage: StorageSpec, name: str) -> tuple[int, float]:
    """Completed trials and trials/s between the first and the last finished trial (start-up excluded)."""
    study = optuna.load_study(study_name=name, storage=storage.url)
    done = [t for t in study.get_trials(deepcopy=False) if t.state.name == "COMPLETE"]
    ends = sorted(t.datetime_complete for t in done)
    span = (ends[-1] - ends[0]).total_seconds() if len(ends) > 1 else float("nan")
    return len(done), (len(done) - 1) / span if span > 0 else float("nan")


_TICK = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


def _cpu_of(match, *, children: bool = False) -> float:  # noqa: ANN001
    """User + sys CPU seconds of every live process whose /proc/PID/stat matches `match(pid, comm)`;
    `children`: with its reaped children's (a database server's backends end with their connections
    and their CPU moves to the postmaster's cutime/cstime)."""
    total = 0
    for d in Path("/proc").iterdir():
        if not d.name.isdigit():
            continue
        try:
            raw = (d / "stat").read_text()
        except OSError:
            continue
        comm = raw[raw.find("(") + 1:raw.rfind(")")]
        if match(int(d.name), comm):
            fields = raw[raw.rfind(")") + 2:].split()
            total += int(fields[11]) + int(fields[12])  # utime, stime (fields 14, 15 of stat(5))
            if children:
                total += int(fields[13]) + int(fields[14])  # cutime, cstime
    return total / _TICK


def _free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class _Proxy:
    """A `slmsim serve-storage` process in front of the benchmark database."""

    def __init__(self, pg_url: str) -> None:
        self.port = _free_port()
        self.url = f"grpc://127.0.0.1:{self.port}"
        self.log = tempfile.NamedTemporaryFile("w+", suffix=".log", delete=False)
        self.proc = subprocess.Popen([sys.executable, "-m", "slmsim.cli", "serve-storage", "--storage", pg_url,
                                      "--port", str(self.port)], cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)},
                                     stdout=self.log, stderr=subprocess.STDOUT, start_new_session=True)
        deadline = time.monotonic() + 60
        while "Listening" not in Path(self.log.name).read_text():
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"serve-storage did not start: {Path(self.log.name).read_text()[-400:]}")
            time.sleep(0.1)

    def close(self) -> None:
        os.killpg(self.proc.pid, signal.SIGTERM)
        self.proc.wait(timeout=30)
        self.log.close()
        os.unlink(self.log.name)


def _twice(storage: StorageSpec, name: str, space) -> int:  # noqa: ANN001
    """Designs evaluated by more than one trial (trials without duplicate_of, per design key)."""
    from slmsim.dse.study import design_key

    study = optuna.load_study(study_name=name, storage=storage.url)
    seen: set[str] = set()
    twice = 0
    for t in study.get_trials(deepcopy=False):
        if t.state.name == "COMPLETE" and t.user_attrs.get("duplicate_of") is None:
            key = design_key(t.params, space)
            twice += key in seen
            seen.add(key)
    return twice


def pg_workers(folder: Path, pg_url: str, *, n: int, counts: tuple[int, ...] = (1, 2, 4, 8)) -> None:
    """k workers on one PostgreSQL study, straight to the database and through one gRPC proxy,
    interleaved per k, with the CPU each side used: the workers (os.times of their processes),
    the proxy and the database server (/proc/PID/stat), per trial."""
    loaded = load_space(write_space(folder, "qwen3-0.6b", "bench-workers"))
    print(f"PostgreSQL, one study of {n} trials per run (one-workload space, NSGA-II, analytic), k `slmsim worker` "
          f"processes on this machine, straight to the database or through one `slmsim serve-storage` proxy; {load()}")
    try:
        proxy: _Proxy | None = _Proxy(pg_url)
    except Exception as exc:  # noqa: BLE001 - no grpcio: the direct route only
        print(f"  gRPC proxy: skipped ({str(exc).splitlines()[0][:200]})")
        proxy = None
    print("  route   workers  trials/s  vs 1   CPU ms/trial: workers  proxy  database   machine busy (cores)  "
          "designs evaluated twice  whole s")
    base: dict[str, float] = {}
    try:
        for k in counts:
            for route in ("direct", "proxy"):
                if route == "proxy" and proxy is None:
                    continue
                url = pg_url if route == "direct" else proxy.url  # type: ignore[union-attr]
                name, storage = _pg_study(loaded, pg_url, n)
                t0, w0 = os.times(), time.perf_counter()
                b0, a0 = _busy()
                p0 = _cpu_of(lambda pid, comm: proxy is not None and pid == proxy.proc.pid)
                d0 = _cpu_of(lambda pid, comm: comm == "postgres", children=True)
                procs = _workers(url, name, k)
                for p in procs:
                    p.wait(timeout=1800)
                    if p.stderr:
                        p.stderr.close()
                wall = time.perf_counter() - w0
                t1 = os.times()
                b1, a1 = _busy()
                p1 = _cpu_of(lambda pid, comm: proxy is not None and pid == proxy.proc.pid)
                d1 = _cpu_of(lambda pid, comm: comm == "postgres", children=True)
                complete, rate = _span_rate(storage, name)
                twice = _twice(storage, name, loaded.space)
                base.setdefault(route, rate)
                wcpu = (t1.children_user - t0.children_user) + (t1.children_system - t0.children_system)
                busy = (b1 - b0) / max(1, a1 - a0) * (os.cpu_count() or 1)
                print(f"  {route:<7}{k:>8}{rate:>10.1f}{rate / base[route]:>6.2f}x{1e3 * wcpu / complete:>22.1f}"
                      f"{1e3 * (p1 - p0) / complete:>7.1f}{1e3 * (d1 - d0) / complete:>10.1f}{busy:>23.2f}"
                      f"{twice:>25}{wall:>9.1f}   ({complete} of {n} complete)", flush=True)
                optuna.delete_study(study_name=name, storage=storage.url)
    finally:
        if proxy is not None:
            proxy.close()
    print(f"  (workers' CPU includes their start-up, ~1 s each; database CPU is every postgres process, other users' "
          f"included; {load()})")


def claims_cost(folder: Path, pg_url: str | None, *, n: int, repeats: int = 3) -> None:
    """Trials/s of one worker with design claims on and off, interleaved (journal, PostgreSQL):
    what the claim costs when nobody contends for it."""
    import slmsim.dse.study as dstudy

    loaded = load_space(write_space(folder, "qwen3-0.6b", "bench-claims"))
    routes = [("journal", lambda: storage_spec(None, out_dir=folder / uuid.uuid4().hex[:8]), n)]
    if pg_url:
        routes.append(("postgresql", lambda: storage_spec(pg_url, out_dir=folder), max(50, n // 5)))
    for label, make, trials in routes:
        rates: dict[bool, list[float]] = {True: [], False: []}
        for _ in range(repeats):
            for on in (True, False):
                dstudy.CLAIMS = on
                storage = make()
                name = f"claims-{uuid.uuid4().hex[:8]}"
                study, config = prepare_study(loaded, storage=storage, study_name=name, sampler="nsga2",
                                              engine="analytic", seed=0, n_trials=trials)
                t0 = time.perf_counter()
                run_worker(study, config, sampler=make_sampler("nsga2", seed=0, space=config.space, n_trials=trials))
                rates[on].append(trials / (time.perf_counter() - t0))
                if label == "postgresql":
                    optuna.delete_study(study_name=name, storage=storage.url)
        dstudy.CLAIMS = True
        ratio = [a / b for a, b in zip(rates[True], rates[False], strict=True)]
        print(f"  design claims, 1 worker, {label:<11} on {np.median(rates[True]):7.1f} / off "
              f"{np.median(rates[False]):7.1f} trials/s: {np.median(ratio):.2f}x (pairs {min(ratio):.2f}-"
              f"{max(ratio):.2f}; {trials} trials)", flush=True)


def pg_kills(folder: Path, pg_url: str, *, n: int = 600, k: int = 8, killed: int = 2) -> None:
    from slmsim.dse.killtest import run_worker_kills

    space = write_space(folder, "qwen3-0.6b", "bench-pgkill")
    routes = [("direct", pg_url)]
    try:
        proxy: _Proxy | None = _Proxy(pg_url)
        routes.append(("through the gRPC proxy", proxy.url))
    except Exception:  # noqa: BLE001
        proxy = None
    try:
        for label, url in routes:
            r = run_worker_kills(storage=url, space=space, study=f"bench-kill-{uuid.uuid4().hex[:8]}", target=n,
                                 workers=k, killed=killed, engine="analytic", cwd=ROOT)
            print(f"PostgreSQL {label}, {k} workers (random sampler), {killed} SIGKILLed at {n // 4} trials: "
                  f"{r.complete} of {n} complete (lost {r.lost}, target 0), {r.unfinished} not complete, designs "
                  f"evaluated twice {r.evaluated_twice} (target 0), repeats pointing elsewhere {r.bad_repeats}; "
                  f"{r.distinct} distinct designs {' '.join(r.notes)}", flush=True)
    finally:
        if proxy is not None:
            proxy.close()


# ----------------------------------------------------------------------------- report, kills, repeats


def report_time(folder: Path, *, n: int = 1000) -> None:
    space_path = write_space(folder, "qwen3-0.6b, llama-3.2-1b", "bench-report")
    out = folder / "report-study"
    _explore(space_path, out, "--trials", str(n))
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    code = ("import time, sys; from pathlib import Path; t0 = time.perf_counter(); "
            "from slmsim.reports.study import write_study_report; t1 = time.perf_counter(); "
            f"write_study_report(study_dir=Path({str(out)!r}), out_html=Path({str(out / 'r.html')!r})); "
            "t2 = time.perf_counter(); print(f'{t1 - t0:.3f} {t2 - t1:.3f}')")
    times = []
    for _ in range(3):
        res = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, check=True)
        times.append([float(x) for x in res.stdout.split()])
    imp = json.loads((out / "study.json").read_text()).get("importances", {})
    med = np.median(np.array(times), axis=0)
    print(f"report of a {n}-trial study: {med[1]:.2f} s to write (median of 3; + {med[0]:.2f} s of imports)   "
          f"target <= 1.5 s; importances computed once by explore in {imp.get('seconds', float('nan')):.2f} s "
          f"on {imp.get('n_trials')} designs (sampled: {imp.get('sampled')}); {load()}", flush=True)


KILL_SPACE = """
name: kill
base: edgecim
parameters:
  devices.cim.tiles: {choices: [4, 8, 16, 32]}
  devices.cim.macros_per_tile: {low: 4, high: 32, step: 4}
  devices.cim.macro.clock: {choices: ["100 MHz", "150 MHz", "200 MHz", "300 MHz"]}
  memories.dram.bandwidth: {choices: ["68 GB/s", "102 GB/s", "137 GB/s", "205 GB/s", "273 GB/s", "410 GB/s", "546 GB/s"]}
workloads:
  - {model: qwen3-0.6b, prompt: 32, gen: 64, act_bits: 8}
objectives: [decode_latency, energy_per_token, area]
baselines: []
"""


def kills(folder: Path, *, n_kills: int = 20, target: int = 600) -> None:
    """SIGKILLs of explore on a discrete space of 896 designs (random sampler, DES ~30 ms a
    trial): 600 trials must repeat designs, so the evaluation cache is exercised too."""
    from slmsim.dse.killtest import run_kills

    space = folder / "kill.yaml"
    space.write_text(KILL_SPACE)
    t0 = time.perf_counter()
    r = run_kills(space=space, out=folder / "kills", study="kill",
                  target=target, kills=n_kills, seed=7, extra=("--engine", "des"), delay_s=(0.0, 0.005),
                  poll_s=0.005, cwd=ROOT)
    print(f"{r.kills} SIGKILLs of explore (random sampler, DES, {target} trials; {r.kills_mid_run} mid-study): "
          f"{r.complete} of {target} complete, trials lost {r.lost} (target 0), designs evaluated twice "
          f"{r.evaluated_twice} (target 0), repeats pointing elsewhere {r.bad_repeats}, left unfinished "
          f"{r.unfinished}; {r.distinct} distinct designs; {time.perf_counter() - t0:.0f} s {r.notes or ''}", flush=True)


def repeats(folder: Path) -> None:
    import pandas as pd

    out = folder / "edgecim-150"
    _explore(ROOT / "examples" / "space-edgecim.yaml", out, "--trials", "150")
    df = pd.read_csv(out / "trials.csv")
    params = [c for c in df.columns if c.startswith("param:")]
    done = df[df["state"] == "COMPLETE"]
    distinct = len(done.drop_duplicates(subset=params))
    evaluated = int(done["duplicate_of"].isna().sum())
    summary = json.loads((out / "study.json").read_text())
    pareto = pd.read_csv(out / "pareto.csv")
    print(f"explore examples/space-edgecim.yaml --trials 150: {len(done)} trials, {distinct} distinct parameter sets, "
          f"{evaluated} evaluated (target: = distinct), {int(done['duplicate_of'].notna().sum())} marked duplicate_of; "
          f"study.json n_designs {summary['n_designs']}, pareto.csv {len(pareto)} rows / "
          f"{len(pareto.drop_duplicates(subset=params))} distinct", flush=True)


def serving_cost(folder: Path) -> None:
    """7. serving: what a served workload (`serving:`, docs/dse.md) costs a trial against the same
    workload as one batch, per new design (`Evaluator.evaluate_params`, DRAM bandwidths never
    seen before, minimum and median of 12). No target: the ratio is the figure to watch."""
    from slmsim.dse.evaluate import Evaluator

    print(f"\nserving workloads ({load()}):")
    rows = {}
    for label, extra in (("one batch", ""), ("served: 12 Poisson requests, mixed 128, p99",
                                               ", serving: {arrivals: poisson, rate: 8, requests: 12, max_batch: 4, "
                                               "schedule: mixed, step_tokens: 128, memory_model: ideal, "
                                               "statistic: p99}")):
        f = folder / f"serve-{len(rows)}.yaml"
        f.write_text("base: orin-nano\nparameters:\n  memories.dram.bandwidth: {low: '50 GB/s', high: '200 GB/s'}\n"
                     f"workloads:\n  - {{model: qwen3-0.6b, prompt: 256, gen: 16{extra}}}\n"
                     "objectives: [decode_latency, ttft]\nbaselines: []\n")
        loaded = load_space(f)
        ev = Evaluator(space=loaded.space, base_si=loaded.base_si, models=loaded.models)
        ev.evaluate_params({"memories.dram.bandwidth": 60e9})
        times = []
        for i in range(12):
            t0 = time.process_time()
            ev.evaluate_params({"memories.dram.bandwidth": 61e9 + i * 9.7e9})
            times.append(time.process_time() - t0)
        rows[label] = float(np.median(times))
        print(f"  {label:<46} {min(times) * 1e3:6.2f} ms min, {rows[label] * 1e3:6.2f} ms median CPU per new design")
    a, b = rows.values()
    print(f"  served / one batch: {b / a:.1f}x (no target)")
    print(f"  {load()}")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true", help="one seed, no GP, smaller speed runs")
    ap.add_argument("--only", default="front,speed,workers,report,kills,repeats,serving",
                    help="comma-separated parts: front, speed, jobs, claims (both part of speed), workers, "
                         "report, kills, repeats, serving")
    ap.add_argument("--no-gp", action="store_true", help="skip the GP sampler (needs PyTorch; ~5 min)")
    ap.add_argument("--kills", type=int, default=20, help="SIGKILLs in the kill test (default 20)")
    ap.add_argument("--jobs-repeats", type=int, default=3, help="paired --jobs 1 / --jobs 2 runs (default 3)")
    ap.add_argument("--pg-trials", type=int, default=None, help="trials per PostgreSQL workers run (default 600, "
                    "--quick 200)")
    ap.add_argument("--pg", default=os.environ.get("SLMSIM_PG_URL", "postgresql://slmsim:slmsim@127.0.0.1:5432/slmsim"))
    args = ap.parse_args()
    parts = set(args.only.split(","))
    print(f"machine: {machine()}")
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        if "front" in parts:
            samplers = ["nsga2", "tpe", "random"] + ([] if args.quick or args.no_gp else ["gp"])
            seeds = [0] if args.quick else [0, 1, 2]
            front_quality(folder, seeds=seeds, samplers=samplers, budgets=[200, 500])
            print("\nthe same space with objectives decode_latency, energy_per_token, area:")
            front_quality(folder, seeds=seeds, samplers=["nsga2", "tpe", "random"], budgets=[200, 500],
                          objectives="decode_latency, energy_per_token, area")
        if "speed" in parts:
            speed(folder, n=300 if args.quick else 1000, pg_url=args.pg, jobs_repeats=args.jobs_repeats)
        if "jobs" in parts and "speed" not in parts:  # --jobs 1 vs 2 alone (speed includes it)
            jobs_scaling(write_space(folder, "qwen3-0.6b", "bench-speed"), folder, n=300 if args.quick else 1000,
                         repeats=args.jobs_repeats)
        if "claims" in parts and "speed" not in parts:  # design claims on/off alone (speed includes it)
            claims_cost(folder, args.pg, n=300 if args.quick else 1000, repeats=args.jobs_repeats)
        if "workers" in parts:
            try:
                pg_workers(folder, args.pg, n=args.pg_trials or (200 if args.quick else 600))
                pg_kills(folder, args.pg)
            except Exception as exc:  # noqa: BLE001 - no server: say so, go on
                print(f"PostgreSQL: skipped ({str(exc).splitlines()[0]})")
        if "report" in parts:
            report_time(folder)
        if "kills" in parts:
            kills(folder, n_kills=args.kills)
        if "repeats" in parts:
            repeats(folder)
        if "serving" in parts:
            serving_cost(folder)
    print(f"end: {load()}")


if __name__ == "__main__":
    main()
