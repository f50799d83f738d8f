"""The `rlvr` command: serve, worker, score, verifiers, demo, and train (the rlvr-trainer package)."""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import sys
from pathlib import Path

from rlvr_client.client import RewardClient
from rlvr_client.errors import RLVRError
from rlvr_client.models import RewardSpec

from . import __version__


def _common(p: argparse.ArgumentParser, default_port: int) -> None:
    p.add_argument("--host", default=None, help="address to bind (default 127.0.0.1, env RLVR_HOST)")
    p.add_argument("--port", type=int, default=None, help=f"HTTP port (default {default_port}, env RLVR_PORT)")
    p.add_argument("--redis-url", default=None, help="Redis URL: queue mode (env RLVR_REDIS_URL)")
    p.add_argument("--processes", type=int, default=None, help="verifier processes per verifier (default: cores)")
    p.add_argument("--plugin", action="append", default=None, help="module that registers extra verifiers")
    p.add_argument(
        "--backends-file",
        default=None,
        help="JSON/YAML file of the judge and reward-model backends, name -> settings (env RLVR_BACKENDS_FILE; "
        "RLVR_BACKENDS takes the same as JSON)",
    )
    p.add_argument(
        "--api-keys-file",
        default=None,
        help='JSON/YAML file of API keys, {"keys": [{"name", "key", "scopes": [score, run, admin]}]} (env '
        "RLVR_API_KEYS_FILE; RLVR_API_KEYS takes the same as JSON). Without keys every endpoint is open",
    )
    p.add_argument(
        "--drain-timeout-s",
        type=float,
        default=None,
        help="on SIGTERM, seconds to finish the work in hand before exiting (default 25, env RLVR_DRAIN_TIMEOUT_S)",
    )


def _overrides(args: argparse.Namespace) -> dict[str, object]:
    names = {
        "host": "host",
        "port": "port",
        "redis_url": "redis_url",
        "processes": "processes",
        "plugin": "plugins",
        "backends_file": "backends_file",
        "api_keys_file": "api_keys_file",
        "drain_timeout_s": "drain_timeout_s",
        "verifier": "verifier",
    }
    return {dest: getattr(args, src) for src, dest in names.items() if getattr(args, src, None) is not None}


def _parse_rewards(text: str | None) -> list[RewardSpec] | None:
    if text is None:
        return None
    raw = text if text.lstrip().startswith(("[", "{")) else Path(text).read_text(encoding="utf-8")
    data = json.loads(raw)
    return [RewardSpec.model_validate(d) for d in (data if isinstance(data, list) else [data])]


def cmd_serve(args: argparse.Namespace) -> int:
    from .gateway.app import create_app
    from .server import serve
    from .settings import GatewaySettings

    settings = GatewaySettings(**_overrides(args))  # type: ignore[arg-type]
    serve(create_app(settings), settings.host, settings.port, settings.log_level)
    return 0


def cmd_worker(args: argparse.Namespace) -> int:
    from .server import serve
    from .settings import WorkerSettings
    from .worker import create_worker_app

    if args.verifier is None and not os.environ.get("RLVR_VERIFIER"):
        raise ValueError("worker: name its verifiers with --verifier math[,ifeval,...] or RLVR_VERIFIER")
    settings = WorkerSettings(**_overrides(args))  # type: ignore[arg-type]
    serve(create_worker_app(settings), settings.host, settings.port, settings.log_level)
    return 0


def cmd_score(args: argparse.Namespace) -> int:
    from .batch import score_file
    from .settings import GatewaySettings

    overrides: dict[str, object] = {}
    if args.processes is not None:
        overrides["processes"] = args.processes
    if args.plugin:
        overrides["plugins"] = args.plugin
    settings = GatewaySettings(**overrides)  # type: ignore[arg-type]
    written, skipped = asyncio.run(
        score_file(
            Path(args.input),
            Path(args.output),
            rewards=_parse_rewards(args.rewards),
            url=args.url,
            batch_size=args.batch_size,
            settings=settings,
            progress=not args.quiet,
        )
    )
    print(f"scored {written} items, {skipped} already in {args.output}", file=sys.stderr)
    return 0


def cmd_verifiers(args: argparse.Namespace) -> int:
    if args.url:
        with RewardClient(args.url) as client:
            infos = [i.model_dump() for i in client.verifiers()]
    else:
        from .gateway.app import verifier_infos
        from .runtime.registry import load_plugins

        infos = [i.model_dump() for i in verifier_infos(load_plugins(args.plugin or [])).verifiers]
    if args.json:
        print(json.dumps(infos, indent=2))
    else:
        for info in infos:
            props = ", ".join(info["params_schema"].get("properties", {}))
            print(f"{info['name']:<10} {info['description']}\n{'':<10} params: {props}")
    return 0


def cmd_demo(args: argparse.Namespace) -> int:
    from .demo import run_demo

    print(run_demo())
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="rlvr", description="rlvr-stack: verifiers and a reward service for RL with verifiable rewards."
    )
    parser.add_argument("--version", action="version", version=f"rlvr-stack {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser(
        "serve",
        help="run the gateway (embedded verifiers, or queue mode with --redis-url)",
        description="Run the gateway. In queue mode a request for a verifier with no live worker is answered at once "
        "(503 no_live_worker, or `error` on that verifier's components when others can score). SIGTERM drains it: "
        "/readyz turns 503, new requests get 503, requests in flight finish within the drain timeout.",
    )
    _common(p, 8000)
    p.set_defaults(func=cmd_serve)

    p = sub.add_parser(
        "worker",
        help="serve one or more verifiers over HTTP and consume their Redis streams",
        description="Serve verifiers over HTTP (POST /v1/verify) and, with --redis-url, consume each one's Redis "
        "stream (one consumer per verifier, one heartbeat per verifier). SIGTERM drains it: it stops claiming, "
        "finishes what it holds within the drain timeout and hands the rest back to the stream.",
    )
    p.add_argument(
        "--verifier",
        default=None,
        help="verifier name(s), comma-separated: math, or math,ifeval,language (env RLVR_VERIFIER). A code worker "
        "also serves POST /v1/run; a judge worker needs its backends",
    )
    _common(p, 8001)
    p.set_defaults(func=cmd_worker)

    p = sub.add_parser("score", help="score a JSONL file of items (resumable)")
    p.add_argument("input", help="JSONL, one item per line: {id, prompt, completion, rewards?}")
    p.add_argument("-o", "--output", required=True, help="JSONL results; items already in it are skipped")
    p.add_argument("--url", default=None, help="gateway URL; without it the verifiers run in this process")
    p.add_argument("--rewards", default=None, help="default reward specs: a JSON list, or a file holding one")
    p.add_argument("--batch-size", type=int, default=256, help="items per request (default 256)")
    p.add_argument("--processes", type=int, default=None, help="embedded mode: processes per verifier")
    p.add_argument("--plugin", action="append", default=None, help="embedded mode: module that registers verifiers")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=cmd_score)

    p = sub.add_parser("verifiers", help="list the verifiers and their params")
    p.add_argument("--url", default=None, help="ask a running gateway instead of this install")
    p.add_argument("--plugin", action="append", default=None, help="module that registers extra verifiers")
    p.add_argument("--json", action="store_true", help="print the full JSON, params schemas included")
    p.set_defaults(func=cmd_verifiers)

    p = sub.add_parser("demo", help="start the embedded stack, score the bundled sample batch, print the rewards")
    p.set_defaults(func=cmd_demo)

    # parsed by rlvr_trainer.cli (main() hands it every argument after "train"): listed here for --help
    sub.add_parser("train", help="run the R1 stages of a recipe on TRL (rlvr train --help)", add_help=False)
    return parser


def train(argv: list[str]) -> int:
    try:
        from rlvr_trainer.cli import main as train_main
    except ImportError:
        print("rlvr: train needs the rlvr-trainer package: pip install ./trainer", file=sys.stderr)
        return 2
    return train_main(argv)


def main(argv: list[str] | None = None) -> int:
    given = sys.argv[1:] if argv is None else argv
    if given[:1] == ["train"]:
        return train(given[1:])
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("httpx").setLevel(logging.WARNING)
    try:
        code: int = args.func(args)
        return code
    except RLVRError as exc:
        print(f"rlvr: {exc.code}: {exc.message}", file=sys.stderr)
        return 2
    except (OSError, ValueError) as exc:
        print(f"rlvr: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
