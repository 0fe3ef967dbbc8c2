"""Hash-grid networks in plain torch (no CUDA extension): a trainable
:class:`~neuralpoly_core.network.encoding.HashGridEncoding` followed by a small ReLU MLP.

The module computes exactly what the numpy evaluation of the exported
:class:`~neuralpoly_core.network.model.Network` computes (same grids, hash, interpolation and
feature order), so a model trained here extracts and evaluates without torch.

For a training loop (e.g. the SDF fit of :mod:`neuralpoly_core.training.lowpoly`) a network is
named by a :class:`HashGridSpec` (``parse_hashgrid_spec('hashgrid:simplex,levels=8,mlp=2x32')``)
with ``spec.build(torch, seed)`` -> module and ``spec.to_network(torch, module)`` -> Network, or
the plain functions :func:`build_torch_model` and :func:`to_network`. The module maps points
``(n, dim)`` to ``(n, 1)``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace

from ..errors import NeuralPolyError
from ..network.encoding import INTERPOLATIONS, PRIMES, HashGridEncoding, grid_resolutions
from ..network.model import Activation, Layer, Network, Output
from .torch_access import require_torch

__all__ = ["HashGridSpec", "parse_hashgrid_spec", "build_torch_model", "to_network", "SPEC_KEYS"]

#: Keys of a spec string and what they set: ``levels``, ``features``, ``table`` (log2 of the
#: table size), ``res`` (``NMIN-NMAX``), ``mlp`` (``DEPTHxWIDTH``).
SPEC_KEYS = ("levels", "features", "table", "res", "mlp")


@dataclass(frozen=True)
class HashGridSpec:
    """A hash-grid network: the encoding's sizes, the MLP's, and the box."""

    interpolation: str = "simplex"
    levels: int = 8
    features: int = 2
    log2_table: int = 14
    min_resolution: int = 4
    max_resolution: int = 64
    depth: int = 2
    width: int = 32
    dim: int = 3
    box: tuple | None = None          # ((lo...), (hi...)); None: [-1, 1]^dim
    kind: str = "hashgrid"

    def __post_init__(self):
        if self.interpolation not in INTERPOLATIONS:
            raise NeuralPolyError(f"hash-grid interpolation must be 'simplex' or 'trilinear', got {self.interpolation!r}")
        checks = [("levels", self.levels, 1, 32), ("features", self.features, 1, 64),
                  ("table (log2 of the table size)", self.log2_table, 4, 26),
                  ("min resolution", self.min_resolution, 1, 1 << 16),
                  ("max resolution", self.max_resolution, self.min_resolution, 1 << 16),
                  ("MLP depth", self.depth, 1, 64), ("MLP width", self.width, 1, 4096), ("dim", self.dim, 1, 3)]
        for what, v, lo, hi in checks:
            if isinstance(v, bool) or not isinstance(v, int) or not lo <= v <= hi:
                raise NeuralPolyError(f"hash-grid {what} must be a whole number in {lo}..{hi}, got {v!r}")
        if self.levels == 1 and self.max_resolution != self.min_resolution:
            raise NeuralPolyError("a one-level hash grid needs min resolution = max resolution")

    @property
    def table_size(self) -> int:
        return 1 << self.log2_table

    @property
    def resolutions(self) -> list[int]:
        return grid_resolutions(self.levels, self.min_resolution, self.max_resolution)

    @property
    def text(self) -> str:
        return (f"hashgrid:{self.interpolation},levels={self.levels},features={self.features},"
                f"table={self.log2_table},res={self.min_resolution}-{self.max_resolution},"
                f"mlp={self.depth}x{self.width}")

    def encoding(self, tables=None) -> HashGridEncoding:
        lo, hi = self.box if self.box is not None else ((-1.0,) * self.dim, (1.0,) * self.dim)
        return HashGridEncoding(self.resolutions, self.features, self.table_size, [list(lo), list(hi)],
                                self.interpolation, tables)

    def build(self, torch, seed: int):
        """The torch module, initialised from ``seed`` (torch's CPU generator is restored)."""
        return build_torch_model(self, seed)

    def to_network(self, torch, module) -> Network:
        return to_network(module)


def parse_hashgrid_spec(text) -> HashGridSpec:
    """``'hashgrid'``, ``'hashgrid:trilinear'``, ``'hashgrid:simplex,levels=8,features=2,table=14,
    res=4-64,mlp=2x32'`` (any subset of the keys, in any order; defaults as shown).

    Raises
    ------
    NeuralPolyError
        Anything else, naming the part that is wrong.
    """
    if not isinstance(text, str):
        raise NeuralPolyError(f"a hash-grid spec must be text like 'hashgrid:simplex,mlp=2x32', got {text!r}")
    kind, _, rest = text.strip().partition(":")
    if kind != "hashgrid":
        raise NeuralPolyError(f"not a hash-grid spec: {text!r} (expected 'hashgrid:...')")
    spec = HashGridSpec()
    for part in filter(None, (p.strip() for p in rest.split(","))):
        if part in INTERPOLATIONS:
            spec = replace(spec, interpolation=part)
            continue
        key, eq, value = part.partition("=")
        m2 = re.fullmatch(r"(\d+)[-x](\d+)", value.strip())
        try:
            if not eq or key not in SPEC_KEYS or (key in ("res", "mlp") and m2 is None):
                raise ValueError
            if key == "res":
                change = {"min_resolution": int(m2.group(1)), "max_resolution": int(m2.group(2))}
            elif key == "mlp":
                change = {"depth": int(m2.group(1)), "width": int(m2.group(2))}
            else:
                change = {{"table": "log2_table"}.get(key, key): int(value)}
        except ValueError:
            raise NeuralPolyError(
                f"hash-grid spec {text!r}: cannot read {part!r}; expected 'simplex' or 'trilinear' or one of "
                "levels=L, features=F, table=LOG2T, res=NMIN-NMAX, mlp=DEPTHxWIDTH") from None
        spec = replace(spec, **change)
    return spec


def _module_class(torch):
    nn = torch.nn

    class HashGridNet(nn.Module):
        """Hash-grid encoding (tables as parameters) + ReLU MLP with a linear head: (n, d) -> (n, 1)."""

        def __init__(self, spec: HashGridSpec):
            super().__init__()
            self.spec = spec
            self.enc = spec.encoding()
            enc = self.enc
            self.tables = nn.ParameterList(
                [nn.Parameter(torch.empty(enc.rows(l), enc.features).uniform_(-1e-4, 1e-4))
                 for l in range(enc.levels)])
            dims = [enc.n_outputs] + [spec.width] * spec.depth
            mods = []
            for a, b in zip(dims[:-1], dims[1:]):
                mods += [nn.Linear(a, b), nn.ReLU()]
            mods.append(nn.Linear(spec.width, 1))
            self.mlp = nn.Sequential(*mods)
            self.register_buffer("lo", torch.tensor(enc.lo))
            self.register_buffer("ext", torch.tensor(enc.hi - enc.lo))

        def _index(self, l, c):
            enc = self.enc
            if enc.is_dense(l):
                n1 = enc.resolutions[l] + 1
                idx = c[:, 0]
                for i in range(1, enc.dim):
                    idx = idx + c[:, i] * n1 ** i
                return idx
            h = c[:, 0] * PRIMES[0]
            for i in range(1, enc.dim):
                h = torch.bitwise_xor(h, c[:, i] * PRIMES[i])
            return torch.bitwise_and(h, enc.table_size - 1)

        def encode(self, x):
            enc = self.enc
            u = (x - self.lo.to(x.dtype)) / self.ext.to(x.dtype)
            outs = []
            for l, n in enumerate(enc.resolutions):
                g = (u * n).clamp(0.0, float(n))
                c = torch.floor(g.detach()).clamp(max=n - 1)
                t = g - c
                c = c.long()
                table = self.tables[l]
                if enc.interpolation == "simplex":
                    outs.append(self._simplex(l, table, c, t))
                else:
                    outs.append(self._multilinear(l, table, c, t))
            return torch.cat(outs, dim=1)

        def _simplex(self, l, table, c, t):
            d = t.shape[1]
            ts, order = torch.sort(t, dim=1, descending=True, stable=True)
            prev = table[self._index(l, c)]
            out = prev * (1.0 - ts[:, :1])
            eye = torch.eye(d, dtype=torch.long, device=c.device)
            v = c
            for k in range(d):
                v = v + eye[order[:, k]]
                w = ts[:, k:k + 1] - (ts[:, k + 1:k + 2] if k + 1 < d else 0.0)
                out = out + table[self._index(l, v)] * w
            return out

        def _multilinear(self, l, table, c, t):
            d = t.shape[1]
            out = 0.0
            for corner in range(1 << d):
                bits = [(corner >> i) & 1 for i in range(d)]
                w = 1.0
                for i, b in enumerate(bits):
                    w = w * (t[:, i:i + 1] if b else 1.0 - t[:, i:i + 1])
                off = torch.tensor(bits, dtype=torch.long, device=c.device)
                out = out + table[self._index(l, c + off)] * w
            return out

        def forward(self, x):
            return self.mlp(self.encode(x))

    return HashGridNet


def build_torch_model(spec, seed: int = 0):
    """The torch module of ``spec`` (a :class:`HashGridSpec` or its text), on the CPU,
    initialised from ``seed``: tables uniform in +-1e-4 (as Instant-NGP), the MLP as PyTorch
    initialises ``Linear`` layers. Torch's CPU generator is restored afterwards."""
    torch = require_torch()
    if isinstance(spec, str):
        spec = parse_hashgrid_spec(spec)
    if not isinstance(spec, HashGridSpec):
        raise NeuralPolyError(f"build_torch_model needs a HashGridSpec or its text, got {type(spec).__name__}")
    with torch.random.fork_rng(devices=[]):
        torch.random.default_generator.manual_seed(int(seed))
        return _module_class(torch)(spec)


def to_network(module) -> Network:
    """The trained module as a float64 :class:`Network` (the encoding with its tables, ReLU
    layers, a linear head): the model format, evaluated with numpy."""
    torch = require_torch()
    spec = getattr(module, "spec", None)
    if not isinstance(spec, HashGridSpec):
        raise NeuralPolyError("to_network takes a module made by build_torch_model")
    tables = [t.detach().cpu().double().numpy() for t in module.tables]
    lin = [m for m in module.mlp if isinstance(m, torch.nn.Linear)]

    def arrays(m):
        return m.weight.detach().cpu().double().numpy(), m.bias.detach().cpu().double().numpy()

    layers = [Layer(*arrays(m), Activation("relu")) for m in lin[:-1]]
    return Network(spec.dim, layers, Output("linear", *arrays(lin[-1])), spec.encoding(tables))
