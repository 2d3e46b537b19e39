"""Run many training recipes side by side on one GPU and rank them on the validation split only.

The ferx loop (`ferx.training.train.fit`, `device="cuda"`), one process per recipe, all sharing the GPU. Only the
training split travels: the test split is never read, so nothing here can leak it into a choice.

    python scripts/gpu_train.py pack --parts 4                  # here: train split only, .gpu/train-{0..3}.npy.xz
    PYTHONPATH=src python3 scripts/gpu_search.py run --out $OUT  # on the GPU machine, the parts carried there
    python scripts/gpu_search.py table $OUT/search.json          # here: markdown table

The training split travels in parts, one device call each, as scripts/gpu_train.py's docstring says.

`run` writes search.json (per recipe: overrides, history, validation accuracy / macro F1 / micro AUC with and
under each test-time mode, state) every 20 s and at the end, so a run cut off by its time limit still reports.
Every recipe keeps seed 0's validation split; `seed` changes only the initialisation and the augmentation draws.
"""
from __future__ import annotations

import argparse
import csv
import json
import os
import subprocess
import sys
import tarfile
import time
from pathlib import Path

import numpy as np

from gpu_train import load_parts  # scripts/ is the path's first entry when a script runs

# The recipe every entry of GRID changes: that of the first shipped model, the one this search tried to beat (commit 5e43403),
# written out so the search means the same after the defaults move. Keys are TrainConfig fields; "augment" holds AugmentConfig fields.
BASE: dict = {"class_weight_power": 0.0,
              "augment": {"flip": 0.5, "max_shift": 0.1, "max_rotate": 15.0, "scale": (0.85, 1.15), "erase": 0.5}}

# name -> overrides of BASE ("augment" merges into BASE's); "arch" gives MiniXception arguments of a new variant.
GRID: dict[str, dict] = {
    "base-s0": {},
    "base-s1": {"seed": 1},
    "base-s2": {"seed": 2},
    "wd0.02": {"weight_decay": 0.02},
    "aug-light": {"augment": {"erase": 0.25, "max_rotate": 10.0, "scale": (0.9, 1.1)}},
    "lr5e-3": {"lr": 5e-3},
    "ls0.05": {"label_smoothing": 0.05},
    "cw0.25": {"class_weight_power": 0.25},
    "deep-narrow": {"arch": {"widths": (48, 96, 192, 384), "depth": 3}},
}


def worker(name: str, arrays: str, root: str, device: str, smoke: bool = False) -> None:
    """Train one recipe of GRID, then score its best checkpoint on validation (every test-time mode)."""
    import torch

    from ferx.data.fer2013 import Split, stratified_limit
    from ferx.data.splits import with_validation
    from ferx.model import CLASSES, MODEL_CONFIGS
    from ferx.results.metrics import compute_metrics
    from ferx.inference.views import mode_probs, predict_views
    from ferx.training.augment import AugmentConfig
    from ferx.training.train import TrainConfig, fit
    from ferx.weights import ModelCard, load_weights

    torch.set_num_threads(1)
    torch.backends.cudnn.benchmark = True
    over = {**BASE, **GRID[name], "augment": {**BASE["augment"], **GRID[name].get("augment", {})}}
    aug = AugmentConfig(**over.pop("augment"))
    arch = over.pop("arch", None)
    model = f"search-{name}" if arch else "emo"
    if smoke:  # a seconds-long pass through everything, to try the script on a CPU
        over.update(epochs=1, limit=600)
    out = Path(root) / name
    cfg = TrainConfig(data="(carried train split)", out=str(out), model=model, device=device, augment=aug, **over)
    train = load_parts(arrays)
    # Only the carried training split exists here, so no code path can read a test split; validation is seed 0's.
    empty = Split(np.zeros((0, 48, 48), np.uint8), np.zeros(0, np.int64))
    splits = with_validation(stratified_limit(train, cfg.limit, 0), np.arange(min(len(train), cfg.limit or len(train))),
                             empty, cfg.val_fraction, 0)
    card = ModelCard("custom" if arch else "emo", {**(arch or MODEL_CONFIGS["emo"]), "num_classes": len(CLASSES)})
    t0 = time.time()
    summary = fit(cfg, splits, card.build, card)
    net = load_weights(out / "best_model.pt")
    probs = mode_probs(predict_views(net, splits["val"].images, "views"))
    result = {"summary": summary, "wall_seconds": time.time() - t0, "params": sum(p.numel() for p in net.parameters())}
    for key, p in probs.items():
        m = compute_metrics(splits["val"].labels, p)
        result[key] = {k: m[k] for k in ("accuracy", "macro_f1", "micro_auc")}
        result[key]["class_f1"] = {c: v["f1-score"] for c, v in m["per_class"].items()}
    (out / "result.json").write_text(json.dumps(result, indent=2))


def collect(root: Path, procs: dict[str, subprocess.Popen], started: float) -> dict:
    report = {"elapsed_seconds": time.time() - started, "runs": {}}
    for name in GRID:
        run = root / name
        entry: dict = {"overrides": GRID[name], "state": "not started"}
        if name in procs:
            rc = procs[name].poll()
            entry["state"] = "running" if rc is None else ("done" if rc == 0 else f"exit {rc}")
        if (run / "history.csv").exists():
            with open(run / "history.csv", newline="") as f:
                entry["history"] = [{k: float(v) for k, v in r.items()} for r in csv.DictReader(f)]
        if (run / "result.json").exists():
            entry.update(json.loads((run / "result.json").read_text()))
        if (run / "log.txt").exists():
            entry["log_tail"] = (run / "log.txt").read_text()[-600:]
        report["runs"][name] = entry
    return report


def run(arrays: str, out: str, root: str, device: str, deadline: float, names: list[str], smoke: bool) -> None:
    started = time.time()
    out_dir, root_dir = Path(out), Path(root)
    out_dir.mkdir(parents=True, exist_ok=True)
    procs: dict[str, subprocess.Popen] = {}
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONUNBUFFERED": "1", "TQDM_DISABLE": "1"}
    for name in names:
        (root_dir / name).mkdir(parents=True, exist_ok=True)
        log = open(root_dir / name / "log.txt", "w")
        procs[name] = subprocess.Popen([sys.executable, __file__, "worker", name, "--arrays", arrays, "--root", root,
                                        "--device", device] + ["--smoke"] * smoke, stdout=log, stderr=subprocess.STDOUT, env=env)
    written = started
    # polled every second so that the call ends when the recipes do; search.json is written every 20 s
    while any(p.poll() is None for p in procs.values()) and time.time() - started < deadline:
        time.sleep(1)
        if time.time() - written >= 20:
            (out_dir / "search.json").write_text(json.dumps(collect(root_dir, procs, started), indent=1))
            written = time.time()
    for p in procs.values():
        if p.poll() is None:
            p.kill()
    report = collect(root_dir, procs, started)
    (out_dir / "search.json").write_text(json.dumps(report, indent=1))
    # Best checkpoints, four to an archive (each returned file is capped at 16 MiB).
    done = [n for n in names if (root_dir / n / "best_model.pt").exists()]
    for i in range(0, len(done), 4):
        with tarfile.open(out_dir / f"weights-{i // 4}.tar", "w") as tar:
            for n in done[i : i + 4]:
                tar.add(root_dir / n / "best_model.pt", arcname=f"{n}.pt")
    for name, r in report["runs"].items():
        va = r.get("views", {})
        print(f"{name:12s} {r['state']:8s} epochs {len(r.get('history', [])):3d}  "
              f"val six-view acc {va.get('accuracy', float('nan')):.4f}  macro F1 {va.get('macro_f1', float('nan')):.4f}")


def table(path: str) -> None:
    """Markdown table of a search.json: validation accuracy per recipe up to the last epoch every recipe reached."""
    runs = json.loads(Path(path).read_text())["runs"]
    runs = {n: r for n, r in runs.items() if r.get("history")}
    common = min(len(r["history"]) for r in runs.values())
    mid = min(30, common)
    print(f"| recipe | overrides | epochs run | val acc, epoch {mid} | val acc, epoch {common} | best val acc, epochs 1-{common} "
          "| val acc + macro F1, six views | s/epoch |")
    print("|---|---|---:|---:|---:|---:|---:|---:|")
    for name, r in runs.items():
        h = r["history"]
        tta = r.get("views")
        final = f"{tta['accuracy']:.4f} / {tta['macro_f1']:.4f}" if tta else "cut off"
        secs = sorted(x["seconds"] for x in h)[len(h) // 2]
        print(f"| {name} | {json.dumps(r['overrides']) if r['overrides'] else 'BASE'} | {len(h)} "
              f"| {h[mid - 1]['val_acc']:.4f} | {h[common - 1]['val_acc']:.4f} "
              f"| {max(x['val_acc'] for x in h[:common]):.4f} | {final} | {secs:.1f} |")


def main() -> None:
    p = argparse.ArgumentParser()
    sub = p.add_subparsers(dest="cmd", required=True)
    w = sub.add_parser("worker")
    w.add_argument("name", choices=list(GRID))
    for q in (w, sub.add_parser("run")):
        q.add_argument("--arrays", default=".gpu", help="the folder of gpu_train.py pack's parts")
        q.add_argument("--root", default="/tmp/ferx-search")
        q.add_argument("--device", default="cuda")
        q.add_argument("--smoke", action="store_true", help="1 epoch on 600 images per recipe")
    r = sub.choices["run"]
    r.add_argument("--out", required=True)
    r.add_argument("--deadline", type=float, default=520, help="seconds before unfinished recipes are stopped")
    r.add_argument("--only", nargs="*", choices=list(GRID), help="a subset of GRID")
    sub.add_parser("table").add_argument("search_json")
    args = p.parse_args()
    if args.cmd == "table":
        table(args.search_json)
    elif args.cmd == "worker":
        worker(args.name, args.arrays, args.root, args.device, args.smoke)
    else:
        run(args.arrays, args.out, args.root, args.device, args.deadline, args.only or list(GRID), args.smoke)


if __name__ == "__main__":
    main()
