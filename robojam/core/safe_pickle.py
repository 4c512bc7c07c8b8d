"""Unpickling a numpy object array (a ragged corpus) without trusting the pickle, within caps.

numpy stores an object array as a pickle, and a pickle can name any
function to call or make a few bytes stand for gigabytes. :func:`load_object_array`
walks the pickle opcode by opcode (Python's own pure-Python unpickler, with
a few of its opcodes checked) so that:

- only numpy's array reconstruction (``_reconstruct``, ``dtype``,
  ``scalar``) can be called, and ``_reconstruct`` only to make an empty
  array; every other global, and the opcodes that build other objects, are
  refused before anything runs;
- every array's shape and dtype are checked against the caps of
  :mod:`robojam.core.data_caps` before numpy allocates it (at ``BUILD``),
  and every state is checked to be numpy's own layout before numpy's
  ``__setstate__`` sees it (numpy trusts it: an object array's state
  listing fewer items than its shape crashes the process);
- an array may not be referred to twice (a memo ``GET`` or a ``DUP`` of an
  array): a 600-byte pickle could otherwise hold 100,000 references to one
  array and come back as 100,000 performances;
- the member's bytes are read through :class:`BoundedReader`, and the walk
  may take at most ``MAX_PICKLE_OPS_PER_ITEM`` opcodes per performance.
"""

from __future__ import annotations

import math
import pickle
import pickletools
import re

import numpy as np

from robojam import RobojamError
from robojam.core.data_caps import MAX_PICKLE_OPS_PER_ITEM, Tally, check_performances, refuse

# The callables a pickled numpy array needs, whichever numpy wrote it: numpy 1
# pickles name them under numpy.core, numpy 2 under numpy._core.
_RECONSTRUCT = np.zeros(0).__reduce__()[0]   # multiarray._reconstruct
_SCALAR = np.float64(0).__reduce__()[0]      # multiarray.scalar
ALLOWED_GLOBALS = {
    ("numpy", "ndarray"): np.ndarray,
    ("numpy", "dtype"): np.dtype,
    ("numpy.core.multiarray", "_reconstruct"): _RECONSTRUCT,
    ("numpy._core.multiarray", "_reconstruct"): _RECONSTRUCT,
    ("numpy.core.multiarray", "scalar"): _SCALAR,
    ("numpy._core.multiarray", "scalar"): _SCALAR,
}
# What REDUCE may call: ndarray itself is only ever an argument of _reconstruct.
_CALLABLE = (_RECONSTRUCT, np.dtype, _SCALAR)
# Opcodes that build anything but plain data, numbers, tuples, lists and numpy's calls.
_REFUSED_OPS = {op.code.encode("latin1")[0] for op in pickletools.opcodes
                if op.name in ("INST", "OBJ", "NEWOBJ", "NEWOBJ_EX", "PERSID", "BINPERSID",
                               "EXT1", "EXT2", "EXT4", "NEXT_BUFFER", "READONLY_BUFFER")}
_LINE_BYTES = 1 << 16  # the longest line a pickle opcode (a global's name) is read with
# The dtypes a corpus pickle names: numbers and objects, by code ('f4', 'b1', 'O8').
_DTYPE_CODE = re.compile(r"[biufO][0-9]{1,2}")


class BoundedReader:
    """A binary file read through, refusing (with one line) to read more than ``limit`` bytes in all."""

    def __init__(self, file, limit: int, name: str):
        self.file, self.left, self.name, self.limit = file, limit, name, limit

    def _take(self, n: int) -> None:
        if n > self.left:
            raise refuse(self.name, f"its data asks for {n:,} bytes with {self.left:,} left of the cap",
                         self.limit, "bytes per array")
        self.left -= n

    def read(self, n: int = -1) -> bytes:
        n = self.left if n is None or n < 0 else n
        self._take(n)  # refused before reading: a pickle may ask for 2**63 bytes
        data = self.file.read(n)
        self.left += n - len(data)
        return data

    def readinto(self, buffer) -> int:
        data = self.read(len(buffer))
        buffer[:len(data)] = data
        return len(data)

    def readline(self, size: int = -1) -> bytes:
        size = min(_LINE_BYTES if size is None or size < 0 else size, self.left)
        line = self.file.readline(size)
        self.left -= len(line)
        return line


def load_object_array(file, shape: tuple[int, ...], name: str, tally: Tally | None = None) -> np.ndarray:
    """The object array of ``shape`` (from its ``.npy`` header) pickled in ``file``, checked as it is built.

    Raises :class:`RobojamError` (one line naming ``name``) for anything
    refused: a global or opcode outside numpy's array reconstruction, an
    array referred to twice, an array past a cap, a damaged pickle.
    """
    items = math.prod(shape)
    check_performances(items, name)
    unpickler = _CheckedUnpickler(file, name, tuple(shape), tally or Tally(name),
                                  budget=256 + MAX_PICKLE_OPS_PER_ITEM * items)
    return unpickler.load()


def _checked(op):
    """A dispatch entry that counts the opcode against the walk's budget before running ``op``."""
    def run(self):
        self.budget -= 1
        if self.budget < 0:
            raise RobojamError(f"{self.name}: refused: its pickle takes more than "
                               f"{MAX_PICKLE_OPS_PER_ITEM} steps per performance (a damaged or hostile file)")
        op(self)
    return run


def _refusing_arrays(op):
    """A memo reference (GET) or DUP that refuses to push an array a second time."""
    def run(self):
        op(self)
        if isinstance(self.stack[-1], np.ndarray):
            raise RobojamError(f"{self.name}: refused: its pickle refers to one array twice; each performance "
                               "must be an array of its own (a few bytes could stand for thousands)")
    return run


class _CheckedUnpickler(pickle._Unpickler):
    """Python's pure-Python unpickler with its calls, memo references and array builds checked."""

    def __init__(self, file, name: str, shape: tuple[int, ...], tally: Tally, budget: int):
        super().__init__(file, encoding="latin1")
        self.name, self.shape, self.tally, self.budget = name, shape, tally, budget
        self.object_arrays = 0

    def find_class(self, module: str, name: str):
        try:
            return ALLOWED_GLOBALS[(module, name)]
        except KeyError:
            raise RobojamError(
                f"{self.name}: refused to load: its pickle calls {module[:80]}.{name[:80]}, and only numpy "
                "arrays are allowed (a crafted or foreign file)") from None

    def persistent_load(self, pid):
        raise RobojamError(f"{self.name}: refused to load: its pickle holds a persistent reference")

    def _reduce(self):
        args = self.stack[-1]
        func = self.stack[-2]
        if not any(func is allowed for allowed in _CALLABLE):
            raise RobojamError(f"{self.name}: refused to load: its pickle calls "
                               f"{getattr(func, '__name__', type(func).__name__)[:80]}, not numpy's array "
                               "reconstruction")
        if func is np.dtype and not (isinstance(args, tuple) and len(args) == 3 and isinstance(args[0], str)
                                     and _DTYPE_CODE.fullmatch(args[0]) and args[1:] == (False, True)):
            raise RobojamError(f"{self.name}: refused: its pickle makes a dtype other than numbers or objects")
        if func is _RECONSTRUCT and not (isinstance(args, tuple) and len(args) == 3 and args[0] is np.ndarray
                                         and _shape(args[1]) is not None and math.prod(_shape(args[1])) == 0):
            raise RobojamError(f"{self.name}: refused: its pickle builds an array other than numpy's way "
                               "(an empty array, then its data)")
        pickle._Unpickler.load_reduce(self)

    def _build(self):
        state, inst = self.stack[-1], self.stack[-2]
        if type(inst) is np.ndarray:
            self._check_array_state(state)
        elif isinstance(inst, np.dtype):
            # numpy's dtype.__setstate__ trusts its input (a malformed state, or flags saying a float is
            # an object pointer, can crash the process): the dtype is numpy's own fresh copy (copy=True
            # above), and its state may differ from the one numpy gives it only in byte order.
            own = inst.__reduce__()[2]
            orders = ("<", ">") if own[1] in ("<", ">") else (own[1],)
            if not (isinstance(state, tuple) and len(state) == len(own) and state[1] in orders
                    and state[:1] + state[2:] == own[:1] + own[2:]):
                raise RobojamError(f"{self.name}: damaged .npy data (a dtype's state is not numpy's)")
        else:
            raise RobojamError(f"{self.name}: refused: its pickle sets the state of a "
                               f"{type(inst).__name__[:80]}, not of a numpy array")
        pickle._Unpickler.load_build(self)

    def _check_array_state(self, state) -> None:
        if not (isinstance(state, tuple) and len(state) == 5 and state[0] == 1 and type(state[3]) is bool):
            raise RobojamError(f"{self.name}: damaged .npy data (an array's state is not numpy's)")
        shape, dtype, data = _shape(state[1]), state[2], state[4]
        if shape is None or not isinstance(dtype, np.dtype):
            raise RobojamError(f"{self.name}: damaged .npy data (an array's shape or dtype is not numpy's)")
        # numpy's __setstate__ reads an object array's list for as many items as the shape says, however
        # short the list (a crash): the list must hold exactly that many.
        if not (isinstance(data, list) and len(data) == math.prod(shape) if dtype.hasobject
                else isinstance(data, (bytes, str))):
            raise RobojamError(f"{self.name}: damaged .npy data (an array's data is not numpy's)")
        if dtype.hasobject:
            self.object_arrays += 1
            if self.object_arrays > 1 or shape != self.shape:
                raise RobojamError(f"{self.name}: refused: an object array inside the object array "
                                   "(expected performances of numbers)")
            return
        if dtype.kind not in "biuf":
            raise RobojamError(f"{self.name}: holds a {str(dtype)[:80]} array, expected numbers")
        self.tally.add(shape)

    dispatch = {code: _checked(op) for code, op in pickle._Unpickler.dispatch.items() if code not in _REFUSED_OPS}
    for _code in (pickle.GET, pickle.BINGET, pickle.LONG_BINGET):
        dispatch[_code[0]] = _checked(_refusing_arrays(pickle._Unpickler.dispatch[_code[0]]))
    dispatch[pickle.DUP[0]] = _checked(_refusing_arrays(pickle._Unpickler.dispatch[pickle.DUP[0]]))
    dispatch[pickle.REDUCE[0]] = _checked(_reduce)
    dispatch[pickle.BUILD[0]] = _checked(_build)
    del _code


def _shape(value) -> tuple[int, ...] | None:
    """``value`` as an array shape (a tuple of at most 32 ints from 0), or None."""
    if not isinstance(value, tuple) or len(value) > 32:
        return None
    if not all(isinstance(n, (int, np.integer)) and not isinstance(n, bool) and n >= 0 for n in value):
        return None
    return tuple(int(n) for n in value)
