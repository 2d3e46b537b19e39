"""Run chains of `ferx train` commands side by side on a lent GPU, with only FER-2013's training split carried.

Each command is parsed by `ferx train`'s own parser, so its defaults are the CLI's, and trained by the ferx loop
(`ferx.training.train.fit`) on the carried split. Validation is the faces `ferx train --data ../shared/fer2013` holds
out for the same --split-seed; no test split travels, so no run can read one. The commands of a chain run in order
(a later one may --init from `{root}/NAME/best_model.pt`, an earlier one's); the chains run side by side.

    python scripts/gpu_train.py pack --parts 4                                    # here: .gpu/train-{0..3}.npy.xz
    PYTHONPATH=src python3 scripts/gpu_train.py run PLAN --out $OUT               # on the GPU machine
    python scripts/gpu_train.py run PLAN --out /tmp/o --device cpu --smoke        # here: 1 epoch on 600 faces each

The training split is 47 MiB compressed, and a device call carries at most 64 MiB with the tracked files (50 MiB on
2026-12-07): hence parts, each carried by its own call onto the same warm machine (see docs/experiments.md).

PLAN: a JSON list of chains, each a list of commands, each a list of `ferx train` arguments with --name.
Each run writes $OUT/NAME/ (history.csv, config.json, summary.json, best_model.pt; last.pt is removed when the run
ends), each chain its log to $OUT/chain-N.log, and $OUT/status.json says every 20 s how far each run got.
"""
from __future__ import annotations

import argparse
import json
import lzma
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np


def pack(data: str, out: str, parts: int) -> None:
    """FER-2013's training split in `parts` xz files of consecutive faces (images, then labels, in each)."""
    from ferx.data.fer2013 import load_train_test

    train = load_train_test(data)["train"]
    Path(out).mkdir(parents=True, exist_ok=True)
    for i, idx in enumerate(np.array_split(np.arange(len(train)), parts)):
        path = Path(out) / f"train-{i}.npy.xz"
        with lzma.open(path, "wb") as f:
            np.save(f, train.images[idx])
            np.save(f, train.labels[idx])
        print(f"{path}: {len(idx)} faces, {path.stat().st_size / 2**20:.1f} MiB")


def load_parts(arrays: str):
    """The training split from the parts in folder `arrays`, in order."""
    from ferx.data.fer2013 import Split

    images, labels = [], []
    paths = sorted(Path(arrays).glob("train-*.npy.xz"), key=lambda p: int(p.name.split("-")[1].split(".")[0]))
    if not paths:
        sys.exit(f"{arrays}: no train-N.npy.xz parts (python scripts/gpu_train.py pack)")
    for path in paths:
        with lzma.open(path) as f:
            images.append(np.load(f))
            labels.append(np.load(f))
    return Split(np.concatenate(images), np.concatenate(labels))


def run_chain(plan: str, index: int, arrays: str, root: str, device: str, smoke: bool) -> None:
    """Train chain `index` of the plan on the carried split, one command after the other."""
    import torch

    from ferx.cli import build_parser
    from ferx.cli.train import _train_config
    from ferx.data.fer2013 import Split, split_dataset
    from ferx.files import write_text
    from ferx.model import CLASSES
    from ferx.training.finetune import initial_model
    from ferx.training.train import fit

    carried = {"train": load_parts(arrays), "test": Split(np.zeros((0, 48, 48), np.uint8), np.zeros(0, np.int64))}
    for argv in json.loads(Path(plan).read_text())[index]:
        argv = [a.replace("{root}", root) for a in argv]
        args = build_parser().parse_args(["train", "--data", "(carried training split)", *argv])
        cfg = _train_config(args)
        cfg.out, cfg.device = str(Path(root) / args.name), device
        if smoke:
            cfg.epochs, cfg.limit = 1, 600
        splits = split_dataset(carried, cfg.val_fraction, cfg.val_seed, cfg.limit)
        torch.manual_seed(cfg.seed)  # as `ferx train`: the initialisation is part of the seeded run
        model, card = initial_model(cfg.model, list(CLASSES), cfg.init)
        summary = fit(cfg, splits, model, card, command="ferx train " + " ".join(argv))
        write_text(Path(cfg.out) / "summary.json", json.dumps(summary, indent=2) + "\n")
        (Path(cfg.out) / "last.pt").unlink(missing_ok=True)  # 9 MiB of optimizer state that nothing here resumes


def status(plan: list, root: Path, procs: list[subprocess.Popen], started: float) -> dict:
    """Per run: its chain's process state and the epochs it has written."""
    runs = {}
    for chain, proc in zip(plan, procs):
        rc = proc.poll()
        for argv in chain:
            name = argv[argv.index("--name") + 1]
            history = root / name / "history.csv"
            runs[name] = {"chain": "running" if rc is None else ("done" if rc == 0 else f"exit {rc}"),
                          "epochs": max(0, len(history.read_text().splitlines()) - 1) if history.exists() else 0,
                          "finished": (root / name / "summary.json").exists()}
    return {"elapsed_seconds": round(time.time() - started), "runs": runs}


def run(plan_path: str, out: str, arrays: str, device: str, deadline: float, smoke: bool) -> None:
    """Start every chain, report every 20 s, stop what is left at the deadline."""
    started, root = time.time(), Path(out)
    plan = json.loads(Path(plan_path).read_text())
    for chain in plan:
        if any("--name" not in argv for argv in chain):
            sys.exit(f"{plan_path}: every command needs --name (its folder under {out})")
    root.mkdir(parents=True, exist_ok=True)
    # augmentation runs on the CPU: its cores shared out between the chains
    threads = str(max(1, (os.cpu_count() or 2) // len(plan)))
    env = {**os.environ, "OMP_NUM_THREADS": threads, "PYTHONUNBUFFERED": "1", "TQDM_DISABLE": "1"}
    procs = []
    for i in range(len(plan)):
        log = open(root / f"chain-{i}.log", "w")
        procs.append(subprocess.Popen([sys.executable, __file__, "chain", plan_path, str(i), "--arrays", arrays,
                                       "--root", out, "--device", device] + ["--smoke"] * smoke,
                                      stdout=log, stderr=subprocess.STDOUT, env=env))
    written = started
    # polled every second so that the call ends when the chains do; status.json is written every 20 s
    while any(p.poll() is None for p in procs) and time.time() - started < deadline:
        time.sleep(1)
        if time.time() - written >= 20:
            (root / "status.json").write_text(json.dumps(status(plan, root, procs, started), indent=1))
            written = time.time()
    for p in procs:
        if p.poll() is None:
            p.kill()
            p.wait()
    report = status(plan, root, procs, started)
    (root / "status.json").write_text(json.dumps(report, indent=1))
    for name, r in report["runs"].items():
        print(f"{name:24s} chain {r['chain']:8s} epochs {r['epochs']:3d} finished {r['finished']}")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = p.add_subparsers(dest="cmd", required=True)
    k = sub.add_parser("pack")
    k.add_argument("--data", default="../shared/fer2013")
    k.add_argument("--out", default=".gpu")
    k.add_argument("--parts", type=int, default=4)
    r = sub.add_parser("run")
    r.add_argument("plan")
    r.add_argument("--out", required=True)
    r.add_argument("--deadline", type=float, default=540, help="seconds before unfinished chains are stopped")
    c = sub.add_parser("chain")
    c.add_argument("plan")
    c.add_argument("index", type=int)
    c.add_argument("--root", required=True)
    for q in (r, c):
        q.add_argument("--arrays", default=".gpu", help="the folder of the packed parts")
        q.add_argument("--device", default="cuda")
        q.add_argument("--smoke", action="store_true", help="1 epoch on 600 faces per command")
    args = p.parse_args()
    if args.cmd == "pack":
        pack(args.data, args.out, args.parts)
    elif args.cmd == "run":
        run(args.plan, args.out, args.arrays, args.device, args.deadline, args.smoke)
    else:
        run_chain(args.plan, args.index, args.arrays, args.root, args.device, args.smoke)


if __name__ == "__main__":
    main()
