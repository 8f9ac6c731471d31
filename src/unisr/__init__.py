"""unisr: unified multi-scenario search and recommendation."""

__version__ = "0.1.0"
