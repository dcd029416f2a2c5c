"""Loading an archive stays bounded and strict: every size is checked before it is read (ZIP bombs, sizes beyond
memory, oversized structure documents), and numbers are read as the format writes them."""

from __future__ import annotations

import json
import sys
import tracemalloc
import types
import warnings
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import chainrule.io as cio
import chainrule.io.archive as fmt
import chainrule.nn as nn
import chainrule.optim as optim
from chainrule.errors import ChainruleError
from chainrule.io import CheckpointError, CheckpointStateError
from chainrule.io.archive import HEADER_KEY
from chainrule.ops import operands

MB = 1 << 20
ONE = {"format": "chainrule", "version": 1, "kind": "object",
       "tree": {"x": {"$type": "ndarray", "key": "a0", "dtype": "<f8", "shape": [3]}}}


def npy_header(dtype: str, shape: tuple[int, ...], fortran: bool = False) -> bytes:
    """The bytes of a version 1.0 .npy header, written from the format's description."""
    text = f"{{'descr': '{dtype}', 'fortran_order': {fortran}, 'shape': {shape!r}, }}"
    text += " " * (63 - (10 + len(text)) % 64) + "\n"  # pad so that the data starts on a 64-byte boundary
    return b"\x93NUMPY\x01\x00" + len(text).to_bytes(2, "little") + text.encode("latin1")


def document(doc: Any) -> bytes:
    text = (json.dumps(doc) if not isinstance(doc, str) else doc).encode()
    return npy_header("|u1", (len(text),)) + text


def archive(path: Path, members: dict[str, bytes | Callable[[Any], None]],
            compression: int = zipfile.ZIP_DEFLATED) -> Path:
    """A hand-made .npz: each member is its bytes, or a function that writes them to the open member."""
    with zipfile.ZipFile(path, "w", compression=compression, compresslevel=1) as zf:
        for name, content in members.items():
            with zf.open(name + ".npy", "w", force_zip64=True) as f:
                if callable(content):
                    content(f)
                else:
                    f.write(content)
    return path


def archive_document(path: Path) -> bytes:
    """The JSON text of the structure document of a saved archive."""
    with np.load(path, allow_pickle=False) as npz:
        return npz[HEADER_KEY].tobytes()


def zeros_after(head: bytes, count: int) -> Callable[[Any], None]:
    def write(f: Any) -> None:
        f.write(head)
        block = bytes(MB)
        for start in range(0, count, MB):
            f.write(block[: min(MB, count - start)])
    return write


def refused(path: Path, *needles: str, loader: Callable[[Path], Any] = cio.load) -> tuple[str, int]:
    """Load ``path`` under tracemalloc: the one-line CheckpointError's message (holding ``needles``), and the peak
    of Python and NumPy allocations meanwhile."""
    tracemalloc.start()
    try:
        with pytest.raises(CheckpointError) as info:
            loader(path)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    message = str(info.value)
    assert isinstance(info.value, ChainruleError) and message.startswith(f"cannot load {str(path)!r}: ")
    for needle in needles:
        assert needle in message, (needle, message)
    return message, peak


# ----- sizes ---------------------------------------------------------------------------------------------------------
def test_a_zip_bomb_member_is_refused_without_inflating_it(tmp_path):
    path = archive(tmp_path / "bomb.npz", {
        HEADER_KEY: document(ONE),
        "a0": zeros_after(npy_header("<f8", (3,)), 100 * MB),  # 100 MB of zeros behind a 3-element header
    })
    assert path.stat().st_size < 2 * MB
    _, peak = refused(path, "the member 'a0' inflates to 104857", "its declared shape (3,) and dtype <f8 need 24")
    assert peak < 2 * MB


def test_a_bomb_in_the_structure_document_is_refused_without_inflating_it(tmp_path):
    path = archive(tmp_path / "doc-bomb.npz", {HEADER_KEY: zeros_after(npy_header("|u1", (100 * MB,)), 100 * MB)})
    _, peak = refused(path, f"the '{HEADER_KEY}' entry inflates to", f"more than the {fmt.MAX_DOCUMENT_BYTES}")
    assert peak < 2 * MB


def test_a_structure_document_declaring_too_much_is_refused(tmp_path, monkeypatch):
    path = archive(tmp_path / "doc.npz", {HEADER_KEY: document(ONE), "a0": npy_header("<f8", (3,)) + bytes(24)})
    assert cio.load(path)["x"].shape == (3,)
    monkeypatch.setattr(fmt, "MAX_DOCUMENT_BYTES", 50)
    refused(path, "the structure document declares", "more than the 50 it may have")


def test_sizes_beyond_memory_are_refused_before_allocating(tmp_path):
    huge = dict(ONE, tree={"x": {"$type": "ndarray", "key": "a0", "dtype": "<f8", "shape": [1 << 40, 1 << 20]}})
    path = archive(tmp_path / "huge.npz", {HEADER_KEY: document(huge), "a0": npy_header("<f8", (1 << 40, 1 << 20))})
    message, peak = refused(path, f"its arrays would take {8 << 60} bytes", "more than this machine's memory")
    assert peak < MB and "\n" not in message


def test_the_total_of_the_arrays_must_fit_in_memory(tmp_path, monkeypatch):
    path = tmp_path / "two.npz"
    cio.save(path, {"a": np.zeros(1000), "b": np.ones(1000)})
    monkeypatch.setattr(operands, "MEMORY_BYTES", 12_000)  # each fits, both together do not
    refused(path, "its arrays would take 16000 bytes", "the largest, 'a0', 8000 bytes")
    monkeypatch.undo()
    np.testing.assert_array_equal(cio.load(path)["b"], np.ones(1000))


def test_a_member_header_disagreeing_with_the_structure_is_refused_before_allocating(tmp_path):
    path = archive(tmp_path / "lie.npz", {HEADER_KEY: document(ONE), "a0": npy_header("<f8", (1 << 40,))})
    _, peak = refused(path, "the member 'a0' holds <f8 (1099511627776,), the structure says <f8 (3,)")
    assert peak < MB


@pytest.mark.parametrize(("data", "needle"), [(bytes(30), "holds more data than"), (bytes(20), "is cut short")],
                         ids=["long", "short"])
def test_member_data_must_be_exactly_as_long_as_declared(tmp_path, data, needle):
    path = archive(tmp_path / "len.npz", {HEADER_KEY: document(ONE), "a0": npy_header("<f8", (3,)) + data})
    refused(path, f"the member 'a0' {needle}")


def test_a_document_too_large_to_load_is_not_saved(tmp_path, monkeypatch):
    monkeypatch.setattr(fmt, "MAX_DOCUMENT_BYTES", 1000)
    path = tmp_path / "big.npz"
    with pytest.raises(CheckpointError, match=r"takes \d+ bytes of JSON, more than the 1000 a file may hold"):
        cio.save(path, list(range(1000)))
    assert list(tmp_path.iterdir()) == []
    cio.save(path, np.arange(1000))  # the same numbers as an array: no limit but memory
    np.testing.assert_array_equal(cio.load(path), np.arange(1000))


# ----- members ---------------------------------------------------------------------------------------------------
def test_a_member_named_twice_is_refused(tmp_path):
    path = tmp_path / "twice.npz"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # zipfile warns of the duplicate it is told to write
        archive(path, {HEADER_KEY: document(ONE), "a0": npy_header("<f8", (3,)) + bytes(24)})
        with zipfile.ZipFile(path, "a") as zf:
            zf.writestr("a0.npy", npy_header("<f8", (3,)) + np.ones(3).tobytes())
    refused(path, "the archive holds two members named 'a0.npy'")


def test_compressions_numpy_never_writes_are_refused(tmp_path):
    path = archive(tmp_path / "bz2.npz", {HEADER_KEY: document(ONE), "a0": npy_header("<f8", (3,)) + bytes(24)},
                   compression=zipfile.ZIP_BZIP2)
    refused(path, "uses ZIP compression method 12")


def test_fortran_ordered_and_stored_arrays_still_load(tmp_path):
    value = {"f": np.asfortranarray(np.arange(12.0).reshape(3, 4)), "t": np.datetime64("2020-01-01", "s")}
    for compress in (False, True):
        path = tmp_path / f"ok{compress}.npz"
        cio.save(path, value, compress=compress)
        loaded = cio.load(path)
        np.testing.assert_array_equal(loaded["f"], value["f"])
        assert loaded["f"].flags.f_contiguous and loaded["t"] == value["t"] and isinstance(loaded["t"], np.generic)


# ----- numbers -----------------------------------------------------------------------------------------------------
NUMBER_CASES = {
    "overflowing_float": ('{"format": "chainrule", "version": 1, "kind": "object", "tree": {"lr": 1e999}}',
                          "the number 1e999 does not fit in a float"),
    "infinity_constant": ('{"format": "chainrule", "version": 1, "kind": "object", "tree": {"lr": Infinity}}',
                          "the JSON holds Infinity"),
    "bool_in_shape": (dict(ONE, tree={"$type": "ndarray", "key": "a0", "dtype": "<f8", "shape": [True, 3]}),
                      "malformed array entry"),
    "scalar_with_shape": (dict(ONE, tree={"$type": "scalar", "key": "a0", "dtype": "<f8", "shape": [3]}),
                          "malformed array entry"),
    "tuple_items_not_a_list": (dict(ONE, tree=[{"$type": "tuple", "items": {"ab": 1}}, ONE["tree"]]),
                               "malformed tuple items"),
    "dict_items_not_pairs": (dict(ONE, tree=[{"$type": "dict", "items": ["ab"]}, ONE["tree"]]),
                             "malformed dict items"),
    "float_tag_not_text": (dict(ONE, tree=[{"$type": "float", "value": ["nan"]}, ONE["tree"]]), "bad float"),
    "object_dtype": (dict(ONE, tree={"$type": "ndarray", "key": "a0", "dtype": "|O", "shape": [3]}),
                     "the dtype '|O', which chainrule never writes"),
}


@pytest.mark.parametrize("case", sorted(NUMBER_CASES))
def test_numbers_and_entries_are_read_strictly(tmp_path, case):
    doc, needle = NUMBER_CASES[case]
    path = archive(tmp_path / f"{case}.npz", {HEADER_KEY: document(doc), "a0": npy_header("<f8", (3,)) + bytes(24)})
    refused(path, needle)


def _model_and_optimizer() -> tuple[nn.Module, optim.Optimizer]:
    model = nn.Linear(2, 2)
    return model, optim.Adam(model.parameters(), lr=0.01)


@pytest.mark.parametrize(("name", "value", "needle"), [
    ("lr", float("nan"), "expected a finite number"),
    ("lr", True, "expected a number"),
    ("lr", "0.1", "expected a number"),
    ("betas", [0.9, float("inf")], "expected a finite number"),
    ("betas", [0.9], "expected 2 numbers"),
    ("amsgrad", 1, "expected True or False"),
])
def test_hyper_parameters_in_a_checkpoint_are_checked(tmp_path, name, value, needle):
    model, opt = _model_and_optimizer()
    state = opt.state_dict()
    state["param_groups"][0][name] = value
    path = tmp_path / "ckpt.npz"
    cio.save_checkpoint(path, model=model, optimizer=state, epoch=1)
    before = dict(opt.param_groups[0])
    with pytest.raises(CheckpointStateError) as info:
        cio.load_checkpoint(path, optimizer=opt)
    assert f"param_groups[0][{name!r}]" in str(info.value) and needle in str(info.value)
    assert opt.param_groups[0] == before  # nothing was applied


def test_a_bool_is_not_taken_for_an_epoch(tmp_path):
    path = tmp_path / "ckpt.npz"
    cio.save_checkpoint(path, epoch=3, step=10)
    assert cio.load_checkpoint(path).epoch == 3
    doc = json.loads(archive_document(path))
    doc["tree"]["epoch"] = True
    bad = archive(tmp_path / "bool.npz", {HEADER_KEY: document(doc)})
    refused(bad, "epoch is a bool, not an int", loader=cio.load_checkpoint)


# ----- safetensors -------------------------------------------------------------------------------------------------
@pytest.fixture
def fake_safetensors(monkeypatch):
    """A stand-in for the optional safetensors package that records what it was asked to parse."""
    parsed: list[bytes] = []
    module = types.ModuleType("safetensors.numpy")
    module.load = lambda data: parsed.append(data) or {"w": np.ones(2)}
    package = types.ModuleType("safetensors")
    package.numpy = module
    monkeypatch.setitem(sys.modules, "safetensors", package)
    monkeypatch.setitem(sys.modules, "safetensors.numpy", module)
    return parsed


def test_a_safetensors_header_length_that_does_not_fit_is_refused_unread(tmp_path, fake_safetensors):
    path = tmp_path / "m.safetensors"
    path.write_bytes((1 << 62).to_bytes(8, "little") + b"{}")
    with pytest.raises(CheckpointError, match=f"declares a header of {1 << 62} bytes; the file has 2 after"):
        cio.load_safetensors(path)
    path.write_bytes(b"\x02\x00")
    with pytest.raises(CheckpointError, match="too short for the 8-byte header length"):
        cio.load_safetensors(path)
    assert fake_safetensors == []  # never handed to the parser
    good = (2).to_bytes(8, "little") + b"{}"
    path.write_bytes(good)
    assert list(cio.load_safetensors(path)) == ["w"] and fake_safetensors == [good]


def test_a_safetensors_file_larger_than_memory_is_refused_unread(tmp_path, fake_safetensors, monkeypatch):
    path = tmp_path / "m.safetensors"
    path.write_bytes((2).to_bytes(8, "little") + b"{}" + bytes(100))
    monkeypatch.setattr(operands, "MEMORY_BYTES", 64)
    with pytest.raises(CheckpointError, match="the file has 110 bytes, more than this machine's memory"):
        cio.load_safetensors(path)
    assert fake_safetensors == []
