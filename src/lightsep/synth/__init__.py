"""The procedural multitrack corpus: composing, rendering with FluidSynth, writing."""

from .composer import Composer, Song
from .corpus import CorpusReport, make_corpus

__all__ = ["Composer", "Song", "CorpusReport", "make_corpus"]
