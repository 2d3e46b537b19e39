"""CPU features that change what ferx advises: bf16 autocast is slow on x86 CPUs without AVX-512."""
from __future__ import annotations

import logging

import torch

from ferx import devices


def test_bf16_on_an_x86_cpu_without_avx512_warns(monkeypatch, caplog) -> None:
    caplog.set_level(logging.WARNING, "ferx")
    monkeypatch.setattr(devices.platform, "machine", lambda: "x86_64")
    monkeypatch.setattr(devices, "cpu_flags", lambda: frozenset({"avx2", "fma"}))  # the AMD EPYC of 2026-12-07
    devices.warn_slow_bf16(True, torch.device("cpu"))
    assert "--bf16 on a CPU without AVX-512" in caplog.text
    caplog.clear()
    for bf16, device, flags in ((False, "cpu", {"avx2"}), (True, "cuda", {"avx2"}), (True, "cpu", {"avx2", "avx512bw"}),
                                (True, "cpu", None)):  # None: no /proc/cpuinfo, nothing known
        monkeypatch.setattr(devices, "cpu_flags", lambda: None if flags is None else frozenset(flags))
        devices.warn_slow_bf16(bf16, torch.device(device))
    assert not caplog.text

