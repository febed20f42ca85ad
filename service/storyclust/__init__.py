"""storyclust: exact, near-duplicate and same-story clustering for news articles.

The engine (:class:`storyclust.engine.Engine`) is a library with no HTTP in it; the CLI
(:mod:`storyclust.cli`) and the REST API (:mod:`storyclust.api`) are thin layers over it.
"""

__version__ = "0.1.0"
