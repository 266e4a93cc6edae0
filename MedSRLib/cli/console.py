"""Progress bars for the terminal: a tqdm bar driven by MedSR's Progress callbacks."""

from __future__ import annotations

import contextlib
import sys

from ..progress import Progress


#: prefix of machine-readable progress lines (``medsr --progress lines``), e.g. "medsr-progress 0.4500 bspline"
LINE_PREFIX = "medsr-progress"
#: how progress is shown: "auto" (a bar on a terminal), "lines" (for programs reading a pipe) or "none"
MODE = {"value": "auto"}


@contextlib.contextmanager
def progress_bar(description: str, enabled: bool = True):
    if not enabled or MODE["value"] == "none":
        yield Progress()
        return
    if MODE["value"] == "lines":
        yield Progress(_line_writer())
        return
    from tqdm import tqdm

    # disable=None: a bar on a terminal, nothing when stderr is a pipe or file (logs keep only real messages)
    bar = tqdm(total=1000, desc=description, file=sys.stderr, leave=False, dynamic_ncols=True, disable=None,
               bar_format="{desc}: {percentage:3.0f}%|{bar}| {elapsed} {postfix}")
    state = {"done": 0}

    def update(fraction: float, text: str) -> None:
        target = int(round(fraction * 1000))
        if target > state["done"]:
            bar.update(target - state["done"])
            state["done"] = target
        if text:
            bar.set_postfix_str(text, refresh=True)

    try:
        yield Progress(update)
    finally:
        bar.close()


def _line_writer():
    """``medsr-progress <fraction> <text>`` on stderr per visible change, at most ~20 lines a second."""
    import time

    last = {"fraction": -1.0, "text": None, "time": 0.0}

    def update(fraction: float, text: str) -> None:
        now = time.monotonic()
        if text == last["text"] and fraction < 1.0 and (fraction - last["fraction"] < 0.005 or now - last["time"] < 0.05):
            return
        last.update(fraction=fraction, text=text, time=now)
        print(f"{LINE_PREFIX} {fraction:.4f} {text}".rstrip(), file=sys.stderr, flush=True)

    return update
