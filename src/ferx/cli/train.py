"""`ferx train`, `ferx crossval` and `ferx evaluate`: options and the library calls behind them."""
from __future__ import annotations

import argparse
import json
import os
from pathlib import Path

from ..errors import FerxError
from .common import add_tta_args, command_line, machine, print_headline


def add_parsers(sub, d) -> None:
    """The train, crossval and evaluate sub-commands; `d` is the default TrainConfig."""
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
    e.add_argument("--limit", type=int, help="at most this many test images (and validation images for the temperature)")
    add_tta_args(e, "the headline's prediction path (all are reported)")
    e.add_argument("--model", default=d.model,
                   help="variant of a plain state_dict that has no model card (.json) beside it: emo or original")
    e.add_argument("--val-fraction", type=float, default=d.val_fraction,
                   help="the validation split the probability temperature is fitted on, as `ferx train` made it")
    e.add_argument("--seed", type=int, default=d.seed, help="seed of that split (and of --limit's sample)")
    e.add_argument("--temperature-from", metavar="WEIGHTS", help="take the temperature of these weights' card instead "
                   "of fitting one (for weights trained with --val-fraction 0: no validation faces are left)")
    e.set_defaults(func=cmd_evaluate)


def add_train_args(t: argparse.ArgumentParser) -> None:
    """Options shared by `ferx train` and `ferx crossval`: data splits, starting weights and the recipe."""
    from ..inference.faces import DEFAULT_DETECTOR
    from ..inference.views import MODES
    from ..training.finetune import FINETUNE_SCHEDULE as FT
    from ..training.train import TrainConfig

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
    t.add_argument("--light", type=float, default=d.augment.light, metavar="L",
                   help="lighting jitter: contrast x U(1-L, 1+L), brightness + U(-L/2, L/2) (0: off)")
    t.add_argument("--teacher", action="append", metavar="WEIGHTS",
                   help="distil from this model's view-averaged logits (repeat for an ensemble)")
    t.add_argument("--teacher-views", default=d.teacher_views, choices=list(MODES),
                   help="test-time views each teacher averages over")
    t.add_argument("--teacher-online", action="store_true",
                   help="teachers label every augmented batch the student sees (one pass each; no cache)")
    t.add_argument("--distill-weight", type=float, default=d.distill_weight, metavar="W",
                   help="share of the distillation term in the loss (the hard labels get 1 - W)")
    t.add_argument("--distill-temperature", type=float, default=d.distill_temperature, metavar="T",
                   help="softmax temperature of teacher and student in the distillation term")
    t.add_argument("--patience", type=int, help=f"early-stopping patience in epochs (default {d.patience}; "
                   f"{FT['patience']} with --init)")
    t.add_argument("--val-fraction", type=float, default=d.val_fraction)
    t.add_argument("--seed", type=int, default=d.seed,
                   help="seed of the initialisation, the batches and (without --split-seed) the splits")
    t.add_argument("--split-seed", type=int, help="seed of the validation split (and of a single folder's test split) "
                   "alone (default: --seed); keep it fixed to compare seeds on the same validation faces")
    t.add_argument("--limit", type=int, help="at most this many images per split (quick look)")
    t.add_argument("--model", default=d.model, help="model variant: emo (default) or original")
    t.add_argument("--bf16", action=argparse.BooleanOptionalAction, default=d.bf16,
                   help="bfloat16 autocast (faster on CPUs with bf16 units and on GPUs; slower on this 2-core CPU)")
    t.add_argument("--channels-last", action=argparse.BooleanOptionalAction, default=d.channels_last,
                   help="NHWC memory layout (1.4-1.9x faster training on the 2-core CPU here: benchmarks/train_speed.py)")
    t.add_argument("--device", default=d.device, help="torch device to train on, e.g. cpu (default) or cuda")


def _train_config(args: argparse.Namespace):
    """The TrainConfig of `ferx train` / `ferx crossval` options; unset schedule options from the recipe of --init."""
    from ..training.augment import AugmentConfig
    from ..training.finetune import FINETUNE_SCHEDULE
    from ..training.train import TrainConfig

    # Every value is checked by TrainConfig.validate(), so Python users get the same one-line errors.
    augment = AugmentConfig(max_rotate=args.rotate, scale=tuple(args.scale), erase=args.erase, light=args.light)
    # Fine-tuning a few hundred faces wants another schedule than FER-2013 from scratch (training/finetune.py).
    schedule = {**{k: getattr(TrainConfig, k) for k in FINETUNE_SCHEDULE}, **(FINETUNE_SCHEDULE if args.init else {})}
    schedule.update({k: getattr(args, k) for k in FINETUNE_SCHEDULE if getattr(args, k) is not None})
    return TrainConfig(data=args.data, out=str(args.out), weight_decay=args.weight_decay, seed=args.seed,
                       split_seed=args.split_seed,
                       limit=args.limit, val_fraction=args.val_fraction, model=args.model, bf16=args.bf16,
                       channels_last=args.channels_last,
                       mixup_alpha=args.mixup, class_weight_power=args.class_weight, device=args.device,
                       augment=augment, teachers=args.teacher or [], teacher_views=args.teacher_views,
                       teacher_online=args.teacher_online,
                       distill_weight=args.distill_weight, distill_temperature=args.distill_temperature,
                       init=args.init, test_fraction=args.test_fraction, group_regex=args.group_regex,
                       detect=args.detect, **schedule)


def cmd_train(args: argparse.Namespace) -> int:
    from ..data.splits import load_splits
    from ..files import write_text
    from ..results.evaluate import evaluate_run
    from ..training.distributed import cleanup, launch
    from ..training.config import new_run_dir
    from ..training.train import TrainConfig, train

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
    summary = train(cfg, resume=bool(args.resume), command=command_line(args))
    cleanup()
    if int(os.environ.get("RANK", "0")) != 0:  # rank 0 alone evaluates and writes the results folder
        return 0
    # A resumed run keeps the command that started it (last.pt), so the record reproduces the run.
    summary.update(machine=machine(), command=summary.get("command") or command_line(args))
    write_text(out / "summary.json", json.dumps(summary, indent=2) + "\n")
    config = TrainConfig.from_dict(json.loads((out / "config.json").read_text()))  # the resumed run's own data
    test = val = None
    if config.data and not _is_fer(config):  # any labelled folder: its own test and validation splits, from the seed
        splits = load_splits(config.data, config.val_fraction, config.val_seed, config.limit, config.test_fraction,
                             config.group_regex, config.detect)[0]
        test, val = splits["test"], splits["val"]
    # The probability temperature is fitted on the run's own validation split (FER-2013: its seed and fraction).
    metrics = evaluate_run(out / "best_model.pt", config.data, out, limit=config.limit, val_limit=config.limit,
                           command=summary["command"],
                           test=test, val=val, seed=config.val_seed, val_fraction=config.val_fraction)
    print_headline(metrics)
    return 0


def _is_fer(config) -> bool:
    from ..data.splits import is_fer2013

    return is_fer2013(config.data) and config.detect is None


def cmd_crossval(args: argparse.Namespace) -> int:
    from ..training.crossval import crossval

    if args.as_is and not args.init:
        raise FerxError("--as-is scores the weights of --init (pretrained or a file); give --init")
    result = crossval(_train_config(args), args.folds, args.tta, command=command_line(args), as_is=args.as_is)
    m = result["mean"]
    print(f"{args.folds}-fold mean accuracy {m['accuracy']:.4f} ± {m['accuracy_std']:.4f}, "
          f"macro F1 {m['macro_f1']:.4f} ± {m['macro_f1_std']:.4f}; {Path(args.out) / 'README.md'}")
    return 0


def cmd_evaluate(args: argparse.Namespace) -> int:
    from ..inference.views import NAMES
    from ..results.crossdata import evaluate_folder, is_labelled_folder
    from ..results.evaluate import evaluate_run
    from ..training.config import new_run_dir

    args.out = args.out or new_run_dir()
    if is_labelled_folder(args.data):
        metrics = evaluate_folder(args.data, args.out, args.weights, detect=args.detect, tta=args.tta,
                                  command=command_line(args), model=args.model)
        for key in (k for k in NAMES if k in metrics):
            m = metrics[key]
            print(f"{key:5s}  accuracy {m['accuracy']:.4f}  macro F1 {m['macro_f1']:.4f}  missed {m['missed']} of "
                  f"{m['n_images']}{'  (default)' if key == metrics['default'] else ''}")
        return 0
    if args.detect:
        raise FerxError(f"{args.data}: --detect is for a labelled folder DIR/<class>/, not FER-2013's split layout")
    if args.weights is None:
        raise FerxError("give --weights: the FER-2013 evaluation writes beside them (the packaged model stays as it is)")
    metrics = evaluate_run(args.weights, args.data, args.out, limit=args.limit, tta=args.tta,
                           command=command_line(args), model=args.model, seed=args.seed, val_fraction=args.val_fraction,
                           temperature_from=args.temperature_from)
    print_headline(metrics)
    return 0
