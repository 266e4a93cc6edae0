"""`medsr view VOLUME [--labels L] [--compare C] [--host H] [--port N]`: an interactive review page in the browser."""

from __future__ import annotations

import argparse
import os
import signal
import sys
from pathlib import Path

from ..errors import MedSRError


def add_parser(sub) -> None:
    p = sub.add_parser("view", help="an interactive review page in the browser (trame): slices in world orientation, "
                                    "the label map over them, a second volume beside them; serves until Ctrl-C")
    p.add_argument("volume", help="the volume to review")
    p.add_argument("--labels", help="a label map on the volume's grid, drawn over it (colours and names from its .ctbl)")
    p.add_argument("--compare", help="a second volume on the same grid, cut at the same slices (e.g. the input of a "
                                     "super-resolution beside its result)")
    p.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1: this machine only; "
                                                       "reach a server through an SSH tunnel rather than opening it)")
    p.add_argument("--port", type=int, default=0, help="port to listen on (default: a free one)")


def cmd_view(args: argparse.Namespace) -> int:
    try:
        from ..review.web import build_server, reserve_port, serve
    except ImportError as error:  # trame or vtk missing
        raise MedSRError(f"medsr view needs trame and vtk ({error}); install them with pip install 'MedSRLib[view]'")
    from ..review.report import load_case
    from ..review.slices import SliceSource

    if not 0 <= args.port <= 65535:
        raise MedSRError(f"--port {args.port} is not a port number (0-65535)")
    for given in (args.volume, args.labels, args.compare):
        if given and not Path(given).exists():
            raise MedSRError(f"{given} does not exist")
    try:
        port = reserve_port(args.host, args.port)
    except OSError as error:
        raise MedSRError(f"cannot listen on {args.host}:{args.port or 'a free port'}: {error.strerror or error}") from None
    case = load_case(args.volume, args.labels, args.compare)
    source = SliceSource.from_case(case)
    server = build_server(source, f"MedSR view: {case.name}")

    def announce(url: str) -> None:
        print(url, flush=True)
        print(f"serving {case.name}" + (f" with {Path(args.labels).name}" if args.labels else "")
              + (f" beside {Path(args.compare).name}" if args.compare else "") + "; Ctrl-C to stop", file=sys.stderr,
              flush=True)

    previous = signal.getsignal(signal.SIGTERM)
    signal.signal(signal.SIGTERM, _interrupt)  # SIGTERM stops the server as Ctrl-C does
    try:
        serve(server, args.host, port, announce)
    except KeyboardInterrupt:
        pass
    finally:
        signal.signal(signal.SIGTERM, previous)
    print("medsr view: stopped", file=sys.stderr)
    return 0


#: seconds after SIGTERM within which the server must have stopped, else the process ends anyway
STOP_GRACE_S = 5.0


def _interrupt(signum, frame):
    """SIGTERM: stop as Ctrl-C does; and should the KeyboardInterrupt be swallowed on its way out of the server's
    event loop (seen once in CI, on a loaded machine: the process still served 60 s later), end the process after
    STOP_GRACE_S all the same, so that a service manager's SIGTERM always stops it."""
    import threading

    def stop_anyway():
        print("medsr view: stopped", file=sys.stderr, flush=True)
        os._exit(0)

    timer = threading.Timer(STOP_GRACE_S, stop_anyway)
    timer.daemon = True  # a normal stop ends the process before it fires
    timer.start()
    raise KeyboardInterrupt

