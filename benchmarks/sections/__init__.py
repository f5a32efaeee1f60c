"""The sections of benchmarks/speed.py, one module each, in the order they run.

A section has ``NAME`` (its ``--only`` value) and either ``VARIANTS`` (variant name -> ``make(backbone,
args)``, which returns ``(items, run)``: the runner times ``run`` in a process of its own, so that its
peak memory is its own; ``ENVIRONMENT``, variant name -> variables, sets that process's environment, such
as ``MPT_PRECISION``) or ``table(args)`` and ``report(table)`` (figures that are not one throughput,
measured in the runner's process). ``CPU_ONLY`` sections are skipped on a GPU.
"""

from . import adapters, alignment, evaluation, int8, precision, scaling, sizes, training, translation

SECTIONS = {
    section.NAME: section for section in (evaluation, training, alignment, adapters, int8, precision, translation, scaling, sizes)
}
