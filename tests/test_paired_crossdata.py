"""scripts/paired_crossdata.py: paired differences with intervals over people, from compare_fer.py's per-image CSVs."""
from __future__ import annotations

import csv
import importlib.util
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

SCRIPT = Path(__file__).resolve().parents[1] / "scripts" / "paired_crossdata.py"
spec = importlib.util.spec_from_file_location("paired_crossdata", SCRIPT)
paired = importlib.util.module_from_spec(spec)
spec.loader.exec_module(paired)


def test_people_from_crossdata_file_names():
    assert paired.person("ckplus48", "angry/S010_004_00000017.png") == "S010"
    assert paired.person("jaffe", "happy/KA.HA1.29.tiff") == "KA"
    assert paired.person("taiwan_dev", "happy/0111b01.jpg") == "01"
    assert paired.person("wild_dev", "happy/Bill_McBride_0002.jpg") == "Bill_McBride"
    assert paired.person("wild_dev", "sad/Avinash_10.jpg") == "Avinash"
    assert paired.person("other", "sad/x_1.jpg") == "x_1.jpg"


def test_identical_predictions_differ_by_nothing():
    labels = ["happy", "sad", "angry"] * 20
    preds = ["happy", "angry", "angry"] * 20
    r = paired.paired_bootstrap(labels, preds, preds, [str(i % 10) for i in range(60)], resamples=200)
    assert r["accuracy"] == (0.0, 0.0, 0.0) and r["macro_f1"] == (0.0, 0.0, 0.0)
    assert r["people"] == 10 and r["only_base_right"] == r["only_candidate_right"] == 0


def test_interval_resamples_people_not_images():
    # 20 people of 10 images; the candidate fixes all 10 of one person's errors (+1/20 accuracy). Over images that
    # looks like a sure gain; over people, resamples that leave that person out gain nothing.
    labels = np.array(["happy"] * 200)
    base = labels.copy()
    base[:10] = "sad"
    cand = labels.copy()
    people = np.repeat([f"p{i}" for i in range(20)], 10)
    r = paired.paired_bootstrap(labels, base, cand, people, resamples=500)
    assert r["accuracy"][0] == pytest.approx(0.05)
    assert r["accuracy"][1] == pytest.approx(0.0)
    assert r["accuracy"][2] > 0.05
    assert (r["only_base_right"], r["only_candidate_right"]) == (0, 10)
    by_image = paired.paired_bootstrap(labels, base, cand, np.arange(200).astype(str), resamples=500)
    assert by_image["accuracy"][1] > 0.02


def write(path: Path, rows: list[tuple]) -> Path:
    with open(path, "w", newline="") as f:
        csv.writer(f).writerows([("set", "file", "label", "path", "prediction"), *rows])
    return path


def test_cli_reads_the_bar_paths(tmp_path):
    files = [f"happy/S{i:03d}_001_0001.png" for i in range(8)]
    base = write(tmp_path / "base.csv",
                 [("ckplus48", f, "happy", "ferx whole image", "sad" if i < 4 else "happy") for i, f in enumerate(files)]
                 + [("jaffe", f"happy/KA.HA{i}.1.tiff", "happy", "ferx photo (centerface)", "happy") for i in range(3)])
    cand = write(tmp_path / "cand.csv",
                 [("ckplus48", f, "happy", "ferx whole image", "happy") for f in files]
                 + [("jaffe", f"happy/KA.HA{i}.1.tiff", "happy", "ferx photo (centerface)", "no face") for i in range(3)])
    out = subprocess.run([sys.executable, str(SCRIPT), str(base), str(cand), "--resamples", "100"],
                         capture_output=True, text=True, check=True).stdout
    rows = {line.split("|")[1].strip(): line for line in out.splitlines() if line.startswith("| ckplus48") or
            line.startswith("| jaffe")}
    assert "0.500 -> 1.000" in rows["ckplus48"] and "| 8 / 8 |" in rows["ckplus48"]
    assert "1.000 -> 0.000" in rows["jaffe"] and "| 1 / 3 |" in rows["jaffe"]


def test_cli_refuses_mismatched_files(tmp_path):
    base = write(tmp_path / "base.csv", [("jaffe", "happy/KA.HA1.1.tiff", "happy", "ferx photo (centerface)", "happy")])
    cand = write(tmp_path / "cand.csv", [("jaffe", "happy/KA.HA2.1.tiff", "happy", "ferx photo (centerface)", "happy")])
    bad = tmp_path / "bad.csv"
    bad.write_text("a,b\n1,2\n")
    for args in ([base, cand], [base, bad]):
        proc = subprocess.run([sys.executable, str(SCRIPT), *map(str, args)], capture_output=True, text=True)
        assert proc.returncode != 0 and proc.stderr.count("\n") == 1 and "paired_crossdata:" in proc.stderr
