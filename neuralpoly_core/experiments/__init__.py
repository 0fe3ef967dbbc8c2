"""Experiments that train networks on datasets and measure them, each a module with ``run(out_dir, ...) -> dict``."""
