"""How much one data file may hold: the caps every reader checks before it allocates.

A shared corpus, IMPSY dataset or CSV is read by robojam on a performer's
machine, so a small hostile file must not be able to make it allocate
gigabytes. The caps sit far above any real corpus (the published one holds
about 1,400 performances and 214,000 touches) and far below what would
exhaust a laptop:

- ``MAX_PERFORMANCES``: performances in one file (100,000);
- ``MAX_TOUCHES``: touches (rows) in one performance (1,000,000);
- ``MAX_FILE_TOUCHES``: touches in one file (10,000,000);
- ``MAX_ROW_NUMBERS``: numbers in one row (16);
- ``MAX_FILE_NUMBER_BYTES``: the file's numbers, counted as the float64 that
  robojam holds them in (256 MiB);
- ``MAX_MEMBER_BYTES``: one ``.npy`` member's decompressed bytes, the
  numbers plus pickle framing for every performance (about 305 MiB).

Each refusal is one :class:`RobojamError` line naming the file, the cap and
the figure that broke it. :class:`Tally` keeps a file's running totals.
"""

from __future__ import annotations

import math

from robojam import RobojamError

MAX_PERFORMANCES = 100_000
MAX_TOUCHES = 1_000_000
MAX_FILE_TOUCHES = 10_000_000
MAX_ROW_NUMBERS = 16
MAX_FILE_NUMBER_BYTES = 256 << 20
NUMBER_BYTES = 8  # robojam holds every number as a float64
# the numbers, plus up to 512 bytes of pickle framing (opcodes, shapes, dtypes) for each performance
MAX_MEMBER_BYTES = MAX_FILE_NUMBER_BYTES + MAX_PERFORMANCES * 512
# opcodes a pickled object array may take: numpy writes about 23 for each performance it holds
MAX_PICKLE_OPS_PER_ITEM = 64


def refuse(name: str, what: str, cap: int | float, unit: str) -> RobojamError:
    """The one line for a cap broken: ``name: refused: WHAT, more than robojam reads (CAP UNIT)``."""
    return RobojamError(f"{name}: refused: {what}, more than robojam reads ({cap:,} {unit}; "
                        "a damaged or hostile file)")


def check_performances(count: int, name: str) -> None:
    if count > MAX_PERFORMANCES:
        raise refuse(name, f"{count:,} performances", MAX_PERFORMANCES, "per file")


def check_member_bytes(size: int, name: str) -> None:
    if size > MAX_MEMBER_BYTES:
        raise refuse(name, f"{size:,} bytes in one array", MAX_MEMBER_BYTES, "bytes")


class Tally:
    """A file's running totals of touches and numbers, refusing the first block past a cap.

    A block is one performance's array (rows of numbers) or a numeric array
    of several; :meth:`add` is called with its shape before it is allocated.
    """

    def __init__(self, name: str):
        self.name = name
        self.touches = 0
        self.numbers = 0

    def add(self, shape: tuple[int, ...], performances: int = 1) -> None:
        """Count a block of ``performances`` performances whose array has ``shape``.

        The last axis is a row's numbers (for two or more axes), the one
        before it a performance's touches, and any before that performances.
        """
        shape = tuple(int(n) for n in shape)
        if any(n < 0 for n in shape):
            raise RobojamError(f"{self.name}: damaged array (negative shape {shape})")
        row = shape[-1] if len(shape) >= 2 else 1
        touches = math.prod(shape[:-1]) if len(shape) >= 2 else math.prod(shape)
        per_performance = shape[-2] if len(shape) >= 2 else touches
        check_performances(performances, self.name)
        if row > MAX_ROW_NUMBERS:
            raise refuse(self.name, f"rows of {row:,} numbers", MAX_ROW_NUMBERS, "numbers per row")
        if per_performance > MAX_TOUCHES:
            raise refuse(self.name, f"a performance of {per_performance:,} touches", MAX_TOUCHES,
                         "touches per performance")
        self.touches += touches
        self.numbers += touches * row
        if self.touches > MAX_FILE_TOUCHES:
            raise refuse(self.name, f"{self.touches:,} touches or more", MAX_FILE_TOUCHES, "touches per file")
        if self.numbers * NUMBER_BYTES > MAX_FILE_NUMBER_BYTES:
            raise refuse(self.name, f"{self.numbers * NUMBER_BYTES:,} bytes of numbers or more",
                         MAX_FILE_NUMBER_BYTES, "bytes per file, as float64")
