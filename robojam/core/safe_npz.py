"""Reading ``.npz`` archives without trusting their pickles.

numpy stores an object array (a ragged list of performances, as IMPSY and
the published corpus save them) as a pickle inside the ``.npy`` member, and
``np.load(..., allow_pickle=True)`` would run whatever that pickle names:
a crafted file can call ``os.system``. :func:`load_npz_arrays` never does.
Plain numeric members are read by numpy with ``allow_pickle=False``; object
members are unpickled by :func:`robojam.core.safe_pickle.load_object_array`,
which builds numpy arrays, dtypes and scalars and refuses every other global,
so nothing in the file can run code. Every member is held to the caps of
:mod:`robojam.core.data_caps` (performances, touches, numbers, bytes), checked
from its headers before anything is allocated, and a file's members share one
:class:`~robojam.core.data_caps.Tally`.
"""

from __future__ import annotations

import math
import pickle
import struct
import zipfile
import zlib
from pathlib import Path

import numpy as np

from robojam import RobojamError
from robojam.core.data_caps import MAX_MEMBER_BYTES, Tally, check_member_bytes
from robojam.core.safe_pickle import BoundedReader, load_object_array

def load_npz_arrays(path: str | Path, keys=None, optional=()) -> dict[str, np.ndarray]:
    """Every array in an ``.npz`` archive (or those named in ``keys``, and those of ``optional`` it holds),
    loaded safely.

    Keys are member names without ``.npy``, as ``np.load`` gives them.
    Numeric arrays come back as numpy reads them; object arrays come back as
    object arrays whose elements are numeric arrays or numbers (anything else
    in them is refused). No pickle is ever trusted: a pickle naming anything
    but numpy's array reconstruction raises :class:`RobojamError` before it
    runs. A missing file, a file that is not a zip archive, a damaged member
    or a missing key also raise :class:`RobojamError` naming the file.
    """
    path = Path(path)
    if not path.exists():
        raise RobojamError(f"{path}: no such file")
    try:
        with zipfile.ZipFile(path) as archive:
            members = {info.filename[:-4]: info for info in archive.infolist() if info.filename.endswith(".npy")}
            wanted = list(members) if keys is None else list(keys) + [k for k in optional if k in members]
            missing = [k for k in wanted if k not in members]
            if missing:
                held = ", ".join(map(repr, list(members)[:10])) + (", ..." if len(members) > 10 else "")
                raise RobojamError(f"{path}: no {', '.join(map(repr, missing))} array; "
                                   f"it holds {held or 'no arrays'}")
            tally = Tally(str(path))
            return {key: _read_member(archive, members[key], f"{path}[{key}]", tally) for key in wanted}
    except zipfile.BadZipFile:
        raise RobojamError(f"{path}: not a .npz archive (not a zip file)") from None
    except OSError as e:
        raise RobojamError(f"{path}: cannot read ({e.strerror or e})") from None
    except (ValueError, EOFError, NotImplementedError, RuntimeError, OverflowError, struct.error) as e:
        # zipfile's own complaints about a damaged or exotic archive (a version, a name, an offset)
        raise RobojamError(f"{path}: not a .npz archive robojam can read ({str(e)[:120]})") from None


def _read_member(archive: zipfile.ZipFile, info: zipfile.ZipInfo, name: str, tally: Tally) -> np.ndarray:
    fmt = np.lib.format
    check_member_bytes(info.file_size, name)
    try:
        with archive.open(info) as member:
            f = BoundedReader(member, min(info.file_size, MAX_MEMBER_BYTES), name)
            version = fmt.read_magic(f)
            if version == (1, 0):
                shape, fortran, dtype = fmt.read_array_header_1_0(f)
            elif version == (2, 0):
                shape, fortran, dtype = fmt.read_array_header_2_0(f)
            else:
                raise RobojamError(f"{name}: unsupported .npy format version {version}")
            if dtype.hasobject:
                array = load_object_array(f, tuple(shape), name, tally)
            else:
                # checked from the header before numpy allocates the array it claims
                tally.add(shape, performances=math.prod(shape[:-2]) if len(shape) > 2 else 1)
                needed = f.file.tell() + dtype.itemsize * math.prod(shape)
                if needed > info.file_size:
                    raise RobojamError(f"{name}: damaged .npy data (its header claims {needed:,} bytes, "
                                       f"the archive holds {info.file_size:,})")
                if dtype.kind not in "biuf":
                    raise RobojamError(f"{name}: holds a {str(dtype)[:80]} array, expected numbers")
        if not dtype.hasobject:
            with archive.open(info) as again:  # numpy reads the header again, then the data in chunks
                return fmt.read_array(BoundedReader(again, info.file_size, name), allow_pickle=False)
    except RobojamError:
        raise
    except (ValueError, EOFError, OSError, zipfile.BadZipFile, pickle.UnpicklingError, zlib.error,
            NotImplementedError, RuntimeError, SyntaxError, OverflowError, MemoryError, RecursionError,
            TypeError, AttributeError, IndexError, KeyError, struct.error) as e:
        raise RobojamError(f"{name}: damaged .npy data ({str(e)[:120]})") from None
    if not isinstance(array, np.ndarray) or array.shape != tuple(shape):
        raise RobojamError(f"{name}: damaged .npy data (the pickle is not the array its header describes)")
    for item in array.flat:
        _check_item(item, name)
    return array


def _check_item(item, name: str) -> None:
    if isinstance(item, np.ndarray):
        if item.dtype.kind not in "biuf":
            raise RobojamError(f"{name}: holds a {str(item.dtype)[:80]} array, expected numbers")
    elif not isinstance(item, (int, float, np.integer, np.floating, np.bool_)):
        raise RobojamError(f"{name}: holds a {type(item).__name__[:80]}, expected numeric arrays or numbers")
