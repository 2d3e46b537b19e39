"""Which test-time views help? Validation accuracy and macro F1 of averaged logits over several view sets.

Usage: python scripts/tta_views.py [--weights results/best_model.pt] [--data ../shared/fer2013]
Views (ferx.inference.views): the face, its mirror, both shifted by 2 pixels in four directions (edges replicated, the
four averaged as one view), both centre-cropped to 44 pixels and resized back. Only the validation split is
read: this makes a choice.
"""
from __future__ import annotations

import argparse

from sklearn.metrics import f1_score

from ferx.data.fer2013 import load_dataset
from ferx.inference.views import predict_views
from ferx.weights import load_weights

# Rows of ferx.inference.views.view_stack: face, mirror, shifted face, shifted mirror, zoomed face, zoomed mirror.
SETS = {
    "face only": [0],
    "face + mirror": [0, 1],
    "face + mirror + shifts": [0, 1, 2, 3],
    "face + mirror + zoom": [0, 1, 4, 5],
    "all six (default)": [0, 1, 2, 3, 4, 5],
}


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--weights", default="results/best_model.pt")
    p.add_argument("--data", default="../shared/fer2013")
    args = p.parse_args()
    val = load_dataset(args.data, 0.1, 0)["val"]
    stack = predict_views(load_weights(args.weights), val.images, "views")
    print(f"validation split, {len(val)} images")
    for name, rows in SETS.items():
        pred = stack[rows].mean(0).argmax(1).numpy()
        acc = (pred == val.labels).mean()
        print(f"{name:26s} acc {acc:.4f}  macro F1 {f1_score(val.labels, pred, average='macro'):.4f}")


if __name__ == "__main__":
    main()
