"""chainrule's own error types: every refusal the library makes is one of these.

Each also subclasses the built-in exception a Python or PyTorch user would expect (``ShapeError`` is a
``ValueError``, ``IndexRangeError`` an ``IndexError``, ...), so ``except ValueError`` and ``except IndexError``
keep working, while ``except cr.ChainruleError`` catches every deliberate refusal and nothing else.
See docs/errors.md for what each means, with examples of messages; a traceback points to the type's entry.
"""


ERRORS_PAGE = "docs/errors.md"


class ChainruleError(Exception):
    """Base class of every error chainrule raises on purpose.

    A traceback ends with a pointer to the type's entry on the errors page (what causes it, how to fix it),
    ``see docs/errors.md#shapeerror``, shown as an exception note (Python 3.11+). ``str(error)`` stays the message
    alone, so code that matches messages is unaffected; ``error.docs`` is the pointer.
    """

    @property
    def docs(self) -> str:
        """Where this error type is explained: the errors page and the type's anchor."""
        return f"{ERRORS_PAGE}#{type(self).__name__.lower()}"

    # A property rather than an add_note() in __init__: subclasses with their own __init__ get the pointer too,
    # and nothing is stored until a traceback is printed. add_note() appends to the same list; the pointer is
    # moved back to the end on every read, so it stays the last line of a traceback.
    @property
    def __notes__(self) -> list[str]:
        notes = self.__dict__.setdefault("_notes", [])
        pointer = f"see {self.docs} (what causes a {type(self).__name__}, how to fix it)"
        if pointer in notes:
            notes.remove(pointer)
        notes.append(pointer)
        return notes

    @__notes__.setter
    def __notes__(self, notes: list[str]) -> None:
        self.__dict__["_notes"] = notes


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
