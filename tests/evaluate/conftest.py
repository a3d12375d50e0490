"""Makes this folder importable (pytest puts a conftest's folder on sys.path): see evalkit.py."""
