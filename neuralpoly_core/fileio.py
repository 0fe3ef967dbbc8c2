"""File input and output: atomic writes, and reads that refuse what is not a bounded plain file.

Writes go to a temporary file next to the target that replaces it only when complete, so a
failure (or a kill) never leaves a half-written file and never touches an existing one.
Reads check the path before opening it: a FIFO, a device such as ``/dev/zero``, a folder or a
file over the size limit is refused with a :class:`~neuralpoly_core.errors.NeuralPolyError`
that names the file and the limit, and never blocks. JSON is parsed with NaN/Infinity refused
and a nesting-depth limit.
"""

from __future__ import annotations

import json
import os
import stat
import tempfile
from contextlib import contextmanager
from pathlib import Path

from .errors import NeuralPolyError

__all__ = ["atomic_open", "atomic_write_text", "read_limited", "read_json", "parse_json", "read_npy", "read_npz",
           "MAX_FILE_BYTES", "MAX_JSON_DEPTH", "MAX_JSON_BYTES"]

#: Largest file the readers take (bytes); ``read_limited(..., max_bytes=)`` overrides it.
MAX_FILE_BYTES = 2 << 30
#: Deepest nesting of JSON arrays and objects the readers take (a model file needs 4).
MAX_JSON_DEPTH = 64
#: Largest JSON file :func:`read_json` takes by default: parsed JSON takes up to ~20 times its
#: text in Python objects (``[]`` is 3 bytes of text, 56 of list), so 256 MB stays under ~5 GB.
MAX_JSON_BYTES = 256 << 20


@contextmanager
def atomic_open(path, mode: str = "wb"):
    """Open a temporary file next to ``path``; on success it replaces ``path`` atomically.

    If the body raises, the temporary file is removed and ``path`` is untouched.
    """
    path = Path(path)
    directory = path.parent if str(path.parent) else Path(".")
    if not directory.is_dir():
        raise FileNotFoundError(f"folder {str(directory)!r} does not exist (writing {str(path)!r})")
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=directory)
    try:
        # mkstemp makes the file private (0600); give it the usual permissions of a new file
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)
        with os.fdopen(fd, mode, **({} if "b" in mode else {"encoding": "utf-8", "newline": "\n"})) as fh:
            yield fh
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise


def atomic_write_text(path, text: str) -> None:
    with atomic_open(path, "w") as fh:
        fh.write(text)


def _size_text(n: int) -> str:
    for unit, size in (("GB", 1 << 30), ("MB", 1 << 20), ("kB", 1 << 10)):
        if n >= size:
            return f"{n / size:.1f} {unit}"
    return f"{n} bytes"


def read_limited(path, what: str = "file", max_bytes: int | None = None) -> bytes:
    """The bytes of a plain file of at most ``max_bytes`` (default :data:`MAX_FILE_BYTES`).

    Raises
    ------
    NeuralPolyError
        If the path does not exist, is not a plain file (a folder, a FIFO, a device), is larger
        than the limit, or cannot be read; the message names ``what`` and the path.
    """
    path = Path(path)
    limit = MAX_FILE_BYTES if max_bytes is None else int(max_bytes)
    try:
        st = os.stat(path)
    except FileNotFoundError:
        raise NeuralPolyError(f"{what} {str(path)!r} does not exist") from None
    except OSError as e:
        raise NeuralPolyError(f"cannot read {what} {str(path)!r}: {e.strerror or e}") from None
    if stat.S_ISDIR(st.st_mode):
        raise NeuralPolyError(f"{what} {str(path)!r} is a folder, not a file")
    if not stat.S_ISREG(st.st_mode):
        kind = "a FIFO" if stat.S_ISFIFO(st.st_mode) else "a device" if (
            stat.S_ISCHR(st.st_mode) or stat.S_ISBLK(st.st_mode)) else "a socket" if stat.S_ISSOCK(
            st.st_mode) else "not a plain file"
        raise NeuralPolyError(f"{what} {str(path)!r} is {kind}; only plain files are read")
    if st.st_size > limit:
        raise NeuralPolyError(f"{what} {str(path)!r} is {_size_text(st.st_size)}, over the limit of "
                              f"{_size_text(limit)}")
    try:
        with open(path, "rb") as fh:
            data = fh.read(limit + 1)
    except OSError as e:
        raise NeuralPolyError(f"cannot read {what} {str(path)!r}: {e.strerror or e}") from None
    if len(data) > limit:       # the file grew while we read it
        raise NeuralPolyError(f"{what} {str(path)!r} is over the limit of {_size_text(limit)}")
    return data


def _depth(value) -> int:
    """Nesting depth of parsed JSON (iterative: no recursion limit)."""
    deepest, stack = 0, [(value, 1)]
    while stack:
        v, d = stack.pop()
        if isinstance(v, (list, dict)):
            deepest = max(deepest, d)
            stack.extend((x, d + 1) for x in (v.values() if isinstance(v, dict) else v))
    return deepest


def _refuse_constant(name):
    raise NeuralPolyError(f"contains {name}, which is not a valid JSON number here")


def parse_json(text: str | bytes, what: str = "JSON", max_depth: int = MAX_JSON_DEPTH):
    """Parse JSON text: NaN and Infinity refused, nesting at most ``max_depth`` levels.

    Raises
    ------
    NeuralPolyError
        Naming ``what`` and the problem (not UTF-8, not JSON with the line and column, NaN,
        too deep).
    """
    if isinstance(text, bytes):
        try:
            text = text.decode("utf-8")
        except UnicodeDecodeError as e:
            raise NeuralPolyError(f"{what} is not UTF-8 text (byte {e.start}: {e.reason})") from None
    try:
        value = json.loads(text, parse_constant=_refuse_constant)
    except NeuralPolyError as e:
        raise NeuralPolyError(f"{what} {e}") from None
    except RecursionError:
        raise NeuralPolyError(f"{what} is nested more than {max_depth} levels deep") from None
    except json.JSONDecodeError as e:
        raise NeuralPolyError(f"{what} is not valid JSON: {e}") from None
    if _depth(value) > max_depth:
        raise NeuralPolyError(f"{what} is nested more than {max_depth} levels deep")
    return value


def read_json(path, what: str = "JSON file", max_bytes: int | None = None, max_depth: int = MAX_JSON_DEPTH):
    """:func:`read_limited` (at most ``max_bytes``, default :data:`MAX_JSON_BYTES`) then
    :func:`parse_json`; messages name the file."""
    data = read_limited(path, what, MAX_JSON_BYTES if max_bytes is None else max_bytes)
    return parse_json(data, f"{what} {Path(path).name}", max_depth)


def _npy_from_bytes(data: bytes, what: str):
    """The array of ``.npy`` bytes: no pickles, no object arrays, the header's shape must match."""
    import io

    import numpy as np
    from numpy.lib import format as npformat

    fh = io.BytesIO(data)
    try:
        version = npformat.read_magic(fh)
        header = npformat.read_array_header_1_0 if version == (1, 0) else npformat.read_array_header_2_0
        shape, fortran, dtype = header(fh)
    except (ValueError, OSError, SyntaxError, TypeError) as e:
        raise NeuralPolyError(f"{what} is not a .npy array: {e}") from None
    if dtype.hasobject:
        raise NeuralPolyError(f"{what} holds Python objects (a pickle); only numeric arrays are read")
    count = 1
    for n in shape:
        count *= int(n)
    body = len(data) - fh.tell()
    if count * dtype.itemsize != body:
        raise NeuralPolyError(f"{what} declares an array of shape {tuple(shape)} ({count * dtype.itemsize} bytes) "
                              f"but holds {body} bytes")
    array = np.frombuffer(data, dtype=dtype, count=count, offset=fh.tell())
    return (array.reshape(shape[::-1]).T if fortran else array.reshape(shape)).copy()


def read_npy(path, what: str = ".npy file", max_bytes: int | None = None):
    """A numeric array from a ``.npy`` file, read by :func:`read_limited` (never unpickles).

    Raises
    ------
    NeuralPolyError
        As :func:`read_limited`, or if the file is not a numeric ``.npy`` array whose header
        agrees with its size.
    """
    return _npy_from_bytes(read_limited(path, what, max_bytes), f"{what} {Path(path).name}")


def read_npz(path, what: str = ".npz file", max_bytes: int | None = None) -> dict:
    """The arrays of an ``.npz`` file as ``{name: array}`` (never unpickles).

    The file and the uncompressed size of its members are held to ``max_bytes``
    (default :data:`MAX_FILE_BYTES`), so a zip bomb is refused before it is inflated.
    """
    import io
    import zipfile

    limit = MAX_FILE_BYTES if max_bytes is None else int(max_bytes)
    data = read_limited(path, what, limit)
    name = f"{what} {Path(path).name}"
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as zf:
            members = zf.infolist()
            total = sum(m.file_size for m in members)
            if total > limit:
                raise NeuralPolyError(f"{name} unpacks to {_size_text(total)}, over the limit of {_size_text(limit)}")
            arrays = {}
            for m in members:
                key = m.filename[:-4] if m.filename.endswith(".npy") else m.filename
                arrays[key] = _npy_from_bytes(zf.read(m), f"{name} (array {key!r})")
    except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, EOFError, NotImplementedError) as e:
        raise NeuralPolyError(f"{name} is not a valid .npz archive: {e}") from None
    return arrays
