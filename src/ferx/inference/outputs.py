"""JSON and CSV writers for per-face results."""
from __future__ import annotations

import csv
import io
import json
import os
from contextlib import contextmanager
from typing import Callable, Iterator

from ..files import atomic_path, write_text
from ..model import CLASSES

BOX_FIELDS = ["x", "y", "w", "h", "emotion"]
CSV_FIELDS = [*BOX_FIELDS, *CLASSES]  # for the packaged model; a model's own classes name its score columns


def face_row(face) -> dict:
    """Box, emotion and one score column per class of the model that saw the face."""
    x, y, w, h = face.box
    return {"x": x, "y": y, "w": w, "h": h, "emotion": face.emotion, **{c: f"{p:.6f}" for c, p in face.scores.items()}}


def write_json(path: str | os.PathLike, results: dict[str, list]) -> None:
    """{image: [{box, emotion, scores}, ...]} as JSON."""
    write_text(path, json.dumps({k: [f.to_dict() for f in faces] for k, faces in results.items()}, indent=2) + "\n")


def write_csv(path: str | os.PathLike, rows: list[dict], key_fields: list[str],
              classes: list[str] | tuple[str, ...] = CLASSES) -> None:
    """One row per face: the `key_fields` (e.g. image, or frame and time) then box, emotion and `classes`' scores."""
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=[*key_fields, *BOX_FIELDS, *classes], lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    write_text(path, buf.getvalue())


@contextmanager
def csv_rows(path: str | os.PathLike, key_fields: list[str],
             classes: list[str] | tuple[str, ...] = CLASSES) -> Iterator[Callable[[list[dict]], None]]:
    """Like `write_csv`, but rows are written as they come (call the yielded function); atomic at the end."""
    with atomic_path(path) as tmp, open(tmp, "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=[*key_fields, *BOX_FIELDS, *classes], lineterminator="\n")
        writer.writeheader()
        yield writer.writerows
