"""Face detectors and face crops."""
