"""The metaball heightmap: a three-layer sigmoid network over 2-D input, drawn as a height field.

:func:`neuralpoly_core.construct.heightmap.metaball_network` builds the network (soft polygonal blobs,
their union, a linear head); the object is a grid over the square ``[-size/2, size/2]^2``
displaced along z by ``f``. The blobs' centres enter only layer 1's biases, so moving the
blobs is animating those biases: they live on the object as ``Object.neuralpoly.biases[i].value``
and are keyframed over the timeline (each blob circling its rest position,
:func:`neuralpoly_core.construct.heightmap.animated_biases`).

Playing or rendering the timeline updates the mesh: a ``frame_change_post`` handler
(``@persistent``, so it survives loading files, and it works in ``blender -b`` renders) reads
the animated biases of every heightmap object in the scene and writes the heights into its
mesh; Blender re-evaluates the data changed by frame-change handlers before drawing or
rendering the frame. Any Python can also call :func:`update_heights` directly.
"""

from __future__ import annotations

import json

import bpy
import numpy as np
from bpy.app.handlers import persistent

from . import blender_mesh, model_store
from .model_store import Kind
from .neuralpoly_core._checks import check_float, check_int
from .neuralpoly_core.errors import ModelFormatError, NeuralPolyError
from .neuralpoly_core.construct.heightmap import (DEFAULT_DIRECTIONS, animated_biases, grid_values, height_grid,
                                        metaball_network, set_layer1_biases)
from .neuralpoly_core.network import Network

__all__ = ["add_heightmap", "update_heights", "rebuild", "parameters", "blob_centres", "register", "unregister"]

_last: dict[int, bytes] = {}     # object session uid -> biases last written into its mesh


def _positive(value, what: str) -> float:
    return check_float(value, what, 0.0, lo_open=True)


def blob_centres(blobs: int, seed: int, size: float, radius: float) -> np.ndarray:
    """``blobs`` rest centres, drawn with ``seed`` in the middle of the square of side ``size``
    and at least one radius apart from one another where the square allows it."""
    rng = np.random.default_rng(seed)
    half = 0.5 * size - 1.5 * radius
    if half <= 0:
        raise NeuralPolyError(f"blob radius {radius:g} is too large for a heightmap of size {size:g} "
                              f"(it must be below {size / 3:g})")
    centres: list[np.ndarray] = []
    for _ in range(blobs):
        best, best_gap = None, -1.0
        for _try in range(64):
            c = rng.uniform(-half, half, size=2)
            gap = min((float(np.linalg.norm(c - o)) for o in centres), default=np.inf)
            if gap >= radius:
                best = c
                break
            if gap > best_gap:
                best, best_gap = c, gap
        assert best is not None
        centres.append(best)
    return np.array(centres)


def parameters(obj: bpy.types.Object) -> dict:
    """The heightmap settings a HEIGHTMAP object remembers."""
    d = model_store.stored_source(obj, Kind.HEIGHTMAP, "metaball heightmap", "heightmap settings")
    if not {"size", "resolution"} <= set(d):
        raise ModelFormatError(f"the heightmap settings stored in {obj.name!r} are damaged")
    return d


def _current_biases(obj: bpy.types.Object) -> np.ndarray:
    items = model_store.props(obj).biases
    b = np.empty(len(items), dtype=np.float64)
    items.foreach_get("value", b)
    return b


def current_network(obj: bpy.types.Object) -> Network:
    """The object's network with layer 1's biases as they are now (at the current frame)."""
    net, _ = model_store.load_model(obj)
    return set_layer1_biases(net, _current_biases(obj))


def update_heights(obj: bpy.types.Object, *, force: bool = False) -> bool:
    """Write ``f`` at the current biases into the mesh's z coordinates; False if nothing changed."""
    b = _current_biases(obj)
    key = b.tobytes()
    uid = obj.session_uid
    me = obj.data
    if not force and _last.get(uid) == key:
        return False
    params = parameters(obj)
    net, _ = model_store.load_model(obj)
    _xs, _ys, F = grid_values(set_layer1_biases(net, b), params["size"], params["resolution"])
    if not isinstance(me, bpy.types.Mesh):
        raise NeuralPolyError(f"heightmap {obj.name!r} has no mesh")
    if len(me.vertices) != F.size:
        raise NeuralPolyError(f"the mesh of heightmap {obj.name!r} was edited ({len(me.vertices)} vertices, "
                              f"expected {F.size}): re-extract it to rebuild the grid")
    co = np.empty(len(me.vertices) * 3, dtype=np.float32)
    me.vertices.foreach_get("co", co)
    co[2::3] = F.ravel().astype(np.float32)
    me.vertices.foreach_set("co", co)
    me.update()
    _last[uid] = key
    return True


@persistent
def _on_frame_change(scene, depsgraph=None) -> None:
    """Update every heightmap object of the scene to the biases of the new frame."""
    for obj in scene.objects:
        if model_store.kind_of(obj) != Kind.HEIGHTMAP:
            continue
        try:
            update_heights(obj)
        except Exception as e:   # never break playback or a render: say what went wrong
            print(f"Neural Polytopes: heightmap {obj.name!r} not updated: {e}")


@persistent
def _on_load(*_args) -> None:
    _last.clear()


def register() -> None:
    if _on_frame_change not in bpy.app.handlers.frame_change_post:
        bpy.app.handlers.frame_change_post.append(_on_frame_change)
    if _on_load not in bpy.app.handlers.load_post:
        bpy.app.handlers.load_post.append(_on_load)


def unregister() -> None:
    for handlers, fn in ((bpy.app.handlers.frame_change_post, _on_frame_change),
                         (bpy.app.handlers.load_post, _on_load)):
        while fn in handlers:
            handlers.remove(fn)
    _last.clear()


def _keyframe(obj: bpy.types.Object, centres, radii, params: dict, frame_start: int, frame_end: int,
              step: int) -> int:
    """Keyframe layer 1's biases from ``frame_start`` to ``frame_end``; returns the number of keys per bias."""
    items = model_store.props(obj).biases
    frames = list(range(frame_start, frame_end + 1, step))
    if frames[-1] != frame_end:
        frames.append(frame_end)
    for frame in frames:
        b = animated_biases(centres, radii, frame - frame_start, directions=params["directions"],
                            amplitude=params["amplitude"], period=params["period"])
        for i, value in enumerate(b.tolist()):
            items[i].value = value
            obj.keyframe_insert(f"neuralpoly.biases[{i}].value", frame=frame, group="Layer-1 Biases")
    return len(frames)


def add_heightmap(context, *, blobs: int = 3, seed: int = 0, radius: float = 0.3, sharpness: float = 12.0,
                  size: float = 2.0, resolution: int = 64, height: float = 0.5, amplitude: float = 0.25,
                  period: int = 120, keyframe_step: int = 5, frame_start: int | None = None,
                  frame_end: int | None = None, location=None) -> bpy.types.Object:
    """Add a metaball heightmap with ``blobs`` blobs whose layer-1 biases are keyframed.

    ``radius``, ``amplitude`` and ``size`` are in scene units, ``sharpness`` per unit of
    distance; each blob circles its rest position (radius ``amplitude``) once every
    ``period`` frames, keyed every ``keyframe_step`` frames from ``frame_start`` to
    ``frame_end`` (default: the scene's start, and one period later). On any error nothing
    is added.
    """
    scene = context.scene
    blobs = check_int(blobs, "blobs", 1, 16)
    seed = check_int(seed, "seed", 0, 2**31 - 1)
    size, radius = _positive(size, "size"), _positive(radius, "blob radius")
    resolution = check_int(resolution, "resolution", 2, 1024)
    period = check_int(period, "period", 2, 100000)
    keyframe_step = check_int(keyframe_step, "keyframe step", 1, 10000)
    amplitude = check_float(amplitude, "amplitude", 0.0)
    start = scene.frame_start if frame_start is None else check_int(frame_start, "start frame", -1048574, 1048574)
    end = start + period if frame_end is None else check_int(frame_end, "end frame", -1048574, 1048574)
    if end <= start:
        raise NeuralPolyError(f"end frame {end} must come after start frame {start}")
    centres = blob_centres(blobs, seed, size, radius)
    radii = np.full(blobs, radius)
    net = metaball_network(centres, radii, _positive(sharpness, "sharpness"), height=float(height))
    params = {"centers": centres.tolist(), "radii": radii.tolist(), "sharpness": float(sharpness),
              "directions": DEFAULT_DIRECTIONS, "size": size, "resolution": resolution, "height": float(height),
              "amplitude": float(amplitude), "period": period, "frame_start": start, "frame_end": end,
              "keyframe_step": keyframe_step, "seed": seed}
    mesh = height_grid(net, size, resolution)
    name = "Metaball Heightmap"
    me = blender_mesh.new_mesh(name, mesh, smooth=True)
    obj = bpy.data.objects.new(name, me)
    try:
        obj.location = tuple(scene.cursor.location) if location is None else tuple(location)
        meta = {"heightmap": {k: params[k] for k in ("centers", "radii", "sharpness", "height")},
                "type": f"metaballs ({blobs} blobs, sigmoid)"}
        model_store.store_model(obj, net, meta, kind=Kind.HEIGHTMAP)
        p = model_store.props(obj)
        p.source_json = json.dumps(params)
        p.resolution, p.size, p.method = resolution, size, "grid"
        p.sharpness = float(sharpness)
        p.frame_start, p.frames_per_step = start, keyframe_step
        p.polytope_name = f"{blobs} blobs"
        p.f_vector = ", ".join(str(n) for n in mesh.f_vector)
        for value in np.asarray(net.layers[0].bias).tolist():
            p.biases.add().value = value
        (context.collection or scene.collection).objects.link(obj)
        _keyframe(obj, centres, radii, params, start, end, keyframe_step)
        # until the next frame change the biases show the current frame (the keys hold the rest)
        now = min(max(scene.frame_current, start), end)
        for item, value in zip(p.biases, animated_biases(
                centres, radii, now - start, directions=DEFAULT_DIRECTIONS, amplitude=float(amplitude),
                period=period).tolist()):
            item.value = value
    except BaseException:
        action = obj.animation_data.action if obj.animation_data is not None else None
        bpy.data.objects.remove(obj)
        bpy.data.meshes.remove(me)
        if action is not None and action.users == 0:
            bpy.data.actions.remove(action)
        raise
    if scene.frame_end < end:
        scene.frame_end = end
    _last.pop(obj.session_uid, None)
    update_heights(obj, force=True)   # the mesh shows the current frame's biases
    return obj


def rebuild(obj: bpy.types.Object, *, resolution: int | None = None, size: float | None = None) -> bpy.types.Object:
    """Rebuild a heightmap's grid at another resolution or size (its animation is kept)."""
    params = parameters(obj)
    if resolution is not None:
        params["resolution"] = check_int(resolution, "resolution", 2, 1024)
    if size is not None:
        params["size"] = _positive(size, "size")
    net = current_network(obj)
    mesh = height_grid(net, params["size"], params["resolution"])
    if not isinstance(obj.data, bpy.types.Mesh):
        raise NeuralPolyError(f"object {obj.name!r} is not a mesh")
    blender_mesh.replace_data(obj, blender_mesh.new_mesh(obj.data.name, mesh, smooth=True))
    p = model_store.props(obj)
    p.source_json = json.dumps(params)
    p.resolution, p.size = params["resolution"], params["size"]
    p.f_vector = ", ".join(str(n) for n in mesh.f_vector)
    _last[obj.session_uid] = _current_biases(obj).tobytes()
    return obj
