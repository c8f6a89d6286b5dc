"""What an export does with the generator's settings unless told otherwise: one definition for
``stylefusion export`` and the Python export functions alike."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..config import GeneratorSettings

if TYPE_CHECKING:
    from ..models.generator import StyleFusionGenerator

# Exports leave the brushwork tiles and the abstraction under them out unless asked
# (``--texture``, ``--abstraction``): the pack's tiles are constants that make its int8 TFLite file
# 967 KB instead of 215 KB for 7 styles (the int8 budget is 0.25 MB for 16), and the abstraction
# costs an int8 file about half again its time at 1024² (docs/export.md). The SavedModel follows
# the same default, so a served picture matches the phone's.
EXPORT_SETTINGS = GeneratorSettings(texture=0.0, abstraction=0.0)


def export_generator(generator: "StyleFusionGenerator",
                     settings: GeneratorSettings | None = None) -> "StyleFusionGenerator":
    """The generator an export writes: ``settings`` where set, else ``EXPORT_SETTINGS``, else the
    model's own (a copy when any differs; ``generator`` itself is left as it is)."""
    return generator.with_settings((settings or GeneratorSettings()).over(EXPORT_SETTINGS))
