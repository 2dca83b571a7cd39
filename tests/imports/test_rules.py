"""Pure rules of the import: how a cell of an attribute column is read."""

from __future__ import annotations

import pytest

from fidela.customer.rules import AttributeType
from fidela.imports.rules import RowInvalid, attribute_value

COLUMN = "attribute.x"


@pytest.mark.parametrize(
    ("kind", "cell", "value"),
    [
        (AttributeType.INTEGER, "12", 12),
        (AttributeType.INTEGER, 12, 12),
        (AttributeType.NUMBER, "54.5", 54.5),
        (AttributeType.NUMBER, "7", 7),
        (AttributeType.NUMBER, 2.25, 2.25),
        (AttributeType.BOOLEAN, "yes", True),
        (AttributeType.BOOLEAN, False, False),
        (AttributeType.DATE, "2021-05-03", "2021-05-03"),
        (AttributeType.DATETIME, "2021-05-03 10:00:00Z", "2021-05-03T10:00:00+00:00"),
        (AttributeType.STRING, " gold ", "gold"),
        (None, "anything", "anything"),
        (AttributeType.INTEGER, "", None),
        (AttributeType.NUMBER, float("nan"), None),
    ],
)
def test_a_cell_is_read_as_its_declared_type(
    kind: AttributeType | None, cell: object, value: object
) -> None:
    assert attribute_value(cell, COLUMN, kind) == value


@pytest.mark.parametrize(
    ("kind", "cell"),
    [
        (AttributeType.INTEGER, "twelve"),
        (AttributeType.NUMBER, "inf"),
        (AttributeType.NUMBER, "n/a"),
        (AttributeType.NUMBER, float("inf")),
        (AttributeType.BOOLEAN, "maybe"),
        (AttributeType.DATE, "03/05/2021"),
        (AttributeType.DATETIME, "2021-05-03 10:00"),
    ],
)
def test_a_cell_that_is_not_its_declared_type_is_refused_at_its_column(
    kind: AttributeType, cell: object
) -> None:
    with pytest.raises(RowInvalid) as refused:
        attribute_value(cell, COLUMN, kind)
    assert [p.pointer for p in refused.value.problems] == [f"/{COLUMN}"]
