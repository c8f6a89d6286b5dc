"""The machine a figure was measured on, in one line: a measured figure names its machine."""

from __future__ import annotations

import os
import platform


def machine_line() -> str:
    """The CPU: model, widest vector ISA, logical cores, and the OS (``"AMD EPYC 7B13, AVX2, 2
    cores, Linux"``)."""
    model, flags = platform.processor() or platform.machine(), set()
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            for line in f:
                key, _, value = line.partition(":")
                if key.strip() == "model name" and model in ("", platform.machine(), platform.processor()):
                    model = value.strip()
                elif key.strip() in ("flags", "Features") and not flags:
                    flags = set(value.split())
    except OSError:  # not Linux: the platform's own words
        pass
    isa = next((name for name, flag in (("AVX-512", "avx512f"), ("AVX2", "avx2"), ("NEON", "asimd"))
                if flag in flags), platform.machine())
    return f"{model}, {isa}, {os.cpu_count()} cores, {platform.system()}"
