"""The one exception users see: what went wrong, where, and what to do."""

from __future__ import annotations


class HwgenError(Exception):
    """A problem with the user's input (model, options, environment), reported without a traceback.

    `where` names the model node, layer, file or option; `hint` says what to change.
    """

    def __init__(self, what: str, where: str | None = None, hint: str | None = None):
        self.what, self.where, self.hint = what, where, hint
        text = what if where is None else f"{where}: {what}"
        if hint:
            text += f"\n  hint: {hint}"
        super().__init__(text)


class UnsupportedModelError(HwgenError):
    """The model uses operators or patterns hwgen cannot map to hardware."""


class ToolError(HwgenError):
    """An external tool (g++, vitis_hls, vivado) failed; the message carries the relevant log lines."""


class InternalError(HwgenError):
    """A bug in hwgen: an exception no build step expected (ValueError, KeyError, ...).

    run_build re-raises it as this, from the original (`__cause__`, also `original`), with the
    step, the model node or layer it happened at when known (`where`), and `log`, the file in
    the build folder that holds the traceback. The command line reports it in one message and
    exits with status 3 (a user error: 2).
    """

    def __init__(self, what: str, where: str | None = None, hint: str | None = None, step: str | None = None,
                 log=None, original: BaseException | None = None):
        super().__init__(what, where=where, hint=hint)
        self.step, self.log, self.original = step, log, original


class Interrupted(KeyboardInterrupt):
    """A build stopped by SIGINT (Ctrl-C) or SIGTERM; hwgen.json then says "interrupted".

    A KeyboardInterrupt, so code that catches Exception lets it through. The command line
    exits with status 128 + signal number: 130 for SIGINT, 143 for SIGTERM.
    """

    def __init__(self, signum: int, step: str | None = None):
        import signal

        self.signum, self.step = signum, step
        self.signal_name = signal.Signals(signum).name
        super().__init__(signum)

    def __str__(self) -> str:
        return f"stopped by {self.signal_name}" + (f" during step {self.step!r}" if self.step else "")

    @property
    def exit_status(self) -> int:
        return 128 + self.signum
