"""Reading ``.npz`` archives without trusting their pickles.

numpy stores an object array (a ragged list of performances, as IMPSY and
the published corpus save them) as a pickle inside the ``.npy`` member, and
``np.load(..., allow_pickle=True)`` would run whatever that pickle names:
a crafted file can call ``os.system``. :func:`load_npz_arrays` never does.
Plain numeric members are read by numpy with ``allow_pickle=False``; object
members are unpickled by :class:`ArrayUnpickler`, which builds numpy arrays,
dtypes and scalars and refuses every other global, so nothing in the file
can run code.
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

# The callables a pickled numpy array needs, whichever numpy wrote it: numpy 1
# pickles name them under numpy.core, numpy 2 under numpy._core.
_RECONSTRUCT = np.zeros(0).__reduce__()[0]   # multiarray._reconstruct
_SCALAR = np.float64(0).__reduce__()[0]      # multiarray.scalar
MAX_MEMBER_BYTES = 1 << 30  # one array's bytes at most, as the archive declares them (no corpus comes close)
ALLOWED_GLOBALS = {
    ("numpy", "ndarray"): np.ndarray,
    ("numpy", "dtype"): np.dtype,
    ("numpy.core.multiarray", "_reconstruct"): _RECONSTRUCT,
    ("numpy._core.multiarray", "_reconstruct"): _RECONSTRUCT,
    ("numpy.core.multiarray", "scalar"): _SCALAR,
    ("numpy._core.multiarray", "scalar"): _SCALAR,
}


class ArrayUnpickler(pickle.Unpickler):
    """An unpickler that builds numpy arrays and nothing else.

    ``find_class`` is the only way a pickle reaches a callable; here it
    answers with numpy's array reconstruction (``_reconstruct``,
    ``ndarray``, ``dtype``, ``scalar``) and refuses any other global with a
    :class:`RobojamError` naming it, before anything is called.
    """

    def __init__(self, file, name: str):
        super().__init__(file, encoding="latin1")
        self.name = name

    def find_class(self, module: str, name: str):
        try:
            return ALLOWED_GLOBALS[(module, name)]
        except KeyError:
            raise RobojamError(
                f"{self.name}: refused to load: its pickle calls {module}.{name}, and only numpy arrays "
                "are allowed (a crafted or foreign file)") from None

    def persistent_load(self, pid):
        raise RobojamError(f"{self.name}: refused to load: its pickle holds a persistent reference")


def load_npz_arrays(path: str | Path, keys=None) -> dict[str, np.ndarray]:
    """Every array in an ``.npz`` archive (or those named in ``keys``), loaded safely.

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
            wanted = list(members) if keys is None else list(keys)
            missing = [k for k in wanted if k not in members]
            if missing:
                held = ", ".join(map(repr, list(members)[:10])) + (", ..." if len(members) > 10 else "")
                raise RobojamError(f"{path}: no {', '.join(map(repr, missing))} array; "
                                   f"it holds {held or 'no arrays'}")
            return {key: _read_member(archive, members[key], f"{path}[{key}]") for key in wanted}
    except zipfile.BadZipFile:
        raise RobojamError(f"{path}: not a .npz archive (not a zip file)") from None
    except OSError as e:
        raise RobojamError(f"{path}: cannot read ({e.strerror or e})") from None
    except (ValueError, EOFError, NotImplementedError, RuntimeError, OverflowError, struct.error) as e:
        # zipfile's own complaints about a damaged or exotic archive (a version, a name, an offset)
        raise RobojamError(f"{path}: not a .npz archive robojam can read ({str(e)[:120]})") from None


def _read_member(archive: zipfile.ZipFile, info: zipfile.ZipInfo, name: str) -> np.ndarray:
    fmt = np.lib.format
    if info.file_size > MAX_MEMBER_BYTES:
        raise RobojamError(f"{name}: {info.file_size:,} bytes, more than robojam reads of one array "
                           f"({MAX_MEMBER_BYTES:,})")
    try:
        with archive.open(info) as f:
            version = fmt.read_magic(f)
            if version == (1, 0):
                shape, fortran, dtype = fmt.read_array_header_1_0(f)
            elif version == (2, 0):
                shape, fortran, dtype = fmt.read_array_header_2_0(f)
            else:
                raise RobojamError(f"{name}: unsupported .npy format version {version}")
            if not dtype.hasobject:
                needed = f.tell() + dtype.itemsize * math.prod(shape)
                if needed > info.file_size:  # checked before numpy allocates the array its header claims
                    raise RobojamError(f"{name}: damaged .npy data (its header claims {needed:,} bytes, "
                                       f"the archive holds {info.file_size:,})")
                with archive.open(info) as again:
                    return fmt.read_array(again, allow_pickle=False)
            array = ArrayUnpickler(f, name).load()
    except RobojamError:
        raise
    except (ValueError, EOFError, OSError, zipfile.BadZipFile, pickle.UnpicklingError, zlib.error,
            NotImplementedError, RuntimeError, SyntaxError, OverflowError, MemoryError, RecursionError,
            TypeError, AttributeError, IndexError, KeyError) as e:
        raise RobojamError(f"{name}: damaged .npy data ({e})") from None
    if not isinstance(array, np.ndarray) or array.shape != tuple(shape):
        raise RobojamError(f"{name}: damaged .npy data (the pickle is not the array its header describes)")
    for item in array.flat:
        _check_item(item, name)
    return array


def _check_item(item, name: str) -> None:
    if isinstance(item, np.ndarray):
        if item.dtype.kind not in "biuf":
            raise RobojamError(f"{name}: holds a {item.dtype} array, expected numbers")
    elif not isinstance(item, (int, float, np.integer, np.floating, np.bool_)):
        raise RobojamError(f"{name}: holds a {type(item).__name__}, expected numeric arrays or numbers")
