"""hwgen's version (also pyproject.toml's): in generated files, build records and the driver's metadata."""

__version__ = "0.1.0"
