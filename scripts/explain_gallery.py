"""Saliency gallery: Grad-CAM maps of right and wrong FER-2013 test predictions, written to docs/explanations.md.

Usage: python scripts/explain_gallery.py [--weights W] [--data ../shared/fer2013] [--out docs] [--per-class 4]
Every number and sentence of the page comes from this run (the packaged model and default prediction path unless
--weights names others), so re-run it whenever the packaged model changes. Writes OUT/explanations.md and
OUT/explanations/*.png.
"""
from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
import torch
from matplotlib.figure import Figure

from ferx.data.fer2013 import load_train_test
from ferx.files import atomic_path, write_text
from ferx.inference.explain import class_maps, overlay
from ferx.inference.views import DEFAULT, NAMES, predict_views
from ferx.model import to_input
from ferx.results.faithfulness import deletion_check, randomisation_check
from ferx.weights import load_model, pretrained_path

# Rows of a 48x48 FER-2013 crop (faces are roughly centred and upright): brows and eyes, and mouth and chin.
EYES, MOUTH = slice(8, 24), slice(30, 46)
NAMED_PAIRS = [("fear", "sad"), ("sad", "neutral")]  # the two most confused pairs of the first shipped models


def maps_of(net: torch.nn.Module, images: np.ndarray, classes: np.ndarray) -> np.ndarray:
    """Grad-CAM map (48, 48) of class classes[i] for each image, in batches."""
    out = []
    for i in range(0, len(images), 256):
        every = class_maps(net, to_input(images[i : i + 256])).numpy()
        out.append(every[np.arange(len(every)), classes[i : i + 256]])
    return np.concatenate(out)


def save(fig: Figure, path: Path) -> None:
    with atomic_path(path) as tmp:
        fig.savefig(tmp, dpi=110, bbox_inches="tight", format="png")


def panel(ax, crop: np.ndarray, heat: np.ndarray | None, title: str) -> None:
    ax.imshow(crop, cmap="gray", vmin=0, vmax=255) if heat is None else ax.imshow(overlay(crop, heat, size=96)[..., ::-1])
    ax.set_title(title, fontsize=8)
    ax.axis("off")


def class_sheet(net, names, test, pred, probs, c: int, k: int, rng, path: Path) -> tuple[int, int]:
    """Right answers of class c (map of c); wrong ones (map of what was said, and of c). (right, wrong) counts."""
    right = np.flatnonzero((test.labels == c) & (pred == c))
    wrong = np.flatnonzero((test.labels == c) & (pred != c))
    r = rng.choice(right, min(k, len(right)), replace=False)
    w = rng.choice(wrong, min(k, len(wrong)), replace=False)
    fig = Figure(figsize=(1.5 * k, 1.75 * 3))
    axes = fig.subplots(3, k, squeeze=False)
    for ax in axes.ravel():
        ax.axis("off")
    for j, i in enumerate(r):
        panel(axes[0, j], test.images[i], maps_of(net, test.images[i : i + 1], np.array([c]))[0],
              f"{names[c]} {probs[i, c]:.2f}")
    for j, i in enumerate(w):
        heat = maps_of(net, test.images[[i, i]], np.array([pred[i], c]))
        panel(axes[1, j], test.images[i], heat[0], f"said {names[pred[i]]} {probs[i, pred[i]]:.2f}")
        panel(axes[2, j], test.images[i], heat[1], f"{names[c]} {probs[i, c]:.2f}")
    fig.suptitle(f"{names[c]}: right (map of {names[c]}); wrong (map of what was said; below, of {names[c]})",
                 fontsize=9)
    save(fig, path)
    return len(right), len(wrong)


def pair_sheet(net, names, test, pred, probs, a: int, b: int, k: int, rng, path: Path) -> int:
    """Faces of class a predicted b: the face, the map of b, the map of a. The number of such faces."""
    idx = np.flatnonzero((test.labels == a) & (pred == b))
    pick = rng.choice(idx, min(k, len(idx)), replace=False)
    fig = Figure(figsize=(1.5 * max(k, 1), 1.75 * 3))
    axes = fig.subplots(3, max(k, 1), squeeze=False)
    for ax in axes.ravel():
        ax.axis("off")
    for j, i in enumerate(pick):
        heat = maps_of(net, test.images[[i, i]], np.array([b, a]))
        panel(axes[0, j], test.images[i], None, f"true {names[a]}")
        panel(axes[1, j], test.images[i], heat[0], f"{names[b]} {probs[i, b]:.2f}")
        panel(axes[2, j], test.images[i], heat[1], f"{names[a]} {probs[i, a]:.2f}")
    fig.suptitle(f"{names[a]} taken for {names[b]}: the face, the map of {names[b]}, the map of {names[a]}", fontsize=9)
    save(fig, path)
    return len(idx)


def band_shares(net, test, pred, c: int, rng, most: int = 300) -> tuple[float, float, float, float]:
    """Over right answers: mean share of the map in the eye band and in the mouth band, the share of empty maps, and
    the share of maps whose hottest pixel lies in the upper half of the face."""
    right = np.flatnonzero((test.labels == c) & (pred == c))
    pick = rng.choice(right, min(most, len(right)), replace=False)
    heat = maps_of(net, test.images[pick], np.full(len(pick), c))
    total = heat.sum((1, 2))
    seen = total > 0
    eyes = heat[seen][:, EYES].sum((1, 2)) / total[seen]
    mouth = heat[seen][:, MOUTH].sum((1, 2)) / total[seen]
    upper = heat[seen].reshape(seen.sum(), -1).argmax(1) // heat.shape[1] < heat.shape[1] // 2
    return float(eyes.mean()), float(mouth.mean()), float(1 - seen.mean()), float(upper.mean())


def where(upper: float, classes_mean: float) -> str:
    """Where this class's maps peak, relative to the other classes' (the grid's cells need not split the face evenly)."""
    if upper > classes_mean + 0.1:
        return "brows and eyes, more than most classes"
    if upper < classes_mean - 0.1:
        return "mouth and chin, more than most classes"
    return "as most classes"


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--weights", default=str(pretrained_path()))
    p.add_argument("--data", default="../shared/fer2013")
    p.add_argument("--out", default=str(Path(__file__).resolve().parents[1] / "docs"))
    p.add_argument("--per-class", type=int, default=4)
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args()
    started = time.time()
    net, card = load_model(args.weights)
    names = card.classes
    test = load_train_test(args.data)["test"]
    logits = predict_views(net, test.images, DEFAULT).mean(0)
    probs = torch.softmax(logits / card.temperature, 1).numpy()
    pred = probs.argmax(1)
    out, figs = Path(args.out), Path(args.out) / "explanations"
    rng = np.random.default_rng(args.seed)

    sample = np.random.default_rng(0).choice(len(test), 500, replace=False)  # tests/test_explain.py's 500 faces
    deletion = {b: deletion_check(net, test.images[sample], 0.2, block=b) for b in (-1, -2, -3)}
    rand = randomisation_check(net, test.images[sample])
    d = deletion[-1]

    cm = np.zeros((len(names), len(names)), int)
    np.add.at(cm, (test.labels, pred), 1)
    rate = cm / cm.sum(1, keepdims=True)
    off = [(rate[a, b], a, b) for a in range(len(names)) for b in range(len(names)) if a != b]
    pairs = [(names.index(a), names.index(b)) for a, b in NAMED_PAIRS if a in names and b in names]
    pairs += [(a, b) for _, a, b in sorted(off, reverse=True)[:3] if (a, b) not in pairs]

    lines = [
        "# What the model looks at: Grad-CAM maps", "",
        "<!-- Generated by scripts/explain_gallery.py; edit the script, not this page. -->", "",
        f"Model: `{Path(args.weights).name}` ({card.architecture}); predictions: the {NAMES[DEFAULT]} path, "
        f"probabilities at temperature {card.temperature:.3f}; test split of FER-2013 ({len(test):,} faces, "
        f"accuracy {(pred == test.labels).mean():.4f}). Generated {time.strftime('%Y-%m-%d')} by "
        "`python scripts/explain_gallery.py`; re-run it when the packaged model changes.",
        "",
        "Each map is Grad-CAM on the last convolutional block (`ferx explain`, `EmotionRecognizer.explain`): the block's "
        "channels weighed by how much they raise the class's logit, summed, positive part, upsampled to the 48x48 "
        f"crop. That block's output is {d['map_grid']}x{d['map_grid']} cells for a 48x48 face, so a map says which "
        "part of the face (upper or lower, left or right) carried the evidence, not which wrinkle. Red is most.",
        "",
        "## Do the maps mean something?", "",
        f"Deletion check (tests/test_explain.py) over {d['faces']} seeded test faces: blanking to the face's mean the "
        f"20% of pixels the map ranks highest lowers the predicted class's probability by {d['drop_map']:.3f} on "
        f"average, blanking a random region of the same size and smoothness by {d['drop_random_region']:.3f}: a margin "
        f"of {d['margin']:.3f} (standard error {d['margin_stderr']:.3f}; the map's region hurts more for "
        f"{d['share_map_worse']:.0%} of faces). Blanking 20% of single pixels scattered at random lowers it by "
        f"{d['drop_random_pixels']:.3f}, more than either: salt-and-pepper holes are an artefact no training face has, "
        "so they are no baseline for a region.",
        "",
        "| Grad-CAM on | map cells | drop, map's top 20% | drop, random region | margin |",
        "|---|---:|---:|---:|---:|",
        *(f"| block {len(net.blocks) + b + 1} of {len(net.blocks)}{' (the default)' if b == -1 else ''} | "
          f"{r['map_grid']}x{r['map_grid']} | {r['drop_map']:.3f} | {r['drop_random_region']:.3f} | "
          f"{r['margin']:.3f} ± {r['margin_stderr']:.3f} |" for b, r in deletion.items()),
        "",
        f"Randomisation check: re-initialising the last block's weights changes the maps completely: the mean Spearman "
        f"rank correlation between the trained model's and the randomised model's maps is {rand['spearman_mean']:.3f} "
        f"over {rand['faces']} faces (signed maps: after the ReLU most of the randomised model's maps are empty). Maps "
        "that survived randomisation would be showing the image, not the model.",
        "",
        "## Where the evidence lies, per class", "",
        f"Share of the map in the brow-and-eye band (rows {EYES.start}-{EYES.stop - 1} of 48) and the mouth-and-chin "
        f"band (rows {MOUTH.start}-{MOUTH.stop - 1}), and the share of maps whose hottest pixel is in the upper half, "
        "over up to 300 right answers per class. The band shares differ little between classes (a map of few cells "
        "spreads over the whole face); where the map peaks tells the classes apart:", "",
        "| class | right / wrong (test) | eyes band | mouth band | empty maps | peak in upper half | evidence |",
        "|---|---:|---:|---:|---:|---:|---|",
    ]
    sheets, rows = [], []
    for c, name in enumerate(names):
        n_right, n_wrong = class_sheet(net, names, test, pred, probs, c, args.per_class, rng, figs / f"{name}.png")
        rows.append((name, n_right, n_wrong, *band_shares(net, test, pred, c, rng)))
        sheets.append(f"### {name}\n\n![{name}](explanations/{name}.png)\n")
    mean_upper = float(np.mean([r[-1] for r in rows]))
    for name, n_right, n_wrong, eyes, mouth, empty, upper in rows:
        lines.append(f"| {name} | {n_right} / {n_wrong} | {eyes:.2f} | {mouth:.2f} | {empty:.2f} | {upper:.2f} | "
                     f"{where(upper, mean_upper)} |")
    top = max(rows, key=lambda r: r[-1])
    low = min(rows, key=lambda r: r[-1])
    lines += ["", f"What the maps show: {top[0]}'s maps peak in the upper face (brows, eyes) most often "
              f"({top[-1]:.0%}), {low[0]}'s least often ({low[-1]:.0%}: {1 - low[-1]:.0%} peak in the lower half, "
              f"mouth and chin); over the classes the mean is {mean_upper:.0%} upper. For the wrong answers below, the middle row shows "
              "where the model found evidence for the class it said, the bottom row where it found evidence for "
              "the true class (an empty map: none anywhere)."]
    lines += [
        "", "A map is empty where Grad-CAM finds no positive evidence (every region argues against the class). "
        "The bands are fixed rows of the crop; FER-2013 faces are roughly but not exactly aligned.", "",
        "## Right and wrong answers, per class", "",
        f"Top row: {args.per_class} right answers, map of the true class. Middle: wrong answers, map of the class the "
        "model said. Bottom: the same faces, map of the true class. Seeded picks, not chosen by hand.", "", *sheets,
        "## The most confused pairs", "",
    ]
    for a, b in pairs:
        n = pair_sheet(net, names, test, pred, probs, a, b, args.per_class, rng, figs / f"{names[a]}_as_{names[b]}.png")
        lines += [f"### {names[a]} taken for {names[b]} ({n} test faces, {rate[a, b]:.1%} of {names[a]})", "",
                  f"![{names[a]} taken for {names[b]}](explanations/{names[a]}_as_{names[b]}.png)", ""]
    write_text(out / "explanations.md", "\n".join(lines))
    print(f"wrote {out / 'explanations.md'} and {len(names) + len(pairs)} figures in {figs} "
          f"({time.time() - started:.0f} s); deletion margin {d['margin']:.4f} ± {d['margin_stderr']:.4f}, "
          f"randomisation Spearman {rand['spearman_mean']:.4f}")


if __name__ == "__main__":
    main()
