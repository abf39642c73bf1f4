"""Which model each entry point uses by default (no imports: the command line reads these
without loading PyTorch).

Streaming uses the paper's 149 ms model until a streaming model of the spectral family is
trained (``spectral-2stem-live``).
"""

SEPARATE_MODEL = "proposed-2stem"
"""``lightsep separate``, ``lightsep.Separator()`` and the demo."""

STREAM_MODEL = "proposed-2stem-lowlatency"
"""``lightsep stream`` and ``StreamingSeparator.realtime()``."""

WEB_MODELS = ("proposed-2stem", "proposed-4stem")
"""The models the page offers, the first selected."""
