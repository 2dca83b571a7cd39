"""Frozen dataclasses constructed at nearly the cost of plain ones.

A frozen dataclass's generated ``__init__`` sets each field through
``object.__setattr__`` (its own ``__setattr__`` refuses): on CPython 3.11 an object of eight
fields took 690 ns to build where a plain dataclass took 140. The ingestion of one order
with a loyalty programme builds about fifty such value objects (the engine's order, lines,
awards, lots, entries, decisions...), so that was a tenth of a batch's CPU.

``fast_init`` gives a frozen dataclass an ``__init__`` that writes the instance's
``__dict__`` directly (260 ns for the same eight fields) and is otherwise the one the
dataclass generated: same parameters, defaults, factories, keyword-only fields and
``__post_init__``. Everything else (equality, hashing, the refusal to assign, ``replace``,
pickling) is the dataclass's own. The replacement is checked at decoration time against the
generated signature, and classes it cannot serve the same way (``__slots__``, ``InitVar``)
are refused rather than served differently.
"""

from __future__ import annotations

import dataclasses
import inspect
from typing import Any, TypeVar

T = TypeVar("T")

_FACTORY = object()  # the default of a parameter whose field has a default factory


def _is_factory(default: Any) -> bool:
    # The generated constructor marks such a parameter with the dataclasses module's own
    # private sentinel, whose repr is this.
    return default is _FACTORY or repr(default) == "<factory>"


def _signature(function: Any) -> list[tuple[str, Any, Any]]:
    """Each parameter's name, kind and default (a default factory's marker as such)."""
    return [
        (p.name, p.kind, "<factory>" if _is_factory(p.default) else p.default)
        for p in inspect.signature(function).parameters.values()
    ]


def fast_init(cls: type[T]) -> type[T]:
    """Give the frozen dataclass ``cls`` the cheaper ``__init__`` (see the module)."""
    params = getattr(cls, "__dataclass_params__", None)
    if params is None or not params.frozen:
        raise TypeError(f"{cls.__name__}: fast_init is for frozen dataclasses")
    if "__slots__" in cls.__dict__:
        raise TypeError(f"{cls.__name__}: instances with __slots__ have no __dict__ to write")
    declared = cls.__dataclass_fields__  # type: ignore[attr-defined]
    if any("InitVar" in str(field.type) for field in declared.values()):
        raise TypeError(f"{cls.__name__}: InitVar fields are not supported")
    fields = dataclasses.fields(cls)  # type: ignore[arg-type]
    names = {field.name for field in fields}
    self_name = "self" if "self" not in names else "__fast_init_self__"
    globals_: dict[str, Any] = {"_FACTORY": _FACTORY}
    positional: list[str] = []
    keyword: list[str] = []
    body = [f"  d = {self_name}.__dict__"]
    for field in fields:
        name = field.name
        has_factory = field.default_factory is not dataclasses.MISSING
        if has_factory:
            globals_[f"_factory_{name}"] = field.default_factory
        if not field.init:
            if has_factory:
                body.append(f"  d[{name!r}] = _factory_{name}()")
            elif field.default is not dataclasses.MISSING:
                globals_[f"_default_{name}"] = field.default
                body.append(f"  d[{name!r}] = _default_{name}")
            continue
        if has_factory:
            parameter = f"{name}=_FACTORY"
            body.append(f"  d[{name!r}] = _factory_{name}() if {name} is _FACTORY else {name}")
        else:
            if field.default is not dataclasses.MISSING:
                globals_[f"_default_{name}"] = field.default
                parameter = f"{name}=_default_{name}"
            else:
                parameter = name
            body.append(f"  d[{name!r}] = {name}")
        (keyword if field.kw_only else positional).append(parameter)
    if hasattr(cls, "__post_init__"):
        body.append(f"  {self_name}.__post_init__()")
    signature = ", ".join([self_name, *positional, *(["*", *keyword] if keyword else [])])
    source = f"def __init__({signature}):\n" + "\n".join(body) + "\n"
    namespace: dict[str, Any] = {}
    exec(source, globals_, namespace)  # noqa: S102 - source built from the class's own fields
    init = namespace["__init__"]
    generated = cls.__init__
    if _signature(init)[1:] != _signature(generated)[1:]:
        # A dataclass feature this module does not know: keep the generated one's meaning.
        raise TypeError(f"{cls.__name__}: fast_init would change the constructor's signature")
    init.__qualname__ = f"{cls.__qualname__}.__init__"
    init.__module__ = cls.__module__
    init.__doc__ = generated.__doc__
    cls.__init__ = init  # type: ignore[method-assign]
    return cls
