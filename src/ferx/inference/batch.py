"""Predict over many image files: files read lazily in small chunks, every file reported, outputs as they go."""
from __future__ import annotations

import os
from contextlib import ExitStack
from dataclasses import dataclass
from itertools import islice
from pathlib import Path
from typing import Callable, Iterable, Iterator, Sequence

import cv2
import numpy as np

from ..errors import FerxError
from .annotate import draw_faces, writable_path, write_image
from .images import load_rgb
from .outputs import csv_rows, face_row, write_json
from .recognizer import EmotionRecognizer, Face

CHUNK = 16  # decoded images held at once; the faces of a chunk are classified in one batched pass


@dataclass
class FileResult:
    """One file's outcome: its faces, or (faces None) the one-line error that kept it from being read."""

    path: Path
    faces: list[Face] | None = None
    error: str | None = None


def iter_predictions(rec: EmotionRecognizer, files: Iterable[str | os.PathLike],
                     chunk: int = CHUNK) -> Iterator[tuple[FileResult, np.ndarray | None]]:
    """(result, RGB pixels or None) per file, in input order; `files` is consumed lazily, `chunk` at a time."""
    it = iter(files)
    while group := [Path(p) for p in islice(it, chunk)]:
        decoded: list[tuple[Path, np.ndarray | str]] = []
        for path in group:
            try:
                decoded.append((path, load_rgb(path, rec.max_pixels)))
            except FerxError as exc:
                decoded.append((path, str(exc)))
        images = [d for _, d in decoded if isinstance(d, np.ndarray)]
        found = iter(rec.predict_many(images))
        for path, d in decoded:
            if isinstance(d, str):
                yield FileResult(path, error=d), None
            else:
                yield FileResult(path, next(found)), d


class AnnotationPaths:
    """Where each annotated copy goes: its path below the folder given on the command line, else its name;
    a second input mapping to a name already written this run (a/x.jpg, b/x.jpg) gets x-2.jpg, x-3.jpg, ..."""

    def __init__(self, out: str | os.PathLike, roots: Sequence[str | os.PathLike] = ()):
        self.out, self.roots, self.used = Path(out), [Path(r) for r in roots], set()

    def __call__(self, path: Path) -> Path:
        rel = next((path.relative_to(r) for r in self.roots if r.is_dir() and path.is_relative_to(r)), Path(path.name))
        first = target = writable_path(self.out / rel)
        n = 1
        while target in self.used:
            n += 1
            target = first.with_name(f"{first.stem}-{n}{first.suffix}")
        self.used.add(target)
        return target


def predict_files(rec: EmotionRecognizer, files: Iterable[str | os.PathLike], json_path: str | None = None,
                  csv_path: str | None = None, annotate: str | None = None, roots: Sequence[str] = (),
                  report: Callable[[FileResult], None] | None = None) -> tuple[int, int]:
    """Faces in every file; unreadable files are reported, not fatal. Returns (files processed, files failed).

    CSV rows and annotated copies (under `annotate`, mirroring paths below `roots`) are written as files are
    done; JSON at the end. `report` is called once per file, in input order.
    """
    results: dict[str, list[Face]] = {}
    done = failed = 0
    names = AnnotationPaths(annotate, roots) if annotate else None
    with ExitStack() as stack:
        add_rows = stack.enter_context(csv_rows(csv_path, ["image"], rec.classes)) if csv_path else None
        for result, rgb in iter_predictions(rec, files):
            if report:
                report(result)
            if result.faces is None:
                failed += 1
                continue
            done += 1
            if json_path:
                results[str(result.path)] = result.faces
            if add_rows:
                add_rows([{"image": str(result.path), **face_row(f)} for f in result.faces])
            if names:
                write_image(names(result.path), draw_faces(cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR), result.faces))
    if json_path:
        write_json(json_path, results)
    return done, failed
