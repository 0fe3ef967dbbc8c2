"""The ``boolean`` command: a network from a JSON description of solids, and its surface."""

from __future__ import annotations

from pathlib import Path

from ..fileio import read_json
from .options import box, check_outputs, finite_float, positive_int, print_summary, write_mesh

__all__ = ["register"]


def register(sub) -> None:
    """Add the command's parser to the ``neuralpoly`` subcommands."""
    b = sub.add_parser("boolean", help="build a network from a JSON description of solids "
                                       "(boolean algebra of neurons)")
    b.add_argument("description", type=Path, help="neuralpoly.boolean JSON description (see README)")
    b.add_argument("--model-out", type=Path, help="write the compiled network (model JSON)")
    b.add_argument("--bbox", type=finite_float, nargs=2, metavar=("LO", "HI"), default=None,
                   help="box for extracting the solid's surface (default: the description's "
                        "domain, else [-1, 1])")
    b.add_argument("--resolution", type=positive_int, default=64,
                   help="soft mode: marching-cubes cells per axis (default 64)")
    b.add_argument("--cap", action="store_true", help="close the surface where it leaves the box")
    b.add_argument("--out", type=Path, help="mesh file of the solid's surface: .obj, .stl, .ply")
    b.add_argument("--json", action="store_true", help="print a JSON summary as the last line")
    b.set_defaults(run=cmd_boolean)


def cmd_boolean(args) -> int:
    from ..construct.boolean import network_from_description
    from ..errors import ModelFormatError
    from ..levelset.api import extract_level_set
    from ..network.modelfile import save_model
    from ..summary import summarize

    desc = read_json(args.description, "description file")
    try:
        net = network_from_description(desc)
    except ModelFormatError as e:
        raise ModelFormatError(f"{args.description.name}: {e}") from None
    check_outputs(args.out, args.model_out)
    mode = desc.get("mode", "hard")
    meta = {"type": f"boolean ({mode})", "source": desc}
    if args.bbox is not None:       # checked before anything is written
        bbox = box(args.bbox)
    else:
        bbox = desc.get("domain", (-1.0, 1.0))
    if args.model_out is not None:
        save_model(net, args.model_out, meta=meta)
    if mode == "hard":
        mesh = extract_level_set(net, 0.0, bbox, method="exact", cap=args.cap, merge_coplanar=True)
    else:
        mesh = extract_level_set(net, 0.0, bbox, method="marching", resolution=args.resolution,
                                 cap=args.cap)
    summary = summarize(net, mesh, arch=meta["type"], level=0.0)
    if mesh.dim == 3:
        summary["volume"] = abs(mesh.volume()) if mesh.is_closed_manifold() else None
    write_mesh(mesh, args.out, args.description.stem)
    print_summary(summary, args.json)
    return 0
