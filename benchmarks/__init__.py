"""chainrule against PyTorch (CPU) on the same work: the rows in ``cases``, the measuring in ``suite``.

Run it as ``python benchmarks/run.py`` or ``python -m benchmarks`` (see benchmarks/README.md).
"""
