"""The version of neuralpoly (the core, the CLI and the Blender extension share it)."""

__version__ = "0.1.0"
