"""Which model each entry point uses by default (no imports: the command line reads these
without loading PyTorch).

``spectral-2stem`` separates by default because it beat the paper's ``proposed-2stem`` on the
validation clips (docs/pretrained.md, "Which model is the default"); the paper's models stay,
by name. Streaming keeps the paper's 149 ms model until the spectral family's causal
streaming model (``spectral-2stem-live``) is trained.
"""

SEPARATE_MODEL = "spectral-2stem"
"""``lightsep separate``, ``lightsep.Separator()`` and the demo."""

STREAM_MODEL = "proposed-2stem-lowlatency"
"""``lightsep stream`` and ``StreamingSeparator.realtime()``."""

WEB_MODELS = ("spectral-2stem", "spectral-4stem", "proposed-2stem", "proposed-4stem")
"""The models the page offers, the first selected."""
