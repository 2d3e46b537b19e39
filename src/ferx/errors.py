"""The one exception type ferx raises for bad input; the CLI prints it as a one-line error."""


class FerxError(Exception):
    """Bad input or state, with a message naming the file and the problem."""
