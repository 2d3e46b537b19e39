"""predict_files: files taken lazily, a report per file in input order, bad files not fatal; --max-pixels."""
from __future__ import annotations

import csv
from pathlib import Path

import pytest
from PIL import Image

from ferx.cli import main
from ferx.inference.batch import CHUNK, predict_files
from ferx.inference.recognizer import EmotionRecognizer

from hostile import png_bomb, source


@pytest.fixture(scope="module")
def rec() -> EmotionRecognizer:
    return EmotionRecognizer(detector=None, tta="none")


def test_files_are_taken_lazily_and_reported_in_order(rec, tmp_path: Path) -> None:
    paths = []
    for i in range(40):
        path = tmp_path / f"{i:02d}.png"
        if i % 7 == 3:
            path.write_bytes(b"\x89PNG\r\n\x1a\n broken")
        else:
            Image.fromarray(source(i)).save(path)
        paths.append(path)
    taken, reports = [], []

    def lazily():
        for p in paths:
            taken.append(p)
            yield p

    done, failed = predict_files(rec, lazily(), csv_path=str(tmp_path / "faces.csv"),
                                 report=lambda r: reports.append((r, len(taken))))
    assert (done, failed) == (34, 6)
    assert [r.path for r, _ in reports] == paths
    assert reports[0][1] == CHUNK  # the first file was reported before the 17th was even listed
    assert all(r.error.startswith(f"{r.path}: not a readable image") for r, _ in reports if r.faces is None)
    rows = list(csv.DictReader(open(tmp_path / "faces.csv")))
    assert [row["image"] for row in rows] == [str(r.path) for r, _ in reports if r.faces]
    assert all((row["x"], row["y"], row["w"], row["h"]) == ("0", "0", "48", "40") for row in rows)


def test_cli_max_pixels(tmp_path: Path, capsys) -> None:
    small, bomb = tmp_path / "small.png", tmp_path / "bomb.png"
    Image.fromarray(source()).save(small)  # 1920 pixels
    bomb.write_bytes(png_bomb(13000, 13000))
    assert main(["predict", str(bomb), str(small), "--no-detect"]) == 0
    out = capsys.readouterr()
    assert out.err == (f"ferx: error: {bomb}: 13000x13000 image (169,000,000 pixels) is over the limit of "
                       "40,000,000 pixels (max_pixels)\n")
    assert f"{small}: " in out.out
    assert main(["predict", str(small), "--no-detect", "--max-pixels", "1919"]) == 2
    assert "is over the limit of 1,919 pixels" in capsys.readouterr().err
    assert main(["predict", str(small), "--no-detect", "--max-pixels", "2e3"]) == 0
    with pytest.raises(SystemExit) as exit_:
        main(["predict", str(small), "--max-pixels", "0"])
    assert exit_.value.code == 2 and "--max-pixels: 0: must be a whole number, 1 or more" in capsys.readouterr().err
