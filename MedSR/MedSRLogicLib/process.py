"""Running the `medsr` command line in a child process: never blocks the caller, reports progress, can be killed.

The logic owns *when* output is read (``RunningProcess.read`` never blocks), so a GUI polls from its own
thread with a timer and a script simply loops; no callback ever arrives on a foreign thread.
"""

from __future__ import annotations

import codecs
import os
import queue
import re
import signal
import subprocess
import sys
import threading
from typing import List, Mapping, Optional, Protocol, Sequence, Tuple


class RunningProcess(Protocol):
    def read(self) -> Tuple[str, str]:
        """(stdout, stderr) text that arrived since the last call; never blocks."""

    def returncode(self) -> Optional[int]:
        """None while running or while output is still unread, else the exit status."""

    def kill(self) -> None:
        """Stop the process (and what it started) now."""


class ProcessRunner(Protocol):
    def start(self, command: Sequence[str], env: Mapping[str, str], cwd: str) -> RunningProcess:
        ...


class SubprocessRunner:
    """The default runner: ``subprocess.Popen`` plus one reader thread per pipe."""

    def start(self, command: Sequence[str], env: Mapping[str, str], cwd: str) -> "_Subprocess":
        return _Subprocess(list(command), dict(env), cwd)


class _Subprocess:
    def __init__(self, command: List[str], env: dict, cwd: str):
        options = {"start_new_session": True} if os.name == "posix" else {"creationflags": subprocess.CREATE_NEW_PROCESS_GROUP}
        self._process = subprocess.Popen(command, env=env, cwd=cwd, stdin=subprocess.DEVNULL,
                                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, **options)
        self._chunks: "queue.Queue[Tuple[int, bytes]]" = queue.Queue()
        self._decoders = [codecs.getincrementaldecoder("utf-8")("replace") for _ in range(2)]
        self._readers = [threading.Thread(target=self._pump, args=(index, pipe), daemon=True)
                         for index, pipe in enumerate((self._process.stdout, self._process.stderr))]
        for reader in self._readers:
            reader.start()

    def _pump(self, index: int, pipe) -> None:
        # os.read returns whatever is there, so tqdm's carriage-return updates arrive as they are written
        fd = pipe.fileno()
        while True:
            try:
                data = os.read(fd, 65536)
            except OSError:
                break
            if not data:
                break
            self._chunks.put((index, data))
        pipe.close()

    def read(self) -> Tuple[str, str]:
        text = ["", ""]
        while True:
            try:
                index, data = self._chunks.get_nowait()
            except queue.Empty:
                return text[0], text[1]
            text[index] += self._decoders[index].decode(data)

    def returncode(self) -> Optional[int]:
        if any(reader.is_alive() for reader in self._readers) or not self._chunks.empty():
            return None
        return self._process.poll()

    def kill(self) -> None:
        if self._process.poll() is None:
            try:
                if os.name == "posix":
                    os.killpg(self._process.pid, signal.SIGKILL)
                else:
                    self._process.kill()
            except (ProcessLookupError, PermissionError):
                pass
        self._process.wait()
        for reader in self._readers:
            reader.join(timeout=5)


# --- reading what `medsr` prints on stderr --------------------------------------------------------------

#: written by `medsr --progress lines`: "medsr-progress 0.4500 bspline interpolation"
_PROGRESS = re.compile(r"^medsr-progress (?P<fraction>[0-9.]+)(?: (?P<text>.*))?$")
_ERROR = re.compile(r"^medsr(?: \S+)?: error: (?P<message>.+)$")
#: the child's command line before its subcommand: MedSRLib's `medsr`, reporting progress as lines on stderr
MEDSR_ARGUMENTS = ["-m", "MedSRLib", "--progress", "lines"]


class StderrParser:
    """Splits the child's stderr into progress updates and message lines, across arbitrary chunk boundaries."""

    def __init__(self):
        self._pending = ""
        self.lines: List[str] = []

    def feed(self, text: str) -> List[Tuple[float, str]]:
        """Progress updates (fraction, text) found in ``text``; other non-empty lines are kept in ``lines``."""
        updates = []
        segments = re.split(r"[\r\n]", self._pending + text)
        self._pending = segments.pop()
        for segment in segments:
            update = parse_progress(segment)
            if update is not None:
                updates.append(update)
            elif segment.strip():
                self.lines.append(segment.strip())
        return updates

    def close(self) -> None:
        self.feed("\n")

    def notes(self) -> List[str]:
        return [line[len("note: "):] for line in self.lines if line.startswith("note: ")]

    def error(self, returncode: int) -> str:
        """The one-line reason a run failed, as `medsr` (or Python) worded it."""
        for line in self.lines:
            match = _ERROR.match(line)
            if match:
                return match.group("message")
        if any(line.startswith("Traceback") for line in self.lines):
            return self.lines[-1]
        if self.lines:
            return self.lines[-1]
        return f"exited with status {returncode}"


def parse_progress(segment: str) -> Optional[Tuple[float, str]]:
    match = _PROGRESS.match(segment.strip())
    if match is None:
        return None
    return min(max(float(match.group("fraction")), 0.0), 1.0), (match.group("text") or "").strip()


def python_command() -> List[str]:
    """The interpreter that runs MedSRLib: Slicer's PythonSlicer inside Slicer, else this Python."""
    import shutil

    slicer_python = shutil.which("PythonSlicer")
    return [slicer_python or sys.executable]
