"""User-facing errors: one line that names the file or field at fault and what to do about it."""


class DistillxError(Exception):
    """An error caused by the user's input (config, data file, model path), not by a bug.

    The CLI prints its message as a single line and exits with status 2, without a traceback.
    """
