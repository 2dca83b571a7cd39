"""fast_init: frozen dataclasses keep every behaviour of their generated constructor."""

from __future__ import annotations

import dataclasses
import inspect
import pickle
from dataclasses import dataclass, field

import pytest

from fidela.kernel.values import fast_init


@fast_init
@dataclass(frozen=True)
class Line:
    sku: str
    quantity: int = 1
    tags: tuple[str, ...] = ()
    notes: list[str] = field(default_factory=list)
    total: int = field(init=False, default=0)


@fast_init
@dataclass(frozen=True)
class Priced(Line):
    price: int = 0

    def __post_init__(self) -> None:
        object.__setattr__(self, "total", self.quantity * self.price)


@fast_init
@dataclass(frozen=True, kw_only=True)
class Named:
    name: str
    label: str = "x"


def test_fields_defaults_and_factories_are_set_as_the_dataclass_sets_them() -> None:
    line = Line("A")
    assert (line.sku, line.quantity, line.tags, line.notes, line.total) == ("A", 1, (), [], 0)
    assert Line("A").notes is not Line("A").notes  # a new list per instance
    assert Line(sku="B", quantity=3, notes=["n"]).notes == ["n"]


def test_post_init_runs_and_subclass_fields_follow_the_base_ones() -> None:
    priced = Priced("A", 2, price=5)
    assert priced.total == 10
    assert [f.name for f in dataclasses.fields(priced)] == [
        "sku",
        "quantity",
        "tags",
        "notes",
        "total",
        "price",
    ]


def test_equal_values_are_equal_hash_alike_and_cannot_be_assigned() -> None:
    assert Line("A", 2) == Line("A", 2)
    assert hash(Named(name="n", label="y")) == hash(Named(name="n", label="y"))
    assert Named(name="n") == Named(name="n")
    with pytest.raises(dataclasses.FrozenInstanceError):
        Line("A").sku = "B"  # type: ignore[misc]


def test_keyword_only_fields_stay_keyword_only_and_required_ones_required() -> None:
    with pytest.raises(TypeError):
        Named("n")  # type: ignore[call-arg]
    with pytest.raises(TypeError):
        Line()  # type: ignore[call-arg]
    assert Named(name="n").label == "x"


def test_replace_and_pickle_give_back_equal_values() -> None:
    priced = Priced("A", 2, price=5)
    assert dataclasses.replace(priced, price=7).total == 14
    assert pickle.loads(pickle.dumps(priced)) == priced  # noqa: S301 - our own bytes


@dataclass(frozen=True)
class PlainLine:
    """``Line`` without fast_init."""

    sku: str
    quantity: int = 1
    tags: tuple[str, ...] = ()
    notes: list[str] = field(default_factory=list)
    total: int = field(init=False, default=0)


def test_the_signature_is_the_generated_one() -> None:
    ours = inspect.signature(Line.__init__).parameters.values()
    theirs = inspect.signature(PlainLine.__init__).parameters.values()
    assert [(p.name, p.kind) for p in ours] == [(p.name, p.kind) for p in theirs]
    assert [p.default for p in ours][:4] == [p.default for p in theirs][:4]
    assert [p.name for p in ours] == ["self", "sku", "quantity", "tags", "notes"]
    assert list(inspect.signature(Named.__init__).parameters) == ["self", "name", "label"]
    assert inspect.signature(Named.__init__).parameters["name"].kind is (
        inspect.Parameter.KEYWORD_ONLY
    )


def test_classes_it_cannot_serve_alike_are_refused() -> None:
    @dataclass
    class Plain:
        a: int

    @dataclass(frozen=True, slots=True)
    class Slotted:
        a: int

    with pytest.raises(TypeError, match="frozen"):
        fast_init(Plain)
    with pytest.raises(TypeError, match="__slots__"):
        fast_init(Slotted)
