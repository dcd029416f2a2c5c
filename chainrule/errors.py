"""chainrule's own error types: every refusal the library makes is one of these."""


class ChainruleError(Exception):
    """Base class of every error chainrule raises on purpose."""


class ShapeError(ChainruleError, ValueError):
    """An argument has the wrong shape, or two shapes do not broadcast."""


class DTypeError(ChainruleError, TypeError):
    """An argument has the wrong dtype, or two dtypes may not be mixed."""


class BackwardError(ChainruleError, RuntimeError):
    """The backward pass cannot run: freed graph, missing grad, or a backward rule returned a bad gradient."""


class GradcheckError(ChainruleError, AssertionError):
    """Analytic and numeric gradients disagree beyond the tolerances."""
