"""Predict over folders too large to list: walk with os.scandir, decode in worker processes, append results as they
come (JSON lines / CSV), skip what an earlier attempt wrote (--resume), keep one shard of N (--shard K/N)."""
from __future__ import annotations

import csv
import json
import os
import zlib
from collections import deque
from concurrent.futures import ProcessPoolExecutor
from contextlib import ExitStack
from itertools import islice
from pathlib import Path
from typing import Callable, Iterable, Iterator

import numpy as np
from tqdm import tqdm

from ..errors import FerxError
from .images import DEFAULT_MAX_PIXELS, IMAGE_SUFFIXES, load_rgb
from .outputs import BOX_FIELDS, face_row

CHUNK = 64  # decoded images classified together; a worker decodes a chunk per task


def walk_images(paths: Iterable[str | os.PathLike]) -> Iterator[Path]:
    """Image files named, or found below folders as os.scandir reaches them (no listing of the whole tree)."""
    for p in map(Path, paths):
        if not p.is_dir():
            yield p  # named explicitly: tried, and reported if it is not an image
            continue
        stack = [p]
        while stack:
            with os.scandir(stack.pop()) as entries:
                for e in entries:
                    if e.is_dir(follow_symlinks=False):
                        stack.append(Path(e.path))
                    elif e.is_file() and os.path.splitext(e.name)[1].lower() in IMAGE_SUFFIXES:
                        yield Path(e.path)


def parse_shard(text: str) -> tuple[int, int]:
    """"K/N" -> (K, N), 1 <= K <= N."""
    try:
        k, n = (int(v) for v in text.split("/"))
    except ValueError:
        raise FerxError(f"--shard {text}: expected K/N, e.g. 3/8") from None
    if not 1 <= k <= n:
        raise FerxError(f"--shard {text}: needs 1 <= K <= N")
    return k, n


def in_shard(path: Path, k: int, n: int) -> bool:
    """Whether `path` belongs to shard K of N: a hash of its path, so shards are disjoint whatever the walk order."""
    return zlib.crc32(str(path).encode()) % n == k - 1


def _complete_lines(path: Path) -> None:
    """Cut a line a killed run left half written, so appending starts on a fresh line."""
    with open(path, "rb+") as f:
        data = f.read()
        if data and not data.endswith(b"\n"):
            f.truncate(data.rfind(b"\n") + 1)


def done_images(path: str | os.PathLike) -> set[str]:
    """Images an earlier attempt already wrote to a .jsonl or .csv output (empty if there is none)."""
    path = Path(path)
    if not path.is_file():
        return set()
    _complete_lines(path)
    with open(path, newline="") as f:
        if path.suffix == ".jsonl":
            return {json.loads(line)["image"] for line in f if line.strip()}
        return {row["image"] for row in csv.DictReader(f)}


def _decode_chunk(paths: list[Path], max_pixels: int | None) -> list[tuple[Path, np.ndarray | str]]:
    out = []
    for p in paths:
        try:
            out.append((p, load_rgb(p, max_pixels)))
        except FerxError as exc:
            out.append((p, str(exc)))
    return out


def decoded_chunks(files: Iterable[Path], workers: int, max_pixels: int | None = DEFAULT_MAX_PIXELS,
                   chunk: int = CHUNK) -> Iterator[list[tuple[Path, np.ndarray | str]]]:
    """Chunks of (path, RGB pixels or error), in input order; `workers` processes decode at most 2 chunks ahead each."""
    it = iter(files)
    if workers <= 0:
        while group := list(islice(it, chunk)):
            yield _decode_chunk(group, max_pixels)
        return
    with ProcessPoolExecutor(workers) as pool:
        pending: deque = deque()
        while True:
            while len(pending) < 2 * workers and (group := list(islice(it, chunk))):
                pending.append(pool.submit(_decode_chunk, group, max_pixels))
            if not pending:
                return
            yield pending.popleft().result()


class _Appender:
    """A .jsonl (every image, faces or error) or .csv (a row per face) file that grows as results come, flushed per
    chunk, so a killed run loses at most the chunk in hand."""

    def __init__(self, path: str | os.PathLike, classes: list[str]):
        self.path, self.jsonl = Path(path), Path(path).suffix == ".jsonl"
        fresh = not self.path.is_file() or self.path.stat().st_size == 0
        self.f = open(self.path, "a", newline="")
        if not self.jsonl:
            self.writer = csv.DictWriter(self.f, fieldnames=["image", *BOX_FIELDS, *classes], lineterminator="\n")
            if fresh:
                self.writer.writeheader()

    def add(self, image: Path, faces: list | None, error: str | None) -> None:
        if self.jsonl:
            record = {"image": str(image), **({"error": error} if error else {"faces": [f.to_dict() for f in faces]})}
            self.f.write(json.dumps(record) + "\n")
        elif faces:
            self.writer.writerows({"image": str(image), **face_row(f)} for f in faces)

    def flush(self) -> None:
        self.f.flush()

    def close(self) -> None:
        self.f.close()


def predict_stream(rec, paths: Iterable[str | os.PathLike], outputs: list[str], workers: int = 2,
                   resume: bool = False, shard: tuple[int, int] | None = None,
                   report: Callable[[Path, list | None, str | None], None] | None = None) -> tuple[int, int, int]:
    """Faces of every image under `paths`, appended to each of `outputs` (.jsonl / .csv) as chunks are done.

    Returns (images done, failed, skipped as already done). The done set read for --resume is the only thing that
    grows with the corpus (one path string per image already written).
    """
    skip: set[str] = set()
    if resume:  # JSON lines name every image (no-face and failed too); a CSV only those with faces
        jsonl = [o for o in outputs if Path(o).suffix == ".jsonl"]
        skip = done_images(jsonl[0] if jsonl else outputs[0])
        for out in outputs:
            if Path(out).is_file():
                _complete_lines(Path(out))
    elif any(Path(o).is_file() and Path(o).stat().st_size for o in outputs):
        raise FerxError(f"{next(o for o in outputs if Path(o).is_file())}: exists; add --resume to continue it")
    skipped = 0

    def todo() -> Iterator[Path]:
        nonlocal skipped
        for p in walk_images(paths):
            if shard and not in_shard(p, *shard):
                continue
            if str(p) in skip:
                skipped += 1
                continue
            yield p

    done = failed = 0
    with ExitStack() as stack:
        sinks = [_Appender(o, list(rec.classes)) for o in outputs]
        for s in sinks:
            stack.callback(s.close)
        bar = stack.enter_context(tqdm(desc="images", unit=" img", dynamic_ncols=True, mininterval=1))
        for group in decoded_chunks(todo(), workers, getattr(rec, "max_pixels", DEFAULT_MAX_PIXELS)):
            images = [d for _, d in group if not isinstance(d, str)]
            faces = iter(rec.predict_many(images))
            for path, d in group:
                error = d if isinstance(d, str) else None
                found = None if error else next(faces)
                failed += error is not None
                done += error is None
                for s in sinks:
                    s.add(path, found, error)
                if report:
                    report(path, found, error)
            for s in sinks:
                s.flush()
            bar.update(len(group))
    return done, failed, skipped
