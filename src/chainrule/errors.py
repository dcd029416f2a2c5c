"""chainrule's own error types: every refusal the library makes is one of these.

Each also subclasses the built-in exception a Python or PyTorch user would expect (``ShapeError`` is a
``ValueError``, ``IndexRangeError`` an ``IndexError``, ...), so ``except ValueError`` and ``except IndexError``
keep working, while ``except cr.ChainruleError`` catches every deliberate refusal and nothing else.
See docs/errors.md for what each means, with examples of messages.
"""


class ChainruleError(Exception):
    """Base class of every error chainrule raises on purpose."""


class ShapeError(ChainruleError, ValueError):
    """An argument has the wrong shape, or two shapes do not broadcast."""


class DTypeError(ChainruleError, TypeError):
    """An argument has the wrong dtype, or two dtypes may not be mixed, or is not a tensor at all."""


class ArgumentError(ChainruleError, ValueError):
    """A non-tensor argument has a value outside what the op allows: a stride of 0, a negative padding, a
    probability outside [0, 1], an unknown mode or reduction."""


class ArgumentTypeError(ChainruleError, TypeError):
    """A non-tensor argument has the wrong Python type: a string, None or a float where an int, a pair of ints
    or a bool is expected."""


class IndexRangeError(ChainruleError, IndexError):
    """A dim or an index is out of range for the tensor it addresses (PyTorch raises ``IndexError`` too)."""


class IndexValueError(IndexRangeError, ValueError):
    """An index tensor holds a value outside its range: a class label ≥ the number of classes, an embedding
    index ≥ num_embeddings. An ``IndexError`` as in PyTorch, and a ``ValueError`` (a bad value in the data)."""


class ResourceError(ChainruleError, MemoryError):
    """A call would need a buffer larger than this machine's memory (a huge padding, output size or number of
    classes); refused before anything is allocated, instead of swapping or being killed."""


class BackwardError(ChainruleError, RuntimeError):
    """The backward pass cannot run: freed graph, missing grad, or a backward rule returned a bad gradient."""


class GradcheckError(ChainruleError, AssertionError):
    """Analytic and numeric gradients disagree beyond the tolerances."""
