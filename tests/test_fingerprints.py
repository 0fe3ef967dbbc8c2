"""Every mesh the project makes is bit-identical to the recorded fingerprints.

``bench/fingerprint.py`` reduces each case (benchmark nets, the paper's figure networks,
boolean examples, marching and radial results, the heightmap, the README's CLI examples) to
a hash of its arrays; ``bench/data/fingerprints.json`` holds the values recorded before the
package restructuring. A refactor must leave them all unchanged (the two slow benchmark nets
are checked by running the script without ``--quick``).
"""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _script():
    spec = importlib.util.spec_from_file_location("neuralpoly_fingerprint", ROOT / "bench" / "fingerprint.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_meshes_and_cli_output_match_the_recorded_fingerprints():
    fp = _script()
    recorded = json.loads((ROOT / "bench" / "data" / "fingerprints.json").read_text())
    found = fp.collect(quick=True)
    assert set(recorded) - set(fp.SLOW) == set(found)
    different = {k: (recorded[k], v) for k, v in found.items() if recorded[k] != v}
    assert not different
