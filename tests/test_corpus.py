"""ferx predict on large folders: streamed walk and decode, JSON lines / CSV as it goes, --resume, --shard."""
from __future__ import annotations

import csv
import itertools
import json
import shutil
from pathlib import Path

import pytest

from ferx.cli import main
from ferx.inference.corpus import decoded_chunks, in_shard, walk_images


@pytest.fixture
def crops(fer_root: Path, tmp_path: Path) -> Path:
    """30 FER-2013 test faces in two nested folders, plus a file that is not an image."""
    root = tmp_path / "crops"
    for i, f in enumerate(sorted((fer_root / "test" / "happy").iterdir())[:30]):
        dst = root / f"part{i % 2}" / ("deep" if i % 3 == 0 else "") / f.name
        dst.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(f, dst)
    (root / "notes.txt").write_text("not an image")
    return root


def lines(path: Path) -> list[dict]:
    return [json.loads(x) for x in path.read_text().splitlines()]


def test_walk_finds_nested_images_only(crops: Path) -> None:
    found = list(walk_images([crops]))
    assert len(found) == 30 and len(set(found)) == 30 and all(p.suffix == ".jpg" for p in found)


def test_decoding_reads_only_a_bounded_window_ahead(crops: Path) -> None:
    taken = []
    endless = (taken.append(p) or p for p in itertools.cycle(walk_images([crops])))
    chunks = decoded_chunks(endless, workers=1, chunk=4)
    first = [next(chunks) for _ in range(3)]
    assert [len(c) for c in first] == [4, 4, 4] and all(not isinstance(d, str) for c in first for _, d in c)
    assert len(taken) <= (3 + 2) * 4  # the chunks handed out plus two per worker in flight, not the stream


def test_shards_split_the_corpus_disjointly(crops: Path, tmp_path: Path) -> None:
    seen = []
    for k in (1, 2, 3):
        out = tmp_path / f"shard{k}.jsonl"
        assert main(["predict", str(crops), "--no-detect", "--tta", "none", "--jsonl", str(out), "--shard", f"{k}/3",
                     "--workers", "0", "--quiet"]) == 0
        seen += [r["image"] for r in lines(out)]
    assert sorted(seen) == sorted(str(p) for p in walk_images([crops]))  # each image in exactly one shard
    assert all(in_shard(Path(p), 1, 1) for p in seen)


def test_resume_skips_what_is_written_and_finishes_the_rest(crops: Path, tmp_path: Path) -> None:
    out, table = tmp_path / "faces.jsonl", tmp_path / "faces.csv"
    args = ["predict", str(crops), "--no-detect", "--tta", "none", "--jsonl", str(out), "--csv", str(table),
            "--workers", "1", "--quiet"]
    assert main(args) == 0
    full = lines(out)
    assert len(full) == 30 and all(len(r["faces"]) == 1 for r in full)  # a crop is one face
    assert main(args) == 2  # the output exists: no silent second copy without --resume
    # A killed run: 10 complete lines and half of the 11th; the CSV likewise cut mid-row.
    text = out.read_text().splitlines(keepends=True)
    out.write_text("".join(text[:10]) + text[10][:25])
    rows = table.read_text().splitlines(keepends=True)
    table.write_text("".join(rows[:11]) + rows[11][:10])
    assert main([*args, "--resume"]) == 0
    again = lines(out)
    assert sorted(r["image"] for r in again) == sorted(r["image"] for r in full)  # each once, none lost
    by_image = {r["image"]: r["faces"][0]["emotion"] for r in full}
    assert all(by_image[r["image"]] == r["faces"][0]["emotion"] for r in again)
    with open(table, newline="") as f:
        csv_rows = list(csv.DictReader(f))
    assert sorted(r["image"] for r in csv_rows) == sorted(by_image)  # one header, one row per face
