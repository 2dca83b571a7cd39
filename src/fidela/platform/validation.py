"""Pydantic validation errors as field problems with JSON pointers."""

from __future__ import annotations

from pydantic import ValidationError

from fidela.kernel.errors import FieldProblem


def problems_from(error: ValidationError, prefix: str = "") -> list[FieldProblem]:
    problems = []
    for item in error.errors():
        parts = [str(part).replace("~", "~0").replace("/", "~1") for part in item.get("loc", ())]
        pointer = prefix + ("/" + "/".join(parts) if parts else "")
        problems.append(FieldProblem(pointer or "/", str(item.get("msg", "invalid"))))
    return problems


def summary(problems: list[FieldProblem]) -> str:
    return "; ".join(f"{p.pointer}: {p.message}" for p in problems)
