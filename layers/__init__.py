"""Jangkau's web-free core: read, validate, store and analyse village-level layers.

Nothing in this package imports Flask; the web app and the CLI are thin front doors
onto the functions defined here.
"""

__version__ = "0.1.0"
