"""Progress bars for the terminal: a tqdm bar driven by MedSR's Progress callbacks."""

from __future__ import annotations

import contextlib
import sys

from ..progress import Progress


@contextlib.contextmanager
def progress_bar(description: str, enabled: bool = True):
    if not enabled:
        yield Progress()
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
