"""Array parameters packed in PostgreSQL's binary array format here, not by psycopg.

The set-based statements pass each column as one array parameter (``platform.bulk``).
psycopg adapts a Python list generically: on every execution it scans the list for the type
of its elements, builds a new array dumper and dumps each element through a second dumper.
That machinery cost more CPU than the statement itself for a group of single events, which
binds about forty small arrays. Here the element type is known from the column, so an array
is one header and one pass over the values; the statement names the type in its cast
(``%b::BIGINT[]``).

Only the types the hot statements carry are packed: integers, text, booleans, JSON, instants
(aware datetimes) and dates. For anything else, or a value that does not fit the column's
type (``pack`` is given a naive datetime, say), ``pack`` returns the list unchanged and
psycopg adapts it as before, so the database reports the same errors it always did.
"""

from __future__ import annotations

import struct
from collections.abc import Callable, Sequence
from datetime import date, datetime
from typing import Any, ClassVar

import psycopg
from psycopg.adapt import Dumper, PyFormat
from psycopg.pq import Format

_HEAD = struct.Struct(">iiiii")  # dimensions, has nulls, element oid, length, lower bound
_EMPTY = struct.Struct(">iii")  # no dimension: dimensions, has nulls, element oid
_LENGTH = struct.Struct(">i")
_NULL = _LENGTH.pack(-1)
_INT8 = struct.Struct(">iq")  # each element: its length, then the value
_INT4 = struct.Struct(">ii")
_INT2 = struct.Struct(">ih")
_TRUE = _LENGTH.pack(1) + b"\x01"
_FALSE = _LENGTH.pack(1) + b"\x00"
_TIMESTAMP_LENGTH = _LENGTH.pack(8)
# PostgreSQL counts dates in days from 2000-01-01.
_DATE_EPOCH = date(2000, 1, 1).toordinal()


class _Unpackable(Exception):
    """A value the column's binary format cannot carry as given: leave it to psycopg."""


def _text(value: Any) -> bytes:
    if not isinstance(value, str):
        raise _Unpackable
    data = value.encode()
    return _LENGTH.pack(len(data)) + data


def _jsonb(value: Any) -> bytes:
    # Values are serialised documents already; jsonb's binary format is a version byte, then
    # the text.
    if not isinstance(value, str):
        raise _Unpackable
    data = value.encode()
    return _LENGTH.pack(len(data) + 1) + b"\x01" + data


def _boolean(value: Any) -> bytes:
    if value is True:
        return _TRUE
    if value is False:
        return _FALSE
    raise _Unpackable


def _integer(layout: struct.Struct, size: int) -> Callable[[Any], bytes]:
    def pack(value: Any) -> bytes:
        if not isinstance(value, int) or isinstance(value, bool):
            raise _Unpackable
        try:
            return layout.pack(size, value)
        except struct.error as error:  # out of the column's range: psycopg reports it
            raise _Unpackable from error

    return pack


# psycopg's own element dumper for aware datetimes (in C with psycopg's binary build): the
# arithmetic on aware datetimes in Python cost three times as much.
_AWARE = psycopg.adapters.get_dumper(datetime, PyFormat.BINARY)(datetime)


def _instant(value: Any) -> bytes:
    if not isinstance(value, datetime) or value.utcoffset() is None:
        raise _Unpackable  # a naive datetime: psycopg sends it as a timestamp, as before
    dumped = _AWARE.dump(value)
    if dumped is None:  # pragma: no cover - a datetime always dumps
        raise _Unpackable
    return _TIMESTAMP_LENGTH + bytes(dumped)


def _date(value: Any) -> bytes:
    if not isinstance(value, date) or isinstance(value, datetime):
        raise _Unpackable
    return _INT4.pack(4, value.toordinal() - _DATE_EPOCH)


class PackedArray:
    """A one-dimensional array in PostgreSQL's binary format, ready to send."""

    __slots__ = ("data",)
    element_oid: ClassVar[int]

    def __init__(self, data: bytes) -> None:
        self.data = data


class _PackedDumper(Dumper):
    format = Format.BINARY

    def dump(self, obj: PackedArray) -> bytes:
        return obj.data


# (element oid, array oid, element packer) per SQL type name as the dialect compiles it
# (the part before any length: ``VARCHAR(100)`` is ``VARCHAR``).
_KINDS: dict[str, tuple[int, int, Callable[[Any], bytes]]] = {
    "BIGINT": (20, 1016, _integer(_INT8, 8)),
    "INTEGER": (23, 1007, _integer(_INT4, 4)),
    "SMALLINT": (21, 1005, _integer(_INT2, 2)),
    "VARCHAR": (1043, 1015, _text),
    "TEXT": (25, 1009, _text),
    "BOOLEAN": (16, 1000, _boolean),
    "JSONB": (3802, 3807, _jsonb),
    "JSON": (114, 199, _text),  # json's binary format is its text
    "TIMESTAMP WITH TIME ZONE": (1184, 1185, _instant),
    "DATE": (1082, 1182, _date),
}

_classes: dict[str, type[PackedArray]] = {}
for _name, (_element, _array, _) in _KINDS.items():
    _class: type[PackedArray] = type(
        f"Packed{_name.title().replace(' ', '')}",
        (PackedArray,),
        {"__slots__": (), "element_oid": _element},
    )
    _dumper = type(f"{_class.__name__}Dumper", (_PackedDumper,), {"oid": _array})
    # Registered globally, so every connection made afterwards knows them; this module is
    # imported with the database layer, before any connection exists.
    psycopg.adapters.register_dumper(_class, _dumper)
    _classes[_name] = _class


def kind_of(sql_type: str) -> str | None:
    """The packing kind of a column type as compiled for PostgreSQL (None: not packed)."""
    name = sql_type.split("(")[0].strip().upper()
    return name if name in _KINDS else None


def pack(kind: str | None, values: Sequence[Any]) -> Any:
    """``values`` as a packed array of ``kind`` (see ``kind_of``), or the list itself when
    the kind or one of the values is not one this module packs."""
    if kind is None:
        return list(values)
    element_oid, _, element = _KINDS[kind]
    if not values:
        return _classes[kind](_EMPTY.pack(0, 0, element_oid))
    parts: list[bytes] = [b""]
    nulls = 0
    try:
        for value in values:
            if value is None:
                parts.append(_NULL)
                nulls = 1
            else:
                parts.append(element(value))
    except _Unpackable:
        return list(values)
    parts[0] = _HEAD.pack(1, nulls, element_oid, len(values), 1)
    return _classes[kind](b"".join(parts))
