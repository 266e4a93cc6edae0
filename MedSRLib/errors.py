"""The one error type that the command line turns into a single line on stderr."""


class MedSRError(ValueError):
    """Bad input or an impossible request, worded for the person who gave it."""


class Cancelled(RuntimeError):
    """Raised inside a long run when the caller's cancel hook asked it to stop."""
