"""The one exception type ferx raises for bad input; the CLI prints it as a one-line error."""


class FerxError(Exception):
    """Bad input or state, with a message naming the file and the problem."""


class ImageTooLarge(FerxError):
    """An image whose header declares more pixels than allowed: refused before any pixel is decoded."""
