"""Sort keys and tolerant attribute readers shared by the project's pydicom scripts
(scripts/expected-order.py, scripts/peers/pydicom_order.py): one definition of the orders
dicomprep is checked and benchmarked against.
"""

import math
import re

from pydicom.multival import MultiValue

_RUNS = re.compile(r"[0-9]+|[^0-9]+")


def natural_key(path):
    """Natural path order key, as dicomprep's (src/order/natural.rs).

    Digit runs compare by value, then by length (fewer leading zeros first); every other
    character compares by its code point, one character at a time, as does a digit run against
    a non-digit character (a digit run ranks as the byte '0', and no non-digit character lies
    between '0' and '9'). Ties fall back to the bytes of the whole path.
    """
    tokens = []
    for run in _RUNS.findall(path):
        if run[0].isdigit():
            tokens.append((0x30, int(run), len(run)))
        else:
            tokens.extend((ord(c), 0, 0) for c in run)
    return (tuple(tokens), path.encode("utf-8"))


def missing_last(value):
    """Wrap an optional value so that None sorts after every present value."""
    return (0, value) if value is not None else (1, 0)


def _first(value):
    """The first value of a multi-valued attribute, or the value itself."""
    if isinstance(value, (list, tuple, MultiValue)):
        return value[0]
    return value


def get_int(ds, keyword):
    """An integer attribute, or None when absent or malformed."""
    try:
        value = ds.get(keyword)
        if value is None or value == "":
            return None
        return int(_first(value))
    except (ValueError, TypeError, IndexError):
        return None


def get_float(ds, keyword):
    """A finite decimal attribute, or None when absent or malformed."""
    try:
        value = ds.get(keyword)
        if value is None or value == "":
            return None
        value = float(_first(value))
        return value if math.isfinite(value) else None
    except (ValueError, TypeError, IndexError):
        return None


def get_floats(ds, keyword, count):
    """Exactly `count` finite floats, or None."""
    try:
        value = ds.get(keyword)
        if value is None:
            return None
        values = [float(v) for v in value]
    except (ValueError, TypeError):
        return None
    if len(values) != count or not all(math.isfinite(v) for v in values):
        return None
    return values


def projection(ds):
    """Signed distance of the slice along its normal (row x column cosines), or None."""
    iop = get_floats(ds, "ImageOrientationPatient", 6)
    ipp = get_floats(ds, "ImagePositionPatient", 3)
    if iop is None or ipp is None:
        return None
    r, c = iop[0:3], iop[3:6]
    normal = (
        r[1] * c[2] - r[2] * c[1],
        r[2] * c[0] - r[0] * c[2],
        r[0] * c[1] - r[1] * c[0],
    )
    return normal[0] * ipp[0] + normal[1] * ipp[1] + normal[2] * ipp[2]
