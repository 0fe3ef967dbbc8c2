"""Old import paths and names that moved when the core was split into packages by layer.

Until version 0.1 the core was one flat folder of modules. Code written against it keeps
working: ``from neuralpoly_core.export import export_mesh`` imports the module's new home
(:mod:`neuralpoly_core.mesh.files`) and warns with a :class:`DeprecationWarning` that names
it. Modules that became packages of the same name (``network``, ``mesh``, ``polytope``,
``levelset``, ``training``, ``cli``) re-export their old names without a warning; the few
names that were renamed warn through :func:`deprecated_names`.

This module imports nothing of the project: it only maps names, so every layer may use it.
"""

from __future__ import annotations

import importlib
import importlib.abc
import importlib.util
import sys
import types
import warnings

#: Old module (relative to the package) -> its new home, or several homes searched in order.
MOVED: dict[str, str | tuple[str, ...]] = {
    "architecture": "network.architecture",
    "modelfile": "network.modelfile",
    "planar": "mesh.planar",
    "naming": "mesh.naming",
    "export": "mesh.files",
    "extract": ("polytope.api", "summary"),
    "radial": "polytope.radial",
    "slicing": "polytope.slicing",
    "marching": "levelset.marching",
    "boolean": "construct.boolean",
    "heightmap": "construct.heightmap",
    "sampling": "training.sampling",
    "figures": "sweeps.figures",
    "gallery": "sweeps.gallery",
    "render": "sweeps.render",
    "progress": "cli.progress",
}


def _stacklevel() -> int:
    """The stack level of the first frame outside the import machinery and this module."""
    frame, level = sys._getframe(1), 1
    while frame is not None and (frame.f_code.co_filename.startswith("<frozen importlib")
                                 or frame.f_code.co_filename == __file__):
        frame, level = frame.f_back, level + 1
    return level


def _warn(old: str, new: str) -> None:
    warnings.warn(f"{old} moved to {new}; the old name will be removed in a later version",
                  DeprecationWarning, stacklevel=_stacklevel())


class _MovedModules(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    """Imports an old module path as its new home (one package's table, ``MOVED``)."""

    def __init__(self, package: str) -> None:
        self.package = package

    def find_spec(self, fullname, path=None, target=None):
        head, _, old = fullname.rpartition(".")
        if head == self.package and old in MOVED:
            return importlib.util.spec_from_loader(fullname, self)
        return None

    def create_module(self, spec):
        return None

    def exec_module(self, module) -> None:
        old = module.__name__.rpartition(".")[2]
        homes = MOVED[old]
        if isinstance(homes, str):
            _warn(module.__name__, f"{self.package}.{homes}")
            # the import system hands out what sys.modules holds after this: the new module
            sys.modules[module.__name__] = importlib.import_module(f"{self.package}.{homes}")
            return
        targets = [f"{self.package}.{h}" for h in homes]
        _warn(module.__name__, " and ".join(targets))
        sources = [importlib.import_module(t) for t in targets]
        module.__all__ = [n for s in sources for n in getattr(s, "__all__", ())]
        module.__doc__ = f"Deprecated: the names of {' and '.join(targets)}."

        def __getattr__(name):
            for s in sources:
                if hasattr(s, name):
                    return getattr(s, name)
            raise AttributeError(f"module {module.__name__!r} has no attribute {name!r}")

        module.__getattr__ = __getattr__


def install(package: str) -> None:
    """Make the old module paths of ``package`` (its ``__name__``) importable."""
    if not any(isinstance(f, _MovedModules) and f.package == package for f in sys.meta_path):
        sys.meta_path.append(_MovedModules(package))


def moved_module(package: str, name: str) -> types.ModuleType:
    """The module an old attribute ``package.name`` names (``neuralpoly_core.export``)."""
    if name not in MOVED:
        raise AttributeError(f"module {package!r} has no attribute {name!r}")
    return importlib.import_module(f"{package}.{name}")


def deprecated_names(module: str, renamed: dict[str, str]):
    """A module ``__getattr__`` that serves renamed names with a warning.

    ``renamed`` maps an old name to ``"dotted.module:new_name"`` (absolute, or relative to
    the package of ``module`` with leading dots).
    """

    def __getattr__(name):
        if name not in renamed:
            raise AttributeError(f"module {module!r} has no attribute {name!r}")
        where, _, new = renamed[name].partition(":")
        target = importlib.import_module(where, package=module) if where.startswith(".") else \
            importlib.import_module(where)
        _warn(f"{module}.{name}", f"{target.__name__}.{new}")
        return getattr(target, new)

    return __getattr__
