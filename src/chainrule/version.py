"""The version of chainrule, written once: the package, pyproject.toml and every archive's stamp read it here."""

__version__ = "0.1.0"
