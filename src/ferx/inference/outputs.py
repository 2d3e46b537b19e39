"""JSON and CSV writers for per-face results."""
from __future__ import annotations

import csv
import io
import json
import os

from ..files import write_text
from ..model import CLASSES

CSV_FIELDS = ["x", "y", "w", "h", "emotion", *CLASSES]


def face_row(face) -> dict:
    x, y, w, h = face.box
    return {"x": x, "y": y, "w": w, "h": h, "emotion": face.emotion, **{c: f"{face.scores[c]:.6f}" for c in CLASSES}}


def write_json(path: str | os.PathLike, results: dict[str, list]) -> None:
    """{image: [{box, emotion, scores}, ...]} as JSON."""
    write_text(path, json.dumps({k: [f.to_dict() for f in faces] for k, faces in results.items()}, indent=2) + "\n")


def write_csv(path: str | os.PathLike, rows: list[dict], key_fields: list[str]) -> None:
    """One row per face: the `key_fields` (e.g. image, or frame and time) then box, emotion and scores."""
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=[*key_fields, *CSV_FIELDS], lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    write_text(path, buf.getvalue())
