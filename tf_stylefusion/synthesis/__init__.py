"""Example-based stylization: a photo repainted from a painting's own patches, no network."""

from ..config import SynthesisConfig
from .synthesize import synthesize

__all__ = ["SynthesisConfig", "synthesize"]
