"""Which model each entry point uses by default (no imports: the command line reads these
without loading PyTorch).

``spectral-2stem-ensemble`` separates by default: the spectral family beat the paper's
``proposed-2stem`` on the validation clips, and this pair of its networks (spectral-2stem's
dense one and a band-convolution one, masks averaged) beat ``spectral-2stem`` there clip by
clip, within the family's bounds of size and speed (docs/models.md, "Which model is the
default"); ``spectral-2stem`` (faster) and the paper's models stay, by name. Streaming defaults to the spectral family's causal model, ``spectral-2stem-live``:
46 ms of latency at 44.1 kHz against the paper's streaming model's 149 ms, and better on
the validation clips (docs/models.md); ``proposed-2stem-lowlatency``
stays, by name.
"""

SEPARATE_MODEL = "spectral-2stem-ensemble"
"""``lightsep separate``, ``lightsep.Separator()`` and the demo."""

STREAM_MODEL = "spectral-2stem-live"
"""``lightsep stream`` and ``StreamingSeparator.realtime()``."""

STREAM_MODELS_BY_LATENCY = {"46": "spectral-2stem-live", "20": "spectral-2stem-live-20ms"}
"""``lightsep stream --latency MS``: the live model for each latency class (the most each
states at 44.1 and 48 kHz, in milliseconds)."""

WEB_MODELS = ("spectral-2stem-ensemble", "spectral-2stem", "spectral-4stem", "spectral-2stem-live", "spectral-2stem-live-20ms",
              "proposed-2stem", "proposed-4stem")  # fmt: skip
"""The models the page offers, the first selected (the live models also run its live mode,
the first of them selected there)."""
