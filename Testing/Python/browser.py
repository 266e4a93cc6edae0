"""A real headless browser for the tests: Debian's chromium driven over the Chrome DevTools Protocol (CDP).

Only what the review tests need: open a page, wait until a JavaScript condition holds, press keys, take a
screenshot. The websocket client is aiohttp's (trame depends on it).
"""

from __future__ import annotations

import asyncio
import base64
import io
import json
import shutil
import subprocess
import time
from pathlib import Path

import numpy as np
import pytest

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
FLAGS = ["--headless=new", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking",
         "--disable-component-update", "--disable-sync"]


def chromium() -> str:
    if CHROMIUM is None:
        pytest.fail("chromium is not installed; the test set-up (.ci/run) installs Debian's chromium")
    return CHROMIUM


def as_pixels(png: bytes) -> np.ndarray:
    from PIL import Image

    return np.asarray(Image.open(io.BytesIO(png)).convert("RGB")).astype(int)


class Browser:
    """``with Browser(profile) as browser: browser.open(url); browser.wait_for(js); browser.screenshot()``."""

    def __init__(self, profile: Path, size=(1400, 1000)):
        self.profile, self.size = Path(profile), size
        self.loop = asyncio.new_event_loop()
        self.process = None
        self.session = self.socket = None
        self.counter = 0

    def __enter__(self) -> "Browser":
        self.profile.mkdir(parents=True, exist_ok=True)
        self.process = subprocess.Popen([chromium(), *FLAGS, "--remote-debugging-port=0", f"--user-data-dir={self.profile}",
                                         f"--window-size={self.size[0]},{self.size[1]}", "about:blank"],
                                        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        active = self.profile / "DevToolsActivePort"
        deadline = time.time() + 60
        while not (active.exists() and len(active.read_text().split()) >= 2):
            if time.time() > deadline or self.process.poll() is not None:
                raise RuntimeError(f"chromium did not start: {self.process.stderr.read1(4000) if self.process.stderr else ''}")
            time.sleep(0.1)
        port = int(active.read_text().split()[0])
        self.loop.run_until_complete(self._connect(port))
        return self

    async def _connect(self, port: int) -> None:
        import aiohttp

        self.session = aiohttp.ClientSession()
        async with self.session.get(f"http://127.0.0.1:{port}/json") as response:
            targets = await response.json(content_type=None)
        page = next(t for t in targets if t.get("type") == "page")
        self.socket = await self.session.ws_connect(page["webSocketDebuggerUrl"], max_msg_size=0)

    def __exit__(self, *exc) -> None:
        async def close():
            if self.socket is not None:
                await self.socket.close()
            if self.session is not None:
                await self.session.close()

        self.loop.run_until_complete(close())
        self.loop.close()
        if self.process is not None:
            self.process.kill()
            self.process.wait(timeout=30)

    def call(self, method: str, **params):
        return self.loop.run_until_complete(self._call(method, params))

    async def _call(self, method: str, params: dict):
        self.counter += 1
        number = self.counter
        await self.socket.send_str(json.dumps({"id": number, "method": method, "params": params}))
        while True:
            message = json.loads((await self.socket.receive(timeout=120)).data)
            if message.get("id") == number:
                if "error" in message:
                    raise RuntimeError(f"{method}: {message['error']}")
                return message.get("result", {})

    def open(self, url: str) -> None:
        self.call("Page.enable")
        self.call("Page.navigate", url=url)

    def evaluate(self, expression: str):
        result = self.call("Runtime.evaluate", expression=expression, returnByValue=True)
        return result.get("result", {}).get("value")

    def wait_for(self, expression: str, timeout: float = 60.0):
        deadline = time.time() + timeout
        while time.time() < deadline:
            value = self.evaluate(expression)
            if value:
                return value
            time.sleep(0.2)
        raise AssertionError(f"the page never satisfied: {expression}")

    def press(self, key: str, code: str, key_code: int, times: int = 1) -> None:
        for _ in range(times):
            for kind in ("keyDown", "keyUp"):
                self.call("Input.dispatchKeyEvent", type=kind, key=key, code=code, windowsVirtualKeyCode=key_code)

    def screenshot(self) -> np.ndarray:
        return as_pixels(base64.b64decode(self.call("Page.captureScreenshot", format="png")["data"]))
