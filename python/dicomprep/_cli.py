"""The ``dicomprep`` command of the wheel: the same CLI, run in this process."""

import signal
import sys

from . import _native


def main() -> None:
    """Runs ``dicomprep`` with this process's arguments and exits with its code."""
    # Ctrl-C stops the command at once, as it does the native binary.
    signal.signal(signal.SIGINT, signal.SIG_DFL)
    sys.exit(_native.main(["dicomprep", *sys.argv[1:]]))


if __name__ == "__main__":
    main()
