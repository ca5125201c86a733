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
