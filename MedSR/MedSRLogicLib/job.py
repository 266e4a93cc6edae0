"""One run of MedSRLib in child processes: its steps, its progress, its cancellation and its result.

A Job runs its steps (each one `medsr` command) one after the other in a child process, reads the progress lines
each prints, and when the last has finished hands the outputs to the caller's ``finish``, which loads the result into
the scene. It never blocks: ``poll()`` moves it on, and the caller's callbacks run on the caller's thread only.
"""

from __future__ import annotations

import re
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Dict, List, Optional

from .process import ProcessRunner, StderrParser


#: the `medsr` options the panel sets, and the panel's field that sets each: the child's notes and errors name the
#: option, a user of the panel knows the field
PANEL_FIELDS = {
    "--slice-thickness": "Slice thickness (mm)", "--slice-profile": "Slice profile", "--data-consistency": "Data consistency",
    "--device": "Device", "--method": "Method", "--sr": "Super-resolve first", "--spacing": "Target spacing",
    "--scale": "Scale factor", "--steps": "Enhancement steps", "--noise-sigma": "Noise level", "--no-mirror": "Mirror ensemble",
    "--uncertainty": "Uncertainty map", "--probabilities": "Probability maps", "--masked": "Masked volume",
}
_OPTION = re.compile(r"(?<![\w-])(" + "|".join(re.escape(option) for option in PANEL_FIELDS) + r")(?![\w-])")


def inPanelTerms(text: str, inputName: Optional[str] = None) -> str:
    """A line of the child's (a note or an error) as a user of the panel reads it: each option the panel sets named
    by its field's label in quotes ("--slice-thickness" -> '"Slice thickness (mm)"'), and the child's scratch copy of the
    input by the node's name."""
    text = _OPTION.sub(lambda match: f'"{PANEL_FIELDS[match.group(1)]}"', text)
    return text.replace("input.nrrd", repr(inputName)) if inputName else text


class ProcessingError(RuntimeError):
    """A run that could not start or did not finish; the message says why, in the user's terms."""


class ProcessingCancelled(ProcessingError):
    """The run was cancelled; nothing was added to the scene."""


@dataclass
class Result:
    node: object
    seconds: float = 0.0
    metrics: Optional[dict] = None
    notes: List[str] = field(default_factory=list)
    #: the map of inferred detail, when the request asked for one
    uncertaintyNode: object = None
    #: brain mask: the input with everything outside the brain zeroed, when the request asked for it
    maskedNode: object = None
    #: segmentation and brain mask: the volume of each label (and the intracranial volume), in mL
    volumesMl: Dict[str, float] = field(default_factory=dict)
    #: segmentation: each tissue's probability map (a scalar volume node, 0-1), when the request asked for them
    probabilityNodes: Dict[str, object] = field(default_factory=dict)

    def describe(self) -> str:
        text = f"{self.node.GetName()}: {self.seconds:.1f} s"
        if self.metrics:
            whole, foreground = self.metrics["whole"], self.metrics["foreground"]
            text += (f"; PSNR {whole['psnr']:.2f} dB, SSIM {whole['ssim']:.4f}"
                     f" (foreground PSNR {foreground['psnr']:.2f} dB, SSIM {foreground['ssim']:.4f})")
        return text


@dataclass
class Step:
    name: str
    label: str
    arguments: List[str]
    weight: float = 1.0


ProgressCallback = Callable[[float, str], None]


class Job:
    """One run in a child process. ``poll()`` moves it on without blocking; ``wait()`` runs it to the end.

    States: ``running``, ``done`` (``result`` is set), ``failed`` (``error`` says why) and ``cancelled``.
    Callbacks are only ever called from inside ``poll()``, ``cancel()`` or ``wait()``, on the caller's thread.
    """

    RUNNING, DONE, FAILED, CANCELLED = "running", "done", "failed", "cancelled"

    def __init__(self, steps: List[Step], finish: Callable[[Dict[str, str], List[str]], Result], runner: ProcessRunner,
                 command: List[str], env: Dict[str, str], folder: Path,
                 onProgress: Optional[ProgressCallback] = None, onFinished: Optional[Callable[["Job"], None]] = None):
        self._steps, self._finish, self._runner = steps, finish, runner
        self._command, self._env, self.folder = command, env, folder
        self._onProgress, self._onFinished = onProgress, onFinished
        self._total = sum(step.weight for step in steps) or 1.0
        self._index = -1
        self._process = None
        self._parser = StderrParser()
        self._stdout = ""
        self._outputs: Dict[str, str] = {}
        self._notes: List[str] = []
        self._started = time.monotonic()
        self.state = self.RUNNING
        self.result: Optional[Result] = None
        self.error: Optional[str] = None
        #: the input node's name, put in place of the scratch file's name in error messages
        self.inputName: Optional[str] = None
        self.fraction = 0.0
        self.stage = ""

    @property
    def seconds(self) -> float:
        return time.monotonic() - self._started

    def start(self) -> "Job":
        self._guard(self._startStep, 0)
        return self

    def poll(self) -> bool:
        """Read what the process printed, start the next step or load the result; True while running."""
        if self.state == self.RUNNING:
            self._guard(self._advance)
        return self.state == self.RUNNING

    def cancel(self) -> None:
        """Kill the process and remove the temporary folder; the scene stays as it was."""
        if self.state != self.RUNNING:
            return
        self._end(self.CANCELLED, "cancelled")

    def wait(self, timeout: Optional[float] = None, interval: float = 0.02) -> Result:
        """Run to the end; raise ``ProcessingCancelled`` / ``ProcessingError`` unless it succeeded."""
        deadline = None if timeout is None else time.monotonic() + timeout
        while self.poll():
            if deadline is not None and time.monotonic() > deadline:
                self._end(self.FAILED, f"did not finish within {timeout:g} s")
                break
            time.sleep(interval)
        if self.state == self.CANCELLED:
            raise ProcessingCancelled("the run was cancelled; nothing was added to the scene")
        if self.state == self.FAILED:
            raise ProcessingError(self.error)
        return self.result

    # --- inside ------------------------------------------------------------------------------------------
    def _guard(self, function, *args) -> None:
        try:
            function(*args)
        except Exception as error:  # any failure of the run ends it cleanly, with its message
            if self.state != self.RUNNING:
                raise  # the owner's own callback failed after the run had ended: not ours to hide
            self._end(self.FAILED, str(error) or type(error).__name__)

    def _startStep(self, index: int) -> None:
        self._index, self._parser, self._stdout = index, StderrParser(), ""
        step = self._steps[index]
        self._report(0.0, step.label)
        if self.state == self.RUNNING:  # the owner may have cancelled from its progress callback
            self._process = self._runner.start(self._command + step.arguments, self._env, str(self.folder))

    def _advance(self) -> None:
        out, err = self._process.read()
        self._stdout += out
        step = self._steps[self._index]
        for fraction, text in self._parser.feed(err):
            self._report(fraction, f"{step.label}: {text}" if text else step.label)
            if self.state != self.RUNNING:
                return
        returncode = self._process.returncode()
        if returncode is None:
            return
        self._process = None
        self._parser.close()
        if returncode != 0:
            message = inPanelTerms(self._parser.error(returncode), self.inputName)
            raise ProcessingError(f"{step.label} failed: {message}")
        self._outputs[step.name] = self._stdout
        self._notes.extend(inPanelTerms(note, self.inputName) for note in self._parser.notes())
        if self._index + 1 < len(self._steps):
            self._startStep(self._index + 1)
            return
        self._report(1.0, "Loading the result")
        if self.state != self.RUNNING:
            return
        result = self._finish(self._outputs, self._notes)
        result.seconds = self.seconds
        self.result = result
        self._end(self.DONE, None)

    def _report(self, fraction: float, text: str) -> None:
        done = sum(step.weight for step in self._steps[: max(self._index, 0)])
        weight = self._steps[self._index].weight if self._index >= 0 else 0.0
        self.fraction = min(1.0, (done + weight * fraction) / self._total)
        self.stage = text
        if self._onProgress is not None:
            self._onProgress(self.fraction, text)

    def _end(self, state: str, error: Optional[str]) -> None:
        if self._process is not None:
            self._process.kill()
            self._process = None
        shutil.rmtree(self.folder, ignore_errors=True)
        self.state, self.error = state, error
        if self._onFinished is not None:
            self._onFinished(self)
