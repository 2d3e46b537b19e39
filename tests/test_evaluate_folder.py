"""`ferx evaluate --data DIR` on any labelled folder: the results folder, the class set, misses counted wrong."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from ferx.cli import main


@pytest.fixture
def labelled(fer_root: Path, tmp_path: Path) -> Path:
    """Real test faces under alias folder names; no disgust/fear/neutral/sad; one class ferx does not know."""
    root = tmp_path / "faces"
    for folder, source in (("happiness", "happy"), ("Anger", "angry"), ("surprised", "surprise"), ("contempt", "neutral")):
        (root / folder).mkdir(parents=True)
        for f in sorted((fer_root / "test" / source).iterdir())[:6]:
            Image.open(f).resize((96, 96)).save(root / folder / f"{f.stem}.png")
    return root


def test_evaluate_folder_writes_results_for_the_classes_present(labelled: Path, tmp_path: Path, capsys):
    out = tmp_path / "eval"
    assert main(["evaluate", "--data", str(labelled), "--out", str(out), "--tta", "none"]) == 0
    for name in ("metrics.json", "README.md", "classification_report.txt", "confusion_matrix.png",
                 "confusion_matrix_norm.png", "roc_curves.png"):
        assert (out / name).stat().st_size > 0, name
    m = json.loads((out / "metrics.json").read_text())
    head = m[m["default"]]
    assert head["classes_present"] == ["angry", "happy", "surprise"] and head["n_images"] == 18 and head["missed"] == 0
    assert m["skipped_classes"] == {"contempt": 6}
    assert set(head["per_class"]) == {"angry", "happy", "surprise"}  # absent classes stay out of the macro average
    cm = np.array(head["confusion_matrix"])
    assert cm.sum() == 18 and cm[[0, 3, 6]].sum() == 18  # rows: angry (0), happy (3) and surprise (6) only
    assert "angry, happy, surprise" in (out / "README.md").read_text()


def test_evaluate_folder_counts_misses_wrong(labelled: Path, tmp_path: Path):
    out = tmp_path / "eval"
    # Haar looks for faces of 48 px and more at half scale: on these 96-px tight crops it finds few or none
    assert main(["evaluate", "--data", str(labelled), "--out", str(out), "--tta", "none", "--detect", "haar"]) == 0
    m = json.loads((out / "metrics.json").read_text())
    head = m["none"]
    assert m["detector"] == "haar" and head["missed"] > 0
    cm = np.array(head["confusion_matrix"])
    assert cm[:, -1].sum() == head["missed"]  # the "no face" column
    assert head["accuracy"] <= (head["n_images"] - head["missed"]) / head["n_images"]


def test_evaluate_rejects_unknown_detector(labelled: Path, tmp_path: Path, capsys):
    assert main(["evaluate", "--data", str(labelled), "--out", str(tmp_path / "e"), "--detect", "retinaface"]) == 2
    assert "unknown detector 'retinaface'" in capsys.readouterr().err
