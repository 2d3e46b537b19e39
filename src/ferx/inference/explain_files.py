"""`ferx explain`: per face, the crop with its heat map over it and a sheet of every class's map."""
from __future__ import annotations

import os
from pathlib import Path
from typing import Callable, Iterable, Sequence

import numpy as np

from ..errors import FerxError
from ..files import atomic_path
from ..model import to_input
from .annotate import write_image
from .batch import AnnotationPaths
from .explain import class_maps, overlay
from .images import load_rgb
from .recognizer import EmotionRecognizer

SIZE = 192  # pixels per side of a written crop (the model sees 48)


def write_sheet(path: Path, crop: np.ndarray, maps: np.ndarray, scores: dict[str, float], title: str) -> None:
    """A PNG: the crop, then each class's map (C, 48, 48) over it, titled with the class's probability."""
    from matplotlib.figure import Figure  # no pyplot: no global figure state, no GUI backend

    names = list(scores)
    cols = 4
    rows = -(-(len(names) + 1) // cols)
    fig = Figure(figsize=(2.2 * cols, 2.4 * rows))
    axes = fig.subplots(rows, cols, squeeze=False).ravel()
    axes[0].imshow(crop, cmap="gray", vmin=0, vmax=255)
    axes[0].set_title("face", fontsize=9)
    top = max(scores, key=scores.get)
    for ax, name, m in zip(axes[1:], names, maps):
        ax.imshow(overlay(crop, m, size=SIZE)[..., ::-1])
        none = "" if m.max() > 0 else " (no evidence)"  # Grad-CAM's ReLU leaves nothing where every region argues against
        ax.set_title(f"{name} {scores[name]:.2f}{none}", fontsize=9, fontweight="bold" if name == top else "normal")
    for ax in axes:
        ax.axis("off")
    fig.suptitle(title, fontsize=10)
    with atomic_path(path) as tmp:
        fig.savefig(tmp, dpi=100, bbox_inches="tight", format="png")


def explain_image(rec: EmotionRecognizer, rgb: np.ndarray, base: Path, target: str | None = None) -> list[Path]:
    """Write BASE_face<k>_<target>.png (crop and map) and BASE_face<k>_classes.png per face; the paths written."""
    found = rec.explain(rgb, target)
    if not found:
        return []
    net = rec.torch_model()
    crops = np.stack([e.crop for e in found])
    every = class_maps(net, to_input(crops).to(next(net.parameters()).device)).cpu().numpy()
    written = []
    for k, (e, maps) in enumerate(zip(found, every), start=1):
        stem = f"{base.name}_face{k}"
        written.append(write_image(base.with_name(f"{stem}_{e.target}.png"), overlay(e.crop, e.crop_map, size=SIZE)))
        sheet = base.with_name(f"{stem}_classes.png")
        write_sheet(sheet, e.crop, maps, e.face.scores, f"face {k} at {tuple(e.face.box)}: {e.face.emotion}")
        written.append(sheet)
    return written


def explain_files(rec: EmotionRecognizer, files: Iterable[str | os.PathLike], out: str | os.PathLike,
                  target: str | None = None, roots: Sequence[str] = (),
                  report: Callable[[Path, list[Path] | str], None] | None = None) -> tuple[int, int]:
    """Maps for every face of every file, written under `out` (mirroring paths below `roots`); unreadable files are
    reported, not fatal. `report(path, files written or the error)` once per file. Returns (processed, failed)."""
    if target is not None:
        rec.class_index(target)  # a bad class name fails before any file is read
    names = AnnotationPaths(out, roots)
    done = failed = 0
    for path in map(Path, files):
        try:
            rgb = load_rgb(path, rec.max_pixels)
        except FerxError as exc:
            failed += 1
            if report:
                report(path, str(exc))
            continue
        base = names(path)
        written = explain_image(rec, rgb, base.with_name(base.stem), target)
        done += 1
        if report:
            report(path, written)
    return done, failed
