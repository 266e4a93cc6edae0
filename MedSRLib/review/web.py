"""`medsr view`: an interactive review page served by trame (Kitware's Python web framework, Vuetify widgets).

The page shows the axial, coronal and sagittal slices through one point in world orientation, the label map over
them in the colours of its colour table (a legend gives each label's volume in mL), slice sliders, a window range
and the overlay's opacity; a compared volume is shown in a second row cut at the same slices. Each picture is made
on the server by :mod:`.slices` (VTK imaging, no OpenGL) and sent to the page over trame's websocket, so the page
needs no WebGL and the volumes themselves are never served: trame's HTTP server serves only its own client files,
every other path gets 404.
"""

from __future__ import annotations

import base64
import html
import os
import sys
from typing import Callable

from .mosaic import VIEWS
from .slices import SliceSource

#: RAS axis letter of each view's slice position
POSITION_AXIS = {"axial": "S", "coronal": "A", "sagittal": "R"}


def build_server(source: SliceSource, title: str):
    """A trame server whose page reviews ``source``; start it with :func:`serve`."""
    from trame.app import get_server
    from trame.ui.vuetify3 import SinglePageLayout
    from trame.widgets import html as h
    from trame.widgets import vuetify3 as v

    server = get_server(f"medsr-view-{id(source)}", client_type="vue3")
    state = server.state
    compared = source.compare is not None
    for view in VIEWS:
        state[view] = source.middle(view)
    low, high = source.range
    state.window = [source.window[0], source.window[1]]
    state.opacity = 0.45

    def draw(view: str) -> None:
        window, opacity, index = tuple(float(v) for v in state.window), float(state.opacity), int(state[view])
        state[f"{view}_picture"] = _data_uri(source.picture(view, index, window, opacity))
        state[f"{view}_where"] = f"{POSITION_AXIS[view]} {source.position_mm(view, index) + 0.0:+.1f} mm"
        if compared:
            state[f"{view}_compared"] = _data_uri(source.picture(view, index, window, opacity, True))

    for view in VIEWS:  # a slice slider redraws its own view; the window and the opacity redraw all three
        state.change(view)(lambda _view=view, **_: draw(_view))
    state.change("window", "opacity")(lambda **_: [draw(view) for view in VIEWS])
    for view in VIEWS:
        draw(view)

    with SinglePageLayout(server) as layout:
        layout.title.set_text(title)
        with layout.content:
            with v.VContainer(fluid=True):
                with v.VRow(dense=True):
                    for view in VIEWS:
                        with v.VCol(cols=4):
                            v.VSlider(v_model=(view,), min=0, max=source.count(view) - 1, step=1, label=view,
                                      hide_details=True, density="compact", classes=f"medsr-slider-{view}")
                            h.Div("{{ %s_where }}" % view, classes="text-caption")
                with v.VRow(dense=True):
                    with v.VCol(cols=6):
                        v.VRangeSlider(v_model=("window",), min=low, max=high, step=max((high - low) / 500.0, 1e-6),
                                       label="window", hide_details=True, density="compact")
                    if source.labels is not None:
                        with v.VCol(cols=6):
                            v.VSlider(v_model=("opacity",), min=0, max=1, step=0.05, label="overlay opacity",
                                      hide_details=True, density="compact")
                rows = [("", "picture")] + ([("compared volume", "compared")] if compared else [])
                for caption, key in rows:
                    if caption:
                        h.Div(caption, classes="text-subtitle-2 mt-2")
                    with v.VRow(dense=True, style="background: black"):
                        for view in VIEWS:
                            with v.VCol(cols=4):
                                h.Img(src=(f"{view}_{key}",), alt=f"{view} {caption}".strip(), id=f"{view}-{key}",
                                      style="width: 100%; image-rendering: pixelated; display: block")
                h.Div(html.escape("Slices in world orientation: the patient's right on the left; axial anterior up, "
                                  "coronal and sagittal superior up."), classes="text-caption mt-1")
                if source.case.volumes_ml:
                    _legend(h, source)
    return server


def _legend(h, source: SliceSource) -> None:
    swatch = {source.case.names.get(k, ""): rgb for k, rgb in source.case.colours.items()}
    with h.Table(classes="medsr-legend mt-2", style="border-collapse: collapse"):
        with h.Tr():
            h.Th("label", style="text-align: left; padding: 2px 8px")
            h.Th("volume (mL)", style="text-align: right; padding: 2px 8px")
        for name, ml in source.case.volumes_ml.items():
            rgb = swatch.get(name)
            with h.Tr():
                with h.Td(style="padding: 2px 8px"):
                    if rgb is not None:
                        h.Span(style=f"display: inline-block; width: 0.9em; height: 0.9em; margin-right: 0.4em; "
                                     f"background: rgb({rgb[0]}, {rgb[1]}, {rgb[2]})")
                    h.Span(html.escape(name))
                h.Td(f"{ml:.1f}", style="text-align: right; padding: 2px 8px")


def serve(server, host: str, port: int, on_ready: Callable[[str], None]) -> None:
    """Serve until interrupted (Ctrl-C or SIGTERM stop aiohttp's loop, then this returns)."""
    argv, sys.argv = sys.argv, sys.argv[:1]  # trame reads its own options from sys.argv: give it none of medsr's
    os.environ["WSLINK_READY_MSG"] = ""  # wslink would write a line of its own to stdout, where the URL goes
    try:
        url = f"http://{_url_host(host)}:{port}/"
        server.controller.on_server_ready.add(lambda **_: on_ready(url))
        # thread=True leaves SIGINT and SIGTERM to Python's handlers (KeyboardInterrupt), which the caller catches
        server.start(host=host, port=port, open_browser=False, show_connection_info=False, disable_logging=True,
                     timeout=0, thread=True)
    finally:
        sys.argv = argv


def _url_host(host: str) -> str:
    if host in ("0.0.0.0", ""):
        return "127.0.0.1"
    return f"[{host}]" if ":" in host else host


def _data_uri(png: bytes) -> str:
    return "data:image/png;base64," + base64.b64encode(png).decode("ascii")


def reserve_port(host: str, port: int) -> int:
    """``port`` (0: a free one) if it can be bound on ``host``; OSError saying why not."""
    import socket

    with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind((host, port))
        return probe.getsockname()[1]
