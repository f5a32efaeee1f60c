"""The one exception type a user sees as a clear message instead of a traceback."""


class MptError(Exception):
    """A problem with the user's input or environment, reported as one line on stderr.

    The CLI catches it, prints ``error: <message>`` and exits with status 2; library users
    catch it like any exception.
    """
