"""`medsr` for the MedSR module: the same command line, with progress as plain lines on stderr.

`medsr` draws its tqdm bar only on a terminal, and the module reads a pipe. This script (run by path, so
it imports nothing of the module) keeps MedSRLib's command line as it is and swaps only the bar for
``medsr-progress <fraction> <text>`` lines, which ``process.StderrParser`` reads.
"""

import contextlib
import os
import sys
import time

# Python put this script's folder first on sys.path; its file names (logic, nodes, process, ...) must not
# shadow anything MedSRLib imports.
_HERE = os.path.dirname(os.path.abspath(__file__))
sys.path[:] = [entry for entry in sys.path if os.path.abspath(entry or os.curdir) != _HERE]

PREFIX = "medsr-progress"


@contextlib.contextmanager
def progress_lines(description: str, enabled: bool = True):
    from MedSRLib import Progress

    last = {"fraction": -1.0, "text": None, "time": 0.0}

    def update(fraction: float, text: str) -> None:
        now = time.monotonic()
        # a line per visible change, at most ~20 a second, so a chatty step cannot flood the pipe
        if text == last["text"] and fraction < 1.0 and (fraction - last["fraction"] < 0.005 or now - last["time"] < 0.05):
            return
        last.update(fraction=fraction, text=text, time=now)
        print(f"{PREFIX} {fraction:.4f} {text}".rstrip(), file=sys.stderr, flush=True)

    yield Progress(update)


def main(argv):
    from MedSRLib.cli import console
    from MedSRLib.cli.main import main as medsr

    console.progress_bar = progress_lines
    return medsr(argv)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
