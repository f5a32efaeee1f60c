"""bf16 against float32 on the CPU: mpt's evaluation, and an epoch of ``mpt translate``'s default method (the
translator with a language adapter), each in both arithmetics (``MPT_PRECISION`` ``no`` and ``bf16``).

CPUs with native bf16 matrix units (Intel AMX, from the 4th Xeon generation) run bf16 products several
times faster than float32 ones; CPUs without them emulate bf16, slower than float32. On a GPU ``auto``
is bf16 already, so the section runs on the CPU only.
"""

from __future__ import annotations

from .alignment import adapter_epoch
from .evaluation import eval_mpt

NAME = "precision"
CPU_ONLY = True
PRECISIONS = {"float32": "no", "bf16": "bf16"}  # a variant's arithmetic -> its MPT_PRECISION
WORKLOADS = {"eval": eval_mpt, "adapter-epoch": adapter_epoch}
VARIANTS, ENVIRONMENT = {}, {}
for _arithmetic, _value in PRECISIONS.items():
    for _workload, _make in WORKLOADS.items():
        VARIANTS[f"cpu-{_arithmetic}-{_workload}"] = _make
        ENVIRONMENT[f"cpu-{_arithmetic}-{_workload}"] = {"MPT_PRECISION": _value}
