"""Reader for IDX files (MNIST, Fashion-MNIST), gzipped or not."""
import gzip
import struct

import numpy as np

_DTYPES = {0x08: np.uint8, 0x09: np.int8, 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}


def read_idx(path: str) -> np.ndarray:
    opener = gzip.open if path.endswith(".gz") else open
    with opener(path, "rb") as handle:
        data = handle.read()
    zero, dtype_code, ndim = struct.unpack(">HBB", data[:4])
    if zero != 0 or dtype_code not in _DTYPES:
        raise ValueError(f"{path}: not an IDX file (magic {data[:4].hex()})")
    shape = struct.unpack(">" + "I" * ndim, data[4 : 4 + 4 * ndim])
    array = np.frombuffer(data, dtype=_DTYPES[dtype_code], offset=4 + 4 * ndim)
    return array.reshape(shape)
