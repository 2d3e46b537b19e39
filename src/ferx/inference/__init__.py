"""Prediction on images and video: views, the recognizer, runtimes, outputs."""
