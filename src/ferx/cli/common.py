"""Pieces every `ferx` sub-command shares: option groups, the recorded command line, PIL's limits."""
from __future__ import annotations

import argparse
import os
import platform
import shlex
import warnings
from contextlib import contextmanager
from typing import Iterator


def machine() -> str:
    return f"{platform.machine()} CPU, {os.cpu_count()} cores"


def command_line(args: argparse.Namespace) -> str:
    return "ferx " + " ".join(shlex.quote(a) for a in args.argv)


def print_headline(metrics: dict) -> None:
    from ..inference.views import NAMES

    for key in NAMES:
        m = metrics[key]
        print(f"test {key:5s}  accuracy {m['accuracy']:.4f}  macro F1 {m['macro_f1']:.4f}  micro AUC {m['micro_auc']:.4f}"
              f"{'  (default)' if key == metrics['default'] else ''}")
    if "calibration" in metrics:
        c = metrics["calibration"]
        source = c.get("temperature_from") or f"fitted on {c['val_images']} validation images"
        print(f"test calibration ({c['tta']}): temperature {c['temperature']:.4f} ({source})  ECE {c['ece_before']:.4f} -> {c['ece_after']:.4f}  NLL {c['nll_before']:.4f} -> {c['nll_after']:.4f}")


def positive_int(text: str) -> int:
    """A whole number >= 1; also written as 40e6."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if value < 1 or value != int(value):
        raise argparse.ArgumentTypeError(f"{text}: must be a whole number, 1 or more")
    return int(value)


@contextmanager
def reading_images() -> Iterator[None]:
    """--max-pixels as the one pixel limit, and PIL's warnings about files it did decode kept off stderr.

    PIL's own limit (a global) would warn at 89 MP and refuse at 179 MP whatever --max-pixels says; its
    UserWarnings ("Corrupt EXIF data", ...) come from files that were read all the same.
    """
    from PIL import Image

    saved, Image.MAX_IMAGE_PIXELS = Image.MAX_IMAGE_PIXELS, None
    try:
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", category=UserWarning, module=r"PIL\.")
            yield
    finally:
        Image.MAX_IMAGE_PIXELS = saved


def add_tta_args(p: argparse.ArgumentParser, what: str) -> None:
    from ..inference.views import DEFAULT, MODES

    p.add_argument("--tta", default=DEFAULT, choices=list(MODES),
                   help=f"{what}: views (default: face, mirror, 2-px shifts and a 44-px zoom of each, 12 passes), "
                        "cross (mirror + zoomed face, 2 passes), flip (face + mirror) or none (one pass)")
    p.add_argument("--no-tta", dest="tta", action="store_const", const="none", help="same as --tta none")


def add_pixel_limit(q: argparse.ArgumentParser) -> None:
    from ..inference.images import DEFAULT_MAX_PIXELS

    q.add_argument("--max-pixels", type=positive_int, default=DEFAULT_MAX_PIXELS, metavar="N",
                   help=f"refuse images over N pixels, read from the header before decoding "
                        f"(default {DEFAULT_MAX_PIXELS}, {DEFAULT_MAX_PIXELS / 1e6:g} megapixels; one such decode "
                        "takes ~300 MB); also written 40e6")


def add_model_args(q: argparse.ArgumentParser) -> None:
    from ..inference.faces import DEFAULT_DETECTOR, DETECTORS

    q.add_argument("--weights", help="weights file (default: the packaged pretrained model)")
    q.add_argument("--device", default="cpu", help="torch device, e.g. cpu or cuda")
    add_tta_args(q, "prediction path per face")
    q.add_argument("--backend", default="auto", choices=["auto", "torch", "onnx", "int8"],
                   help="auto: onnxruntime on the CPU (.pt weights exported to ONNX once, cached), PyTorch on a GPU; "
                        "int8: the quantised model, 1.3-1.6x float's rate on an AVX2 CPU (README)")
    q.add_argument("--detector", default=DEFAULT_DETECTOR, choices=list(DETECTORS),
                   help=f"face detector (default {DEFAULT_DETECTOR}; centerface is about 5 ms faster on a 640x480 photo and "
                        "finds fewer small faces)")
