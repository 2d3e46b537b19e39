"""The `ferx` command: parses arguments and calls library functions, nothing more."""
from __future__ import annotations

import argparse
from dataclasses import dataclass
import json
import logging
import os
import platform
import shlex
import sys
import warnings
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

from .errors import FerxError

log = logging.getLogger("ferx")


def _machine() -> str:
    return f"{platform.machine()} CPU, {os.cpu_count()} cores"


def _train_config(args: argparse.Namespace):
    """The TrainConfig of `ferx train` / `ferx crossval` options; unset schedule options from the recipe of --init."""
    from .training.augment import AugmentConfig
    from .training.finetune import FINETUNE_SCHEDULE
    from .training.train import TrainConfig

    for flag, value in (("--mixup", args.mixup), ("--class-weight", args.class_weight),
                        ("--weight-decay", args.weight_decay), ("--rotate", args.rotate)):
        if value < 0:
            raise FerxError(f"{flag} {value:g}: must be positive, or 0 to turn it off")
    if not 0 <= args.erase <= 1:
        raise FerxError(f"--erase {args.erase:g}: a probability, between 0 and 1")
    if not 0 <= args.distill_weight <= 1:
        raise FerxError(f"--distill-weight {args.distill_weight:g}: a share of the loss, between 0 and 1")
    if args.distill_temperature <= 0:
        raise FerxError(f"--distill-temperature {args.distill_temperature:g}: must be positive")
    if not 0 < args.scale[0] <= args.scale[1]:
        raise FerxError(f"--scale {args.scale[0]:g} {args.scale[1]:g}: needs 0 < LOW <= HIGH")
    if not 0 < args.test_fraction < 1:
        raise FerxError(f"--test-fraction {args.test_fraction:g}: a share of the images, between 0 and 1")
    augment = AugmentConfig(max_rotate=args.rotate, scale=tuple(args.scale), erase=args.erase)
    # Fine-tuning a few hundred faces wants another schedule than FER-2013 from scratch (training/finetune.py).
    schedule = {**{k: getattr(TrainConfig, k) for k in FINETUNE_SCHEDULE}, **(FINETUNE_SCHEDULE if args.init else {})}
    schedule.update({k: getattr(args, k) for k in FINETUNE_SCHEDULE if getattr(args, k) is not None})
    return TrainConfig(data=args.data, out=str(args.out), weight_decay=args.weight_decay, seed=args.seed,
                       limit=args.limit, val_fraction=args.val_fraction, model=args.model, bf16=not args.no_bf16,
                       mixup_alpha=args.mixup, class_weight_power=args.class_weight, device=args.device,
                       augment=augment, teachers=args.teacher or [], teacher_views=args.teacher_views,
                       distill_weight=args.distill_weight, distill_temperature=args.distill_temperature,
                       init=args.init, test_fraction=args.test_fraction, group_regex=args.group_regex,
                       detect=args.detect, **schedule)


def cmd_train(args: argparse.Namespace) -> int:
    from .data.splits import load_splits
    from .files import write_text
    from .results.evaluate import evaluate_run
    from .training.distributed import cleanup, launch
    from .training.train import TrainConfig, new_run_dir, train

    if args.resume:
        given = [a.split("=")[0] for a in args.argv[args.argv.index("train") + 1:] if a.startswith("-")]
        extra = [a for a in given if a not in ("--resume", "--nproc")]
        if extra:
            raise FerxError(f"--resume continues {args.resume} as it was configured; {', '.join(extra)} cannot be "
                            "given with it (start a new run with another --out to change options)")
    elif args.out is not None and args.name is not None:
        raise FerxError("give --out DIR or --name NAME (runs/NAME), not both")
    argv = args.argv
    if not args.resume and args.out is None:
        args.out = new_run_dir(args.name)
        if args.name is None:  # every rank of a distributed run must write to the same folder
            argv = [*argv, "--out", args.out]
    if args.nproc and "WORLD_SIZE" not in os.environ:  # become torchrun's N ranks of this same command
        argv = [a for i, a in enumerate(argv) if not a.startswith("--nproc") and argv[i - 1] != "--nproc"]
        return launch(args.nproc, argv)
    out = Path(args.resume or args.out)
    cfg = TrainConfig(out=str(out)) if args.resume else _train_config(args)
    summary = train(cfg, resume=bool(args.resume), command=_command(args))
    cleanup()
    if int(os.environ.get("RANK", "0")) != 0:  # rank 0 alone evaluates and writes the results folder
        return 0
    # A resumed run keeps the command that started it (last.pt), so the record reproduces the run.
    summary.update(machine=_machine(), command=summary.get("command") or _command(args))
    write_text(out / "summary.json", json.dumps(summary, indent=2) + "\n")
    config = TrainConfig.from_dict(json.loads((out / "config.json").read_text()))  # the resumed run's own data
    test = val = None
    if config.data and not _is_fer(config):  # any labelled folder: its own test and validation splits, from the seed
        splits = load_splits(config.data, config.val_fraction, config.seed, config.limit, config.test_fraction,
                             config.group_regex, config.detect)[0]
        test, val = splits["test"], splits["val"]
    # The probability temperature is fitted on the run's own validation split (FER-2013: its seed and fraction).
    metrics = evaluate_run(out / "best_model.pt", config.data, out, limit=config.limit, command=summary["command"],
                           test=test, val=val, seed=config.seed, val_fraction=config.val_fraction)
    _print_headline(metrics)
    return 0


def _is_fer(config) -> bool:
    from .data.splits import is_fer2013

    return is_fer2013(config.data) and config.detect is None


def cmd_crossval(args: argparse.Namespace) -> int:
    from .training.crossval import crossval

    if args.as_is and not args.init:
        raise FerxError("--as-is scores the weights of --init (pretrained or a file); give --init")
    result = crossval(_train_config(args), args.folds, args.tta, command=_command(args), as_is=args.as_is)
    m = result["mean"]
    print(f"{args.folds}-fold mean accuracy {m['accuracy']:.4f} ± {m['accuracy_std']:.4f}, "
          f"macro F1 {m['macro_f1']:.4f} ± {m['macro_f1_std']:.4f}; {Path(args.out) / 'README.md'}")
    return 0


def cmd_evaluate(args: argparse.Namespace) -> int:
    from .results.crossdata import evaluate_folder, is_labelled_folder
    from .results.evaluate import evaluate_run
    from .training.train import new_run_dir

    args.out = args.out or new_run_dir()
    if is_labelled_folder(args.data):
        metrics = evaluate_folder(args.data, args.out, args.weights, detect=args.detect, tta=args.tta,
                                  command=_command(args), model=args.model)
        for key in ("views", "flip", "none"):
            m = metrics[key]
            print(f"{key:5s}  accuracy {m['accuracy']:.4f}  macro F1 {m['macro_f1']:.4f}  missed {m['missed']} of "
                  f"{m['n_images']}{'  (default)' if key == metrics['default'] else ''}")
        return 0
    if args.detect:
        raise FerxError(f"{args.data}: --detect is for a labelled folder DIR/<class>/, not FER-2013's split layout")
    if args.weights is None:
        raise FerxError("give --weights: the FER-2013 evaluation writes beside them (the packaged model stays as it is)")
    metrics = evaluate_run(args.weights, args.data, args.out, limit=args.limit, tta=args.tta,
                           command=_command(args), model=args.model, seed=args.seed, val_fraction=args.val_fraction)
    _print_headline(metrics)
    return 0


def cmd_predict(args: argparse.Namespace) -> int:
    from .inference.batch import predict_files
    from .inference.images import find_images
    from .inference.recognizer import EmotionRecognizer

    if args.jsonl or args.resume or args.shard or args.workers is not None:
        return _predict_stream(args)
    files, skipped = find_images(args.paths)
    if skipped:
        log.info("skipped %d non-image file(s) in the folders given", len(skipped))
    rec = EmotionRecognizer(args.weights, device=args.device, detector=None if args.no_detect else args.detector,
                            tta=args.tta, backend=args.backend, max_pixels=args.max_pixels)
    with _reading_images():
        done, failed = predict_files(rec, files, json_path=args.json, csv_path=args.csv, annotate=args.annotate,
                                     roots=args.paths, report=_print_result)
    if not done:
        print(f"ferx: error: no image could be processed ({failed} failed)", file=sys.stderr)
        return 2
    return 0


def _predict_stream(args: argparse.Namespace) -> int:
    """Large folders: walked as they are read, decoded by worker processes, results appended as they come."""
    from .inference.corpus import parse_shard, predict_stream
    from .inference.recognizer import EmotionRecognizer

    outputs = [o for o in (args.jsonl, args.csv) if o]
    if not outputs or args.json or args.annotate:
        raise FerxError("--jsonl/--resume/--shard/--workers write --jsonl and/or --csv as they go; "
                        "--json and --annotate are for smaller sets")
    shard = parse_shard(args.shard) if args.shard else None
    rec = EmotionRecognizer(args.weights, device=args.device, detector=None if args.no_detect else args.detector,
                            tta=args.tta, backend=args.backend, max_pixels=args.max_pixels)
    report = None if args.quiet else lambda path, faces, error: _print_result(_Result(path, faces, error))
    with _reading_images():
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


@contextmanager
def _reading_images() -> Iterator[None]:
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


def cmd_explain(args: argparse.Namespace) -> int:
    from .inference.explain_files import explain_files
    from .inference.images import find_images
    from .inference.recognizer import EmotionRecognizer

    files, _ = find_images(args.paths)
    rec = EmotionRecognizer(args.weights, device=args.device, detector=None if args.no_detect else args.detector,
                            tta=args.tta, backend=args.backend, max_pixels=args.max_pixels)
    with _reading_images():
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
    from .inference.recognizer import EmotionRecognizer
    from .inference.video import check_video_options, process_video

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


def cmd_export(args: argparse.Namespace) -> int:
    from .export import calibration_faces, export_int8, export_onnx
    from .weights import load_model, pretrained_path

    model, card = load_model(pretrained_path() if args.weights is None else args.weights)
    if args.int8:
        export_int8(model, args.onnx, calibration_faces(args.data, args.calibration), card)
    else:
        export_onnx(model, args.onnx, card)
    print(f"wrote {args.onnx}")
    return 0


def cmd_serve(args: argparse.Namespace) -> int:
    import uvicorn

    from .inference.recognizer import EmotionRecognizer
    from .serving.server import create_app

    rec = EmotionRecognizer(args.weights, device=args.device, tta=args.tta, backend=args.backend,
                            max_pixels=args.max_pixels, detector=args.detector)
    app = create_app(rec, max_bytes=args.max_mb * 1024 * 1024, max_concurrent=args.max_concurrent)
    with _reading_images():
        uvicorn.run(app, host=args.host, port=args.port)
    return 0


def _print_headline(metrics: dict) -> None:
    from .inference.views import NAMES

    for key in NAMES:
        m = metrics[key]
        print(f"test {key:5s}  accuracy {m['accuracy']:.4f}  macro F1 {m['macro_f1']:.4f}  micro AUC {m['micro_auc']:.4f}"
              f"{'  (default)' if key == metrics['default'] else ''}")
    if "calibration" in metrics:
        c = metrics["calibration"]
        print(f"test calibration ({c['tta']}): temperature {c['temperature']:.4f} (fitted on {c['val_images']} validation "
              f"images)  ECE {c['ece_before']:.4f} -> {c['ece_after']:.4f}  NLL {c['nll_before']:.4f} -> {c['nll_after']:.4f}")


def _command(args: argparse.Namespace) -> str:
    return "ferx " + " ".join(shlex.quote(a) for a in args.argv)


def add_tta_args(p: argparse.ArgumentParser, what: str) -> None:
    from .inference.views import DEFAULT, MODES

    p.add_argument("--tta", default=DEFAULT, choices=list(MODES),
                   help=f"{what}: views (default: face, mirror, 2-px shifts and a 44-px zoom of each, 12 passes), "
                        "flip (face + mirror) or none (one pass)")
    p.add_argument("--no-tta", dest="tta", action="store_const", const="none", help="same as --tta none")


def add_train_args(t: argparse.ArgumentParser) -> None:
    """Options shared by `ferx train` and `ferx crossval`: data splits, starting weights and the recipe."""
    from .inference.faces import DEFAULT_DETECTOR
    from .inference.views import MODES
    from .training.finetune import FINETUNE_SCHEDULE as FT
    from .training.train import TrainConfig

    d = TrainConfig()
    t.add_argument("--init", metavar="WEIGHTS", help="fine-tune from 'pretrained' (the packaged model) or a ferx "
                   "checkpoint; the head is refitted to the data set's classes")
    t.add_argument("--test-fraction", type=float, default=d.test_fraction,
                   help="share of a single labelled folder DIR/<class>/ held out as the test split (seeded, stratified)")
    t.add_argument("--group-regex", metavar="REGEX",
                   help="subject id in file names (first group, else the match): no subject on both sides of a split")
    t.add_argument("--detect", nargs="?", const=DEFAULT_DETECTOR, metavar="DETECTOR",
                   help=f"crop faces with a detector first (default {DEFAULT_DETECTOR}; cached), for photos, not crops")
    t.add_argument("--epochs", type=int, help=f"default {d.epochs}; {FT['epochs']} with --init")
    t.add_argument("--batch-size", type=int, help=f"images per step, over all processes (default {d.batch_size}; "
                   f"{FT['batch_size']} with --init)")
    t.add_argument("--lr", type=float, help=f"peak learning rate of the one-cycle schedule (default {d.lr:g}; "
                   f"{FT['lr']:g} with --init)")
    t.add_argument("--weight-decay", type=float, default=d.weight_decay, help="AdamW decoupled weight decay")
    t.add_argument("--mixup", type=float, default=d.mixup_alpha, help="mixup Beta alpha (0 turns mixup off)")
    t.add_argument("--ema-warmup", action=argparse.BooleanOptionalAction, default=None,
                   help="ramp the weight-average decay up from 0.1 (for short runs; on with --init)")
    t.add_argument("--class-weight", type=float, default=d.class_weight_power, metavar="POWER",
                   help="weigh each class's loss by its training count^-POWER (0: unweighted)")
    t.add_argument("--rotate", type=float, default=d.augment.max_rotate, metavar="DEG",
                   help="largest random rotation, degrees")
    t.add_argument("--scale", type=float, nargs=2, default=list(d.augment.scale), metavar=("LOW", "HIGH"),
                   help="range of the random zoom")
    t.add_argument("--erase", type=float, default=d.augment.erase, metavar="P",
                   help="probability of random erasing per face")
    t.add_argument("--teacher", action="append", metavar="WEIGHTS",
                   help="distil from this model's view-averaged logits (repeat for an ensemble)")
    t.add_argument("--teacher-views", default=d.teacher_views, choices=list(MODES),
                   help="test-time views each teacher averages over")
    t.add_argument("--distill-weight", type=float, default=d.distill_weight, metavar="W",
                   help="share of the distillation term in the loss (the hard labels get 1 - W)")
    t.add_argument("--distill-temperature", type=float, default=d.distill_temperature, metavar="T",
                   help="softmax temperature of teacher and student in the distillation term")
    t.add_argument("--patience", type=int, help=f"early-stopping patience in epochs (default {d.patience}; "
                   f"{FT['patience']} with --init)")
    t.add_argument("--val-fraction", type=float, default=d.val_fraction)
    t.add_argument("--seed", type=int, default=d.seed)
    t.add_argument("--limit", type=int, help="at most this many images per split (quick look)")
    t.add_argument("--model", default=d.model, help="model variant: emo (default) or original")
    t.add_argument("--no-bf16", action="store_true", help="train in float32")
    t.add_argument("--device", default=d.device, help="torch device to train on, e.g. cpu (default) or cuda")


def _positive_int(text: str) -> int:
    """A whole number >= 1; also written as 40e6."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if value < 1 or value != int(value):
        raise argparse.ArgumentTypeError(f"{text}: must be a whole number, 1 or more")
    return int(value)


def build_parser() -> argparse.ArgumentParser:
    from .serving import MAX_CONCURRENT
    from .training.train import TrainConfig
    from .inference.views import MODES

    d = TrainConfig()
    p = argparse.ArgumentParser(prog="ferx", description="Facial-expression recognition: train, evaluate, predict.")
    p.add_argument("--debug", action="store_true", help="show tracebacks")
    sub = p.add_subparsers(dest="command", required=True)

    t = sub.add_parser("train", help="train Mini-Xception on FER-2013, then evaluate the best checkpoint")
    t.add_argument("--data", default=d.data, help="FER-2013 folder (train/, test/) or fer2013.csv")
    t.add_argument("--out", help="run folder (default: runs/NAME with --name, else runs/<date-time>); the shipped "
                                 "results/ changes only by scripts/release.py")
    t.add_argument("--name", help="name of the run folder under runs/")
    t.add_argument("--resume", metavar="OUT",
                   help="continue the run whose last.pt is in OUT, exactly as it was configured (no other options)")
    t.add_argument("--nproc", type=int, metavar="N",
                   help="train as N data-parallel processes on this machine (torchrun: gloo on CPU, NCCL on GPUs)")
    add_train_args(t)
    t.set_defaults(func=cmd_train)

    c = sub.add_parser("crossval", help="K-fold cross-validation on a labelled folder DIR/<class>/ (by subject)")
    c.add_argument("--data", required=True, help="labelled folder DIR/<class>/<images>")
    c.add_argument("--out", required=True, help="results folder: crossval.json, README.md, one folder per fold")
    c.add_argument("--folds", type=int, default=5, help="number of folds (the number of subjects: leave one out)")
    c.add_argument("--as-is", action="store_true", help="score the --init weights on each test fold, no training")
    add_tta_args(c, "prediction path on each test fold")
    add_train_args(c)
    c.set_defaults(func=cmd_crossval)

    e = sub.add_parser("evaluate", help="evaluate weights on the test split and write the results folder")
    e.add_argument("--weights", help="weights to evaluate (required for FER-2013; default for a folder: the packaged model)")
    e.add_argument("--data", default=d.data, help="FER-2013 (train/ and test/, or fer2013.csv) or any labelled folder "
                   "DIR/<class>/ (class aliases such as anger, happiness, surprised understood)")
    e.add_argument("--detect", nargs="?", const="default", metavar="DETECTOR",
                   help="for a labelled folder of photos: crop the largest face a detector finds (default detector "
                        "if none named); a photo with no face found counts wrong")
    e.add_argument("--out", help="folder for the results (default: runs/<date-time>; never the shipped results/ "
                                 "unless named)")
    e.add_argument("--limit", type=int, help="at most this many test images")
    add_tta_args(e, "the headline's prediction path (all three are reported)")
    e.add_argument("--model", default=d.model,
                   help="variant of a plain state_dict that has no model card (.json) beside it: emo or original")
    e.add_argument("--val-fraction", type=float, default=d.val_fraction,
                   help="the validation split the probability temperature is fitted on, as `ferx train` made it")
    e.add_argument("--seed", type=int, default=d.seed, help="seed of that split (and of --limit's sample)")
    e.set_defaults(func=cmd_evaluate)

    def add_pixel_limit(q: argparse.ArgumentParser) -> None:
        from .inference.images import DEFAULT_MAX_PIXELS

        q.add_argument("--max-pixels", type=_positive_int, default=DEFAULT_MAX_PIXELS, metavar="N",
                       help=f"refuse images over N pixels, read from the header before decoding "
                            f"(default {DEFAULT_MAX_PIXELS}, {DEFAULT_MAX_PIXELS / 1e6:g} megapixels; one such decode "
                            "takes ~300 MB); also written 40e6")

    def add_model_args(q: argparse.ArgumentParser) -> None:
        from .inference.faces import DEFAULT_DETECTOR, DETECTORS

        q.add_argument("--weights", help="weights file (default: the packaged pretrained model)")
        q.add_argument("--device", default="cpu", help="torch device, e.g. cpu or cuda")
        add_tta_args(q, "prediction path per face")
        q.add_argument("--backend", default="auto", choices=["auto", "torch", "onnx", "int8"],
                       help="auto: onnxruntime for the packaged model on the CPU, else PyTorch; "
                            "int8: the quantised model, ~2x faster")
        q.add_argument("--detector", default=DEFAULT_DETECTOR, choices=list(DETECTORS),
                       help=f"face detector (default {DEFAULT_DETECTOR}; haar: OpenCV's Haar cascade)")

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

    x = sub.add_parser("export", help="export the model to ONNX (dynamic batch axis)")
    x.add_argument("--onnx", required=True, help="output .onnx file")
    x.add_argument("--weights", help="weights file (default: the packaged pretrained model)")
    x.add_argument("--int8", action="store_true", help="quantise to int8 (about 2x faster on CPUs with VNNI)")
    x.add_argument("--data", default=d.data, help="FER-2013 whose training faces calibrate --int8")
    x.add_argument("--calibration", type=int, default=1024, help="number of training faces for --int8 calibration")
    x.set_defaults(func=cmd_export)

    m = sub.add_parser("explain", help="Grad-CAM heat maps: what in each face drove the prediction")
    m.add_argument("paths", nargs="+", help="image files or folders (searched recursively)")
    m.add_argument("--out", required=True, metavar="DIR",
                   help="per face: NAME_face<k>_<class>.png (crop and map) and NAME_face<k>_classes.png (every class)")
    m.add_argument("--target", metavar="CLASS", help="explain this class (default: the predicted one)")
    m.add_argument("--no-detect", action="store_true", help="images are already face crops (any size)")
    add_pixel_limit(m)
    add_model_args(m)
    m.set_defaults(func=cmd_explain)

    s = sub.add_parser("serve", help="HTTP service: POST /predict, GET /healthz, GET / (a page to try it)")
    s.add_argument("--host", default="127.0.0.1", help="bind address (default loopback only)")
    s.add_argument("--port", type=int, default=8000)
    s.add_argument("--max-mb", type=int, default=10, help="largest upload in MB; larger gets 413")
    add_pixel_limit(s)
    s.add_argument("--max-concurrent", type=_positive_int, default=MAX_CONCURRENT, metavar="N",
                   help=f"images decoded and analysed at once; others wait (default {MAX_CONCURRENT})")
    add_model_args(s)
    s.set_defaults(func=cmd_serve)
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


if __name__ == "__main__":
    sys.exit(main())
