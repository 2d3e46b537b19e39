"""The `ferx` command: parses arguments and calls library functions, nothing more (one module per group)."""
from __future__ import annotations

import argparse
import logging
import os
import sys

from ..errors import FerxError
from . import predict, serve, train


def build_parser() -> argparse.ArgumentParser:
    from ..training.train import TrainConfig

    d = TrainConfig()
    p = argparse.ArgumentParser(prog="ferx", description="Facial-expression recognition: train, evaluate, predict.")
    p.add_argument("--debug", action="store_true", help="show tracebacks")
    sub = p.add_subparsers(dest="command", required=True)
    train.add_parsers(sub, d)
    predict.add_parsers(sub)
    serve.add_parsers(sub, d)
    return p


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    args = build_parser().parse_args(argv)
    args.argv = argv
    # Under torchrun only rank 0 tells the story.
    logging.basicConfig(level=logging.INFO if os.environ.get("RANK", "0") == "0" else logging.WARNING, format="%(message)s")
    try:
        return args.func(args)
    except FerxError as exc:
        if args.debug:
            raise
        print(f"ferx: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("ferx: interrupted", file=sys.stderr)
        return 130
