"""`ferx export` and `ferx serve`: options and the library calls behind them."""
from __future__ import annotations

import argparse

from .common import add_model_args, add_pixel_limit, positive_int, reading_images


def add_parsers(sub, d) -> None:
    """The export and serve sub-commands; `d` is the default TrainConfig (its data calibrates --int8)."""
    from ..serving import MAX_CONCURRENT

    x = sub.add_parser("export", help="export the model to ONNX (dynamic batch axis)")
    x.add_argument("--onnx", required=True, help="output .onnx file")
    x.add_argument("--weights", help="weights file (default: the packaged pretrained model)")
    x.add_argument("--int8", action="store_true", help="quantise to int8, 7-bit weights (exact with or without VNNI)")
    x.add_argument("--data", default=d.data, help="FER-2013 whose training faces calibrate --int8")
    x.add_argument("--calibration", type=int, default=1024, help="number of training faces for --int8 calibration")
    x.set_defaults(func=cmd_export)

    s = sub.add_parser("serve", help="HTTP service: POST /predict, GET /healthz, GET / (a page to try it)")
    s.add_argument("--host", default="127.0.0.1", help="bind address (default loopback only)")
    s.add_argument("--port", type=int, default=8000)
    s.add_argument("--max-mb", type=int, default=10, help="largest upload in MB; larger gets 413")
    add_pixel_limit(s)
    s.add_argument("--max-concurrent", type=positive_int, default=MAX_CONCURRENT, metavar="N",
                   help=f"images decoded and analysed at once; others wait (default {MAX_CONCURRENT})")
    add_model_args(s)
    s.set_defaults(func=cmd_serve)


def cmd_export(args: argparse.Namespace) -> int:
    from ..export import calibration_faces, export_int8, export_onnx
    from ..weights import load_model, pretrained_path

    model, card = load_model(pretrained_path() if args.weights is None else args.weights)
    if args.int8:
        export_int8(model, args.onnx, calibration_faces(args.data, args.calibration), card)
    else:
        export_onnx(model, args.onnx, card)
    print(f"wrote {args.onnx}")
    return 0


def cmd_serve(args: argparse.Namespace) -> int:
    import uvicorn

    from ..inference.recognizer import EmotionRecognizer
    from ..inference.runtime import spin_during_runs
    from ..serving.server import create_app

    spin_during_runs(False)  # concurrent requests: workers that spin would take the cores other requests' runs need
    rec = EmotionRecognizer(args.weights, device=args.device, tta=args.tta, backend=args.backend,
                            max_pixels=args.max_pixels, detector=args.detector)
    app = create_app(rec, max_bytes=args.max_mb * 1024 * 1024, max_concurrent=args.max_concurrent)
    with reading_images():
        uvicorn.run(app, host=args.host, port=args.port)
    return 0
