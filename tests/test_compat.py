"""Every import path of the flat layout before the packages keeps working.

Modules that moved into a package are served from their new home with a
DeprecationWarning that names it; modules that became packages of the same name re-export
their old names; renamed functions warn and return the new one.
"""

from __future__ import annotations

import importlib
import sys
import warnings

import pytest

import neuralpoly_core
from neuralpoly_core import _compat

#: Each old module and names it exported then.
OLD_NAMES = {
    "architecture": ["ArchType", "parse_type", "parse_widths", "parse_ps", "format_p", "check_dim"],
    "modelfile": ["save_model", "load_model", "load_model_with_meta", "model_to_json", "model_from_json"],
    "planar": ["ear_clip", "CurveRegions"],
    "naming": ["describe", "name_polytope", "polygon_name", "DEFAULT_TOL"],
    "export": ["write_obj", "write_stl", "write_ply", "export_mesh", "check_format", "read_obj", "read_stl",
               "read_ply", "read_mesh", "MESH_FORMATS"],
    "extract": ["extract_polytope", "summarize", "METHODS"],
    "radial": ["extract_radial", "radial_function", "icosphere"],
    "slicing": ["paper_slice_basis"],
    "marching": ["extract_marching", "value_and_gradient", "project_to_level"],
    "boolean": ["Convex", "HalfSpace", "compile_network", "network_from_description", "square_donut",
                "LOGIC_SHARPNESS"],
    "heightmap": ["metaball_network", "height_grid", "animated_biases", "DEFAULT_DIRECTIONS"],
    "sampling": ["sphere_points", "halton", "random_rotation", "METHODS"],
    "figures": ["FIGURES", "FIGURE_CAPTIONS", "FigureNet", "figure_networks", "all_figure_networks"],
    "gallery": ["run_gallery"],
    "render": ["render_panels"],
    "progress": ["ProgressBar"],
    # modules that became packages of the same name
    "network": ["Activation", "Layer", "Network", "Output", "polytope_network"],
    "mesh": ["PolyMesh"],
    "polytope": ["exact_extraction_issue", "max_level_error", "POSITIVE_FLOOR", "LEVEL_GUARANTEE"],
    "levelset": ["TOLERANCE", "extract_level_set", "default_workers", "parse_bbox", "curve_loops",
                 "is_watertight", "merge_coplanar_faces"],
    "training": ["TrainResult", "torch_available", "train_polytope", "train_sweep", "recipe_train",
                 "dense_sphere_mse", "sphere_mse_exact", "default_n_points", "OPTIMIZERS"],
    "cli": ["main", "build_parser"],
    "errors": ["NeuralPolyError", "TypeSpecError", "ModelFormatError", "TrainingDivergedError",
               "ExtractionError", "Cancelled"],
    "fileio": ["atomic_open", "atomic_write_text"],
}
RENAMED = {("polytope", "extract_exact"): "extract_polytope_exact",
           ("levelset", "extract_exact"): "extract_level_set_exact"}


def _fresh(name: str):
    """Import an old path as a first import would (only aliases are dropped: re-running a real
    module would make new classes that other tests' objects are not instances of)."""
    if name in _compat.MOVED:
        sys.modules.pop(f"neuralpoly_core.{name}", None)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        module = importlib.import_module(f"neuralpoly_core.{name}")
    return module, [w for w in caught if issubclass(w.category, DeprecationWarning)]


@pytest.mark.parametrize("old", sorted(OLD_NAMES))
def test_old_module_path_imports_with_its_names(old):
    module, warned = _fresh(old)
    if old in _compat.MOVED:
        assert warned and "moved to neuralpoly_core." in str(warned[0].message), old
    else:
        assert not warned, [str(w.message) for w in warned]
    for name in OLD_NAMES[old]:
        assert getattr(module, name) is not None, f"neuralpoly_core.{old}.{name}"


@pytest.mark.parametrize("old", sorted(_compat.MOVED))
def test_a_moved_module_is_its_new_home(old):
    module, _ = _fresh(old)
    homes = _compat.MOVED[old]
    if isinstance(homes, str):
        assert module is importlib.import_module(f"neuralpoly_core.{homes}")
    else:
        for name in OLD_NAMES[old]:
            assert any(getattr(importlib.import_module(f"neuralpoly_core.{h}"), name, None) is getattr(module, name)
                       for h in homes)


def test_old_attribute_paths_of_the_package():
    """``core.modelfile.save_model`` in a Blender script: the attribute path works too."""
    with pytest.warns(DeprecationWarning, match="modelfile moved to neuralpoly_core.network.modelfile"):
        sys.modules.pop("neuralpoly_core.modelfile", None)
        if "modelfile" in vars(neuralpoly_core):
            delattr(neuralpoly_core, "modelfile")
        assert neuralpoly_core.modelfile.save_model is importlib.import_module(
            "neuralpoly_core.network.modelfile").save_model
    assert neuralpoly_core.network.polytope_network is importlib.import_module(
        "neuralpoly_core.network.model").polytope_network
    with pytest.raises(AttributeError):
        neuralpoly_core.no_such_thing  # noqa: B018


@pytest.mark.parametrize("package, old", sorted(RENAMED))
def test_renamed_functions_warn_and_are_the_new_ones(package, old):
    pkg = importlib.import_module(f"neuralpoly_core.{package}")
    with pytest.warns(DeprecationWarning, match=f"{old} moved to"):
        fn = getattr(pkg, old)
    assert fn is getattr(pkg, RENAMED[(package, old)])


def test_import_neuralpoly_core_does_not_import_torch():
    import subprocess
    code = ("import sys, neuralpoly_core as n; n.train_polytope; n.extract_polytope; "
            "print('torch' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_the_public_api_is_listed():
    for name in neuralpoly_core.__all__:
        assert getattr(neuralpoly_core, name) is not None, name
    assert {"extract_polytope", "extract_level_set", "train_polytope", "train_sweep", "export_mesh",
            "read_mesh", "summarize", "describe", "load_model", "save_model"} <= set(neuralpoly_core.__all__)
