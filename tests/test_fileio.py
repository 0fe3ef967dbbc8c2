"""Reads that refuse what is not a bounded plain file; JSON with a depth limit and no NaN."""

from __future__ import annotations

import os
import threading

import pytest

from neuralpoly_core.budget import (MemoryBudgetError, check_memory, format_bytes, memory_budget, parse_bytes,
                                    set_memory_budget)
from neuralpoly_core.errors import NeuralPolyError
from neuralpoly_core.fileio import parse_json, read_json, read_limited


def test_plain_files_are_read_and_limits_are_named(tmp_path):
    p = tmp_path / "a.json"
    p.write_text('{"a": [1, 2, {"b": null}]}')
    assert read_json(p, "model file") == {"a": [1, 2, {"b": None}]}
    with pytest.raises(NeuralPolyError, match=r"model file .*a.json.* is 26 bytes, over the limit of 10 bytes"):
        read_limited(p, "model file", max_bytes=10)
    with pytest.raises(NeuralPolyError, match="does not exist"):
        read_limited(tmp_path / "missing.json", "model file")
    with pytest.raises(NeuralPolyError, match="is a folder"):
        read_limited(tmp_path, "model file")


def test_special_files_are_refused_without_blocking(tmp_path):
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    done = []
    t = threading.Thread(target=lambda: done.append(pytest.raises(NeuralPolyError, read_limited, fifo)))
    t.start()
    t.join(5)
    assert done and "is a FIFO" in str(done[0].value)     # answered at once, never opened
    with pytest.raises(NeuralPolyError, match="is a device"):
        read_limited("/dev/zero", "model file")


def test_json_depth_nan_and_encoding():
    deep = "[" * 5000 + "]" * 5000
    with pytest.raises(NeuralPolyError, match="nested more than 64 levels"):
        parse_json(deep, "model file")
    with pytest.raises(NeuralPolyError, match="nested more than 64 levels"):
        parse_json("[" * 65 + "]" * 65, "model file")
    assert parse_json("[" * 64 + "]" * 64, "model file") is not None
    with pytest.raises(NeuralPolyError, match="contains NaN"):
        parse_json('{"w": NaN}', "model file")
    with pytest.raises(NeuralPolyError, match="contains Infinity"):
        parse_json('[Infinity]', "model file")
    with pytest.raises(NeuralPolyError, match="not UTF-8"):
        parse_json(b'{"a": "\xff"}', "model file")
    with pytest.raises(NeuralPolyError, match=r"not valid JSON: Expecting .* line 1 column"):
        parse_json("{", "model file")


def test_memory_budget_refuses_with_the_need_and_the_option(monkeypatch):
    assert parse_bytes("512M") == 512 << 20 and parse_bytes("8G") == 8 << 30 and parse_bytes("1000") == 1000
    assert format_bytes(230400000000) == "214.6 GB"
    with pytest.raises(NeuralPolyError, match="memory size"):
        parse_bytes("lots")
    assert memory_budget() > 0
    monkeypatch.setenv("NEURALPOLY_MEMORY_BUDGET", "1G")
    assert memory_budget() == 1 << 30
    set_memory_budget("2M")
    try:
        assert memory_budget() == 2 << 20
        check_memory(1 << 20, "a small thing", "lower it")
        with pytest.raises(MemoryBudgetError, match=r"training would need about 214.6 GB of memory, over the budget "
                                                    r"of 2.0 MB; lower --restarts"):
            check_memory(230400000000, "training", "lower --restarts")
    finally:
        set_memory_budget(None)
