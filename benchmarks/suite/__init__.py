"""How the benchmark rows are measured and reported, one purpose per module.

- ``machine``: what the machine and the libraries are (CPU, caches, BLAS, thread pools, versions, git), and
  the thread settings both worker processes start with.
- ``workers``: the worker process of each framework (a JSON request loop) and the parent's handle on it.
- ``timing``: interleaved timed rounds, quiet-moment detection (other processes' load), medians.
- ``memory``: the peak resident memory of the LeNet epoch, one fresh process per framework.
- ``profiling``: cProfile of the chainrule side of rows.
- ``scaling``: the scaling table's groups (points of the same work at growing sizes), their drift, the notes.
- ``report``: results.md (Markdown) and results.json.
- ``smoke``: every row once on tiny sizes, checked against PyTorch.
- ``orchestrator``: one timed run, start to end; ``cli``: the options and the entry point.

Nothing here imports NumPy, chainrule or torch at import time: each worker imports only its own framework,
after its thread settings are in place.
"""
