"""Workers through Optuna's gRPC storage proxy (`slmsim serve-storage`) in front of PostgreSQL.

Needs a PostgreSQL server (as tests/dse/test_dse_postgres.py: skipped without one, except
under SLMSIM_CI=1) and grpcio (the `cluster` extra; skipped without it, except under
SLMSIM_CI=1). The proxy runs as a real `slmsim serve-storage` process; the workers are real
`slmsim worker --storage grpc://...` processes (dse/killtest.py).
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.dse.test_dse_postgres import _server_or_skip
from tests.dse.test_dse_secrets import FORMS, PASSWORD

ROOT = Path(__file__).parents[2]
FIXTURES = Path(__file__).parent / "fixtures"
SENTINEL = f"postgresql://slmsim_sentinel:{PASSWORD}@127.0.0.1:5432/slmsim"  # role from .ci/setup.d/postgres.sh


def _grpc_or_skip() -> None:
    try:
        import grpc  # noqa: F401
    except ImportError as exc:
        if os.environ.get("SLMSIM_CI") == "1":
            pytest.fail(f"grpcio is missing ({exc}); SLMSIM_CI=1 installs the `cluster` extra")
        pytest.skip(f"grpcio is missing ({exc}); pip install 'slmsim[cluster]'")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def proxy(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    """A `slmsim serve-storage` on a free port, logging to a file; yields (grpc URL, log file)."""
    _server_or_skip()
    _grpc_or_skip()
    port = _free_port()
    log = tmp_path / "serve.log"
    with open(log, "w") as f:
        proc = subprocess.Popen([sys.executable, "-m", "slmsim.cli", "serve-storage", "--storage", SENTINEL,
                                 "--port", str(port)], cwd=ROOT, stdout=f, stderr=subprocess.STDOUT,
                                env={**os.environ, "PYTHONPATH": str(ROOT)}, start_new_session=True)
    try:
        deadline = time.monotonic() + 60
        while "Listening" not in log.read_text() and time.monotonic() < deadline:
            assert proc.poll() is None, log.read_text()
            time.sleep(0.1)
        yield f"grpc://127.0.0.1:{port}", log
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=30)


def test_proxied_workers_count_exactly_and_evaluate_each_design_once(proxy: tuple[str, Path]) -> None:
    """Four workers through the proxy, one SIGKILLed mid-study (random sampler, DES, a
    224-design space, so repeats are frequent): exactly the target complete, nothing lost
    or left RUNNING, every design evaluated once (the proxy grants design claims and counts)."""
    from slmsim.dse.killtest import run_worker_kills

    url, log = proxy
    r = run_worker_kills(storage=url, space=FIXTURES / "kill.yaml", study=f"test-grpc-{uuid.uuid4().hex[:10]}",
                         target=120, workers=4, killed=1, cwd=ROOT)
    assert r.notes == []
    assert r.kills_mid_run == 1
    assert r.complete == 120 and r.lost == 0 and r.unfinished == 0
    assert r.distinct < 120  # repeats happened
    assert r.evaluated_twice == 0 and r.bad_repeats == 0
    text = log.read_text()
    assert "slmsim_sentinel:***@127.0.0.1" in text  # the proxy names its database masked
    for form in FORMS:
        assert form not in text


def test_a_grpc_url_without_a_proxy_is_a_clear_error(tmp_path: Path) -> None:
    _grpc_or_skip()
    res = subprocess.run([sys.executable, "-m", "slmsim.cli", "worker", "--storage",
                          f"grpc://127.0.0.1:{_free_port()}", "--study", "x"], cwd=ROOT, capture_output=True,
                         text=True, env={**os.environ, "PYTHONPATH": str(ROOT)}, timeout=120)
    assert res.returncode == 2
    assert "no storage proxy answers at 127.0.0.1:" in res.stderr and "slmsim serve-storage" in res.stderr
    assert "Traceback" not in res.stderr
    bad = subprocess.run([sys.executable, "-m", "slmsim.cli", "worker", "--storage", "grpc://nohost", "--study", "x"],
                         cwd=ROOT, capture_output=True, text=True, env={**os.environ, "PYTHONPATH": str(ROOT)},
                         timeout=120)
    assert bad.returncode == 2 and "grpc://HOST:PORT" in bad.stderr and "Traceback" not in bad.stderr


def test_a_grpc_server_that_is_not_a_storage_proxy_is_a_clear_error() -> None:
    """Another service's gRPC server on the port: the channel is ready, the storage RPC is
    UNIMPLEMENTED; the worker says so (exit 2), no traceback."""
    _grpc_or_skip()
    from concurrent import futures

    import grpc

    port = _free_port()
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=2))
    server.add_insecure_port(f"127.0.0.1:{port}")
    server.start()
    try:
        res = subprocess.run([sys.executable, "-m", "slmsim.cli", "worker", "--storage", f"grpc://127.0.0.1:{port}",
                              "--study", "x", "--no-progress"], cwd=ROOT, capture_output=True, text=True,
                             env={**os.environ, "PYTHONPATH": str(ROOT)}, timeout=120)
    finally:
        server.stop(None)
    assert res.returncode == 2, res.stderr
    assert f"the gRPC server at 127.0.0.1:{port} is not an Optuna storage proxy" in res.stderr
    assert "UNIMPLEMENTED" in res.stderr and "slmsim serve-storage" in res.stderr
    assert "Traceback" not in res.stderr


def test_serve_storage_refuses_a_journal(tmp_path: Path) -> None:
    _grpc_or_skip()
    res = subprocess.run([sys.executable, "-m", "slmsim.cli", "serve-storage", "--storage", str(tmp_path / "j.log")],
                         cwd=ROOT, capture_output=True, text=True, env={**os.environ, "PYTHONPATH": str(ROOT)},
                         timeout=120)
    assert res.returncode == 2 and "the gRPC proxy serves a database" in res.stderr
