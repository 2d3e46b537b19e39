"""`ferx predict`, `ferx explain` and `ferx video`: options and the library calls behind them."""
from __future__ import annotations

import argparse
import logging
import os
import sys
from dataclasses import dataclass
from pathlib import Path

from ..errors import FerxError
from .common import add_model_args, add_pixel_limit, reading_images

log = logging.getLogger("ferx")


def add_parsers(sub) -> None:
    """The predict, video and explain sub-commands."""
    r = sub.add_parser("predict", help="expressions of every face in images or folders")
    r.add_argument("paths", nargs="+", help="image files or folders (searched recursively)")
    r.add_argument("--json", help="write results as JSON")
    r.add_argument("--csv", help="write one row per face as CSV")
    r.add_argument("--annotate", metavar="DIR", help="write annotated copies of the images here")
    r.add_argument("--no-detect", action="store_true", help="images are already face crops (any size)")
    r.add_argument("--jsonl", help="append one JSON line per image as it is done (large folders)")
    r.add_argument("--resume", action="store_true", help="skip images already in the --jsonl/--csv output")
    r.add_argument("--shard", metavar="K/N", help="only shard K of N (by a hash of the path), e.g. a Slurm array task")
    r.add_argument("--workers", type=int, metavar="N",
                   help="processes decoding images (default 2 on the streaming path: --jsonl/--resume/--shard)")
    r.add_argument("--quiet", action="store_true", help="no line per image on the streaming path (progress only)")
    add_pixel_limit(r)
    add_model_args(r)
    r.set_defaults(func=cmd_predict)

    v = sub.add_parser("video", help="expressions in a video file or camera stream")
    v.add_argument("source", nargs="?", help="video file")
    v.add_argument("--camera", type=int, help="camera index instead of a file")
    v.add_argument("--out", help="annotated output video (.mp4)")
    v.add_argument("--csv", help="per-frame, per-face results as CSV")
    v.add_argument("--every", type=int, default=1, help="analyse every N-th frame (others reuse the last result)")
    v.add_argument("--smooth", type=float, default=0.5, help="weight of the newest frame in the moving average")
    v.add_argument("--max-frames", type=int, help="stop after this many frames")
    v.add_argument("--no-show", action="store_true", help="no live window for --camera")
    add_model_args(v)
    v.set_defaults(func=cmd_video)

    m = sub.add_parser("explain", help="Grad-CAM heat maps: what in each face drove the prediction")
    m.add_argument("paths", nargs="+", help="image files or folders (searched recursively)")
    m.add_argument("--out", required=True, metavar="DIR",
                   help="per face: NAME_face<k>_<class>.png (crop and map) and NAME_face<k>_classes.png (every class)")
    m.add_argument("--target", metavar="CLASS", help="explain this class (default: the predicted one)")
    m.add_argument("--no-detect", action="store_true", help="images are already face crops (any size)")
    add_pixel_limit(m)
    add_model_args(m)
    m.set_defaults(func=cmd_explain)


def cmd_predict(args: argparse.Namespace) -> int:
    from ..inference.batch import predict_files
    from ..inference.images import find_images
    from ..inference.recognizer import EmotionRecognizer

    if args.jsonl or args.resume or args.shard or args.workers is not None:
        return _predict_stream(args)
    files, skipped = find_images(args.paths)
    if skipped:
        log.info("skipped %d non-image file(s) in the folders given", len(skipped))
    rec = EmotionRecognizer(args.weights, device=args.device, detector=None if args.no_detect else args.detector,
                            tta=args.tta, backend=args.backend, max_pixels=args.max_pixels)
    with reading_images():
        done, failed = predict_files(rec, files, json_path=args.json, csv_path=args.csv, annotate=args.annotate,
                                     roots=args.paths, report=_print_result)
    if not done:
        print(f"ferx: error: no image could be processed ({failed} failed)", file=sys.stderr)
        return 2
    return 0


def _predict_stream(args: argparse.Namespace) -> int:
    """Large folders: walked as they are read, decoded by worker processes, results appended as they come."""
    from ..inference.corpus import parse_shard, predict_stream
    from ..inference.recognizer import EmotionRecognizer

    outputs = [o for o in (args.jsonl, args.csv) if o]
    if not outputs or args.json or args.annotate:
        raise FerxError("--jsonl/--resume/--shard/--workers write --jsonl and/or --csv as they go; "
                        "--json and --annotate are for smaller sets")
    shard = parse_shard(args.shard) if args.shard else None
    rec = EmotionRecognizer(args.weights, device=args.device, detector=None if args.no_detect else args.detector,
                            tta=args.tta, backend=args.backend, max_pixels=args.max_pixels)
    report = None if args.quiet else lambda path, faces, error: _print_result(_Result(path, faces, error))
    with reading_images():
        done, failed, skipped = predict_stream(rec, args.paths, outputs, 2 if args.workers is None else args.workers,
                                               args.resume, shard, report)
    log.info("%d image(s) done, %d failed, %d already in the output", done, failed, skipped)
    if not done and not skipped:
        print(f"ferx: error: no image could be processed ({failed} failed)", file=sys.stderr)
        return 2
    return 0


@dataclass
class _Result:
    path: Path
    faces: list | None
    error: str | None


def _print_result(result) -> None:
    if result.faces is None:
        print(f"ferx: error: {result.error}", file=sys.stderr)
        return
    faces = result.faces
    summary = ", ".join(f"{f.emotion} {f.scores[f.emotion]:.2f} at {tuple(f.box)}" for f in faces) or "no face"
    print(f"{result.path}: {summary}")


def cmd_explain(args: argparse.Namespace) -> int:
    from ..inference.explain_files import explain_files
    from ..inference.images import find_images
    from ..inference.recognizer import EmotionRecognizer

    files, _ = find_images(args.paths)
    rec = EmotionRecognizer(args.weights, device=args.device, detector=None if args.no_detect else args.detector,
                            tta=args.tta, backend=args.backend, max_pixels=args.max_pixels)
    with reading_images():
        done, failed = explain_files(rec, files, args.out, args.target, roots=args.paths, report=_print_explained)
    if not done:
        print(f"ferx: error: no image could be processed ({failed} failed)", file=sys.stderr)
        return 2
    return 0


def _print_explained(path: Path, written) -> None:
    if isinstance(written, str):
        print(f"ferx: error: {written}", file=sys.stderr)
    else:
        print(f"{path}: {len(written) // 2} face(s)" + "".join(f"\n  {w}" for w in written))


def cmd_video(args: argparse.Namespace) -> int:
    from ..inference.recognizer import EmotionRecognizer
    from ..inference.video import check_video_options, process_video

    if (args.source is None) == (args.camera is None):
        raise FerxError("give a video file or --camera N, not both or neither")
    check_video_options(args.every, args.smooth, args.max_frames)  # before the model loads
    source = args.source if args.source is not None else args.camera
    show = args.camera is not None and bool(os.environ.get("DISPLAY")) and not args.no_show
    if args.camera is not None and not show and args.out is None and args.csv is None:
        raise FerxError(f"camera {args.camera}: no display to show it on; add --out or --csv")
    rec = EmotionRecognizer(args.weights, device=args.device, tta=args.tta, backend=args.backend, detector=args.detector)
    result = process_video(source, rec, out_video=args.out, csv_path=args.csv, every=args.every, smooth=args.smooth,
                           show=show, max_frames=args.max_frames)
    frames = len({r["frame"] for r in result.rows})
    print(f"{source}: {len(result.rows)} face detection(s) in {frames} analysed frame(s) with faces, "
          f"{result.frames} frame(s) read")
    if result.stopped is None:
        return 0
    kept = " and ".join(p for p in (args.out, args.csv) if p) or "nothing (no --out or --csv)"
    print(f"ferx: {result.stopped} after {result.frames} frame(s); kept what was recorded: {kept}", file=sys.stderr)
    return 130 if result.stopped == "interrupted" else 2
