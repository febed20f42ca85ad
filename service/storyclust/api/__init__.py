"""The REST API (FastAPI): a thin layer over :class:`storyclust.engine.Engine`; see ``app.py``."""
