"""`slmsim serve-storage`: Optuna's gRPC storage proxy in front of a study database (docs/dse.md).

One proxy per database; workers on any machine join with `slmsim worker --storage
grpc://HOST:PORT --study NAME` and need no database driver or credentials. Needs grpcio
(`pip install 'slmsim[cluster]'`).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from slmsim.commands._common import EXIT_OK
from slmsim.core.errors import Problem, SpecError


def register(sub: argparse._SubParsersAction) -> None:
    s = sub.add_parser("serve-storage", help="serve a study database to workers through Optuna's gRPC storage proxy",
                       description="Run Optuna's gRPC storage proxy (run_grpc_proxy_server) in front of a "
                                   "PostgreSQL (or SQLite/MySQL) study database. Workers then join with "
                                   "`slmsim worker --storage grpc://HOST:PORT`. See docs/dse.md, 'A cluster'.")
    s.add_argument("--storage", required=True, help="the database: postgresql://USER@HOST/DB (password from "
                   "PGPASSWORD, ~/.pgpass or the URL; never printed), sqlite:///FILE, mysql://...")
    s.add_argument("--host", default="127.0.0.1",
                   help="address to listen on (default 127.0.0.1; 0.0.0.0 for every interface: the proxy has no "
                        "authentication, so only on a trusted network)")
    s.add_argument("--port", type=int, default=None, help="port to listen on (default 13000)")
    s.set_defaults(func=_cmd_serve)


def _cmd_serve(args: argparse.Namespace) -> int:
    from slmsim.dse.proxy import DEFAULT_PORT, serve
    from slmsim.dse.storage import open_storage, storage_spec

    port = DEFAULT_PORT if args.port is None else args.port
    if not 0 < port < 65536:
        raise SpecError([Problem(file="<command line>", path="--port", message="not a port number", value=port,
                                 expected="1..65535")])
    import socket

    try:
        socket.getaddrinfo(args.host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as exc:
        raise SpecError([Problem(file="<command line>", path="--host", message=f"cannot be resolved to an address: "
                                 f"{exc}", value=args.host,
                                 expected="an IP address or a host name, e.g. 127.0.0.1 or 0.0.0.0",
                                 hint="0.0.0.0 listens on every interface")]) from None
    storage = storage_spec(args.storage, out_dir=Path.cwd())
    if storage.kind != "rdb":
        raise SpecError([Problem(
            file="<command line>", path="--storage", message="the gRPC proxy serves a database",
            value=storage.display, expected="postgresql://..., sqlite:///FILE or mysql://...",
            hint="Optuna's proxy does not support journal files; workers on one machine can share a journal "
                 "directly (--storage FILE)")])
    try:
        import grpc  # noqa: F401
    except ImportError as exc:
        raise SpecError([Problem(file="<command line>", path="serve-storage", message=f"needs grpcio ({exc})",
                                 hint="pip install 'slmsim[cluster]' (grpcio and protobuf)")]) from None
    rdb = open_storage(storage)

    def ready() -> None:
        print(f"serve-storage: {storage.display} on grpc://{args.host}:{port}; workers: slmsim worker --storage "
              f"grpc://{args.host}:{port} --study NAME (Ctrl-C stops)", file=sys.stderr, flush=True)

    try:
        serve(rdb, host=args.host, port=port, on_ready=ready)  # type: ignore[arg-type]
    except RuntimeError as exc:  # grpc: "Failed to bind to address ..."
        raise SpecError([Problem(file="<command line>", path="--port", message=f"cannot listen on {args.host}:{port}: "
                                 f"{exc}", value=port, hint="is another proxy running there? choose another --port")]) \
            from None
    return EXIT_OK
