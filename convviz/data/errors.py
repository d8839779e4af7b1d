"""The one exception type of ``convviz.data``: a problem with data that the user can fix."""


class DataError(Exception):
    """Bad, missing or unreachable data; the message says what is wrong and what to do.

    The CLI prints it as a one-line error and the app shows it in a dialog, never as a traceback.
    """


class ChecksumError(DataError):
    """A file's checksum is not the one expected: it is not (or no longer) the file we asked for."""


class UnsafePickleError(DataError):
    """A pickle asked for something a CIFAR-10 batch never contains; nothing in it was run."""
