"""Loading data sets into cached arrays."""
