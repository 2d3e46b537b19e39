"""The `ferx` command: parses arguments and calls library functions, nothing more."""
from __future__ import annotations

import argparse
import json
import logging
import os
import platform
import shlex
import sys
from pathlib import Path

from .errors import FerxError

log = logging.getLogger("ferx")


def _machine() -> str:
    return f"{platform.machine()} CPU, {os.cpu_count()} cores"


def cmd_train(args: argparse.Namespace) -> int:
    from .training.augment import AugmentConfig
    from .results.evaluate import evaluate_run
    from .files import write_text
    from .training.train import TrainConfig, train

    if args.resume:
        out = Path(args.resume)
        cfg = TrainConfig(out=str(out))
    else:
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
        augment = AugmentConfig(max_rotate=args.rotate, scale=tuple(args.scale), erase=args.erase)
        out = Path(args.out)
        cfg = TrainConfig(data=args.data, out=str(out), epochs=args.epochs, batch_size=args.batch_size, lr=args.lr,
                          weight_decay=args.weight_decay, seed=args.seed, limit=args.limit, patience=args.patience,
                          val_fraction=args.val_fraction, model=args.model, bf16=not args.no_bf16,
                          mixup_alpha=args.mixup, ema_warmup=args.ema_warmup, class_weight_power=args.class_weight,
                          device=args.device, augment=augment, teachers=args.teacher or [],
                          teacher_views=args.teacher_views, distill_weight=args.distill_weight,
                          distill_temperature=args.distill_temperature)
    summary = train(cfg, resume=bool(args.resume))
    summary.update(machine=_machine(), command=_command(args))
    write_text(out / "summary.json", json.dumps(summary, indent=2) + "\n")
    config = json.loads((out / "config.json").read_text())  # the resumed run's own data and limit
    metrics = evaluate_run(out / "best_model.pt", config["data"], out, limit=config["limit"],
                           command=summary["command"], model=config["model"])
    _print_headline(metrics)
    return 0


def cmd_evaluate(args: argparse.Namespace) -> int:
    from .results.evaluate import evaluate_run

    metrics = evaluate_run(args.weights, args.data, args.out, limit=args.limit, tta=args.tta,
                           command=_command(args), model=args.model)
    _print_headline(metrics)
    return 0


def cmd_predict(args: argparse.Namespace) -> int:
    import cv2

    from .inference.annotate import draw_faces, write_image
    from .inference.images import find_images, load_rgb
    from .inference.outputs import face_row, write_csv, write_json
    from .inference.recognizer import EmotionRecognizer

    files, skipped = find_images(args.paths)
    if skipped:
        log.info("skipped %d non-image file(s) in the folders given", len(skipped))
    rec = EmotionRecognizer(args.weights, device=args.device, detector=None if args.no_detect else "haar",
                            tta=args.tta, backend=args.backend)
    results, failed = {}, 0
    for i in range(0, len(files), 16):  # bounded memory: 16 decoded images at a time, faces batched across them
        chunk, images = [], []
        for path in files[i : i + 16]:
            try:
                images.append(load_rgb(path))
                chunk.append(path)
            except FerxError as exc:
                print(f"ferx: error: {exc}", file=sys.stderr)
                failed += 1
        for path, rgb, faces in zip(chunk, images, rec.predict_many(images)):
            results[str(path)] = faces
            summary = ", ".join(f"{f.emotion} {f.scores[f.emotion]:.2f} at {tuple(f.box)}" for f in faces) or "no face"
            print(f"{path}: {summary}")
            if args.annotate:
                bgr = cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR)
                write_image(Path(args.annotate) / _relative(path, args.paths), draw_faces(bgr, faces))
    if args.json:
        write_json(args.json, results)
    if args.csv:
        write_csv(args.csv, [{"image": k, **face_row(f)} for k, faces in results.items() for f in faces], ["image"])
    if not results:
        print(f"ferx: error: no image could be processed ({failed} failed)", file=sys.stderr)
        return 2
    return 0


def _relative(path: Path, roots: list[str]) -> Path:
    """Where an annotated copy goes inside the output folder: its path below the folder it was found in."""
    for root in map(Path, roots):
        if root.is_dir() and path.is_relative_to(root):
            return path.relative_to(root)
    return Path(path.name)


def cmd_video(args: argparse.Namespace) -> int:
    from .inference.recognizer import EmotionRecognizer
    from .inference.video import process_video

    if (args.source is None) == (args.camera is None):
        raise FerxError("give a video file or --camera N, not both or neither")
    source = args.source if args.source is not None else args.camera
    show = args.camera is not None and bool(os.environ.get("DISPLAY")) and not args.no_show
    if args.camera is not None and not show and args.out is None and args.csv is None:
        raise FerxError(f"camera {args.camera}: no display to show it on; add --out or --csv")
    rec = EmotionRecognizer(args.weights, device=args.device, tta=args.tta, backend=args.backend)
    rows = process_video(source, rec, out_video=args.out, csv_path=args.csv, every=args.every, smooth=args.smooth,
                         show=show, max_frames=args.max_frames)
    frames = len({r["frame"] for r in rows})
    print(f"{source}: {len(rows)} face detection(s) in {frames} analysed frame(s) with faces")
    return 0


def cmd_export(args: argparse.Namespace) -> int:
    from .export import calibration_faces, export_int8, export_onnx
    from .weights import load_pretrained, load_weights

    model = load_pretrained() if args.weights is None else load_weights(args.weights)
    if args.int8:
        export_int8(model, args.onnx, calibration_faces(args.data, args.calibration))
    else:
        export_onnx(model, args.onnx)
    print(f"wrote {args.onnx}")
    return 0


def cmd_serve(args: argparse.Namespace) -> int:
    import uvicorn

    from .inference.recognizer import EmotionRecognizer
    from .serving.server import create_app

    rec = EmotionRecognizer(args.weights, device=args.device, tta=args.tta, backend=args.backend)
    uvicorn.run(create_app(rec, max_bytes=args.max_mb * 1024 * 1024), host=args.host, port=args.port)
    return 0


def _print_headline(metrics: dict) -> None:
    from .inference.views import NAMES

    for key in NAMES:
        m = metrics[key]
        print(f"test {key:5s}  accuracy {m['accuracy']:.4f}  macro F1 {m['macro_f1']:.4f}  micro AUC {m['micro_auc']:.4f}"
              f"{'  (default)' if key == metrics['default'] else ''}")


def _command(args: argparse.Namespace) -> str:
    return "ferx " + " ".join(shlex.quote(a) for a in args.argv)


def add_tta_args(p: argparse.ArgumentParser, what: str) -> None:
    from .inference.views import DEFAULT, MODES

    p.add_argument("--tta", default=DEFAULT, choices=list(MODES),
                   help=f"{what}: views (default: face, mirror, 2-px shifts and a 44-px zoom of each, 12 passes), "
                        "flip (face + mirror) or none (one pass)")
    p.add_argument("--no-tta", dest="tta", action="store_const", const="none", help="same as --tta none")


def build_parser() -> argparse.ArgumentParser:
    from .training.train import TrainConfig
    from .inference.views import MODES

    d = TrainConfig()
    p = argparse.ArgumentParser(prog="ferx", description="Facial-expression recognition: train, evaluate, predict.")
    p.add_argument("--debug", action="store_true", help="show tracebacks")
    sub = p.add_subparsers(dest="command", required=True)

    t = sub.add_parser("train", help="train Mini-Xception on FER-2013, then evaluate the best checkpoint")
    t.add_argument("--data", default=d.data, help="FER-2013 folder (train/, test/) or fer2013.csv")
    t.add_argument("--out", default=d.out, help="results folder")
    t.add_argument("--resume", metavar="OUT", help="continue the run whose last.pt is in OUT")
    t.add_argument("--epochs", type=int, default=d.epochs)
    t.add_argument("--batch-size", type=int, default=d.batch_size)
    t.add_argument("--lr", type=float, default=d.lr, help="peak learning rate of the one-cycle schedule")
    t.add_argument("--weight-decay", type=float, default=d.weight_decay, help="AdamW decoupled weight decay")
    t.add_argument("--mixup", type=float, default=d.mixup_alpha, help="mixup Beta alpha (0 turns mixup off)")
    t.add_argument("--ema-warmup", action=argparse.BooleanOptionalAction, default=d.ema_warmup,
                   help="ramp the weight-average decay up from 0.1 (for short runs)")
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
    t.add_argument("--patience", type=int, default=d.patience, help="early-stopping patience in epochs")
    t.add_argument("--val-fraction", type=float, default=d.val_fraction)
    t.add_argument("--seed", type=int, default=d.seed)
    t.add_argument("--limit", type=int, help="at most this many images per split (quick look)")
    t.add_argument("--model", default=d.model, help="model variant: emo (default) or original")
    t.add_argument("--no-bf16", action="store_true", help="train in float32")
    t.add_argument("--device", default=d.device, help="torch device to train on, e.g. cpu (default) or cuda")
    t.set_defaults(func=cmd_train)

    e = sub.add_parser("evaluate", help="evaluate weights on the test split and write the results folder")
    e.add_argument("--weights", required=True)
    e.add_argument("--data", default=d.data)
    e.add_argument("--out", default="results")
    e.add_argument("--limit", type=int, help="at most this many test images")
    add_tta_args(e, "the headline's prediction path (all three are reported)")
    e.add_argument("--model", default=d.model, help="variant of a plain state_dict: emo (default) or original")
    e.set_defaults(func=cmd_evaluate)

    def add_model_args(q: argparse.ArgumentParser) -> None:
        q.add_argument("--weights", help="weights file (default: the packaged pretrained model)")
        q.add_argument("--device", default="cpu", help="torch device, e.g. cpu or cuda")
        add_tta_args(q, "prediction path per face")
        q.add_argument("--backend", default="auto", choices=["auto", "torch", "onnx", "int8"],
                       help="auto: onnxruntime for the packaged model on the CPU, else PyTorch; "
                            "int8: the quantised model, ~2x faster")

    r = sub.add_parser("predict", help="expressions of every face in images or folders")
    r.add_argument("paths", nargs="+", help="image files or folders (searched recursively)")
    r.add_argument("--json", help="write results as JSON")
    r.add_argument("--csv", help="write one row per face as CSV")
    r.add_argument("--annotate", metavar="DIR", help="write annotated copies of the images here")
    r.add_argument("--no-detect", action="store_true", help="images are already face crops (any size)")
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

    s = sub.add_parser("serve", help="HTTP service: POST /predict, GET /healthz, GET / (a page to try it)")
    s.add_argument("--host", default="127.0.0.1", help="bind address (default loopback only)")
    s.add_argument("--port", type=int, default=8000)
    s.add_argument("--max-mb", type=int, default=10, help="largest upload in MB; larger gets 413")
    add_model_args(s)
    s.set_defaults(func=cmd_serve)
    return p


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    args = build_parser().parse_args(argv)
    args.argv = argv
    logging.basicConfig(level=logging.INFO, format="%(message)s")
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
