"""The results folder: evaluation, metrics, plots, the generated README."""
