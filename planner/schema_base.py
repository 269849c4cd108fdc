"""Shared pieces of the scenario schema: the frozen base model and small helpers."""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Annotated, Any, Literal, get_args

from pydantic import (
    BaseModel,
    ConfigDict,
    StringConstraints,
    ValidationInfo,
    model_validator,
)

from planner.schema_errors import problem
from planner.schema_limits import limit_problems, unit_limits_in_json_schema

PROVIDERS = ("aws", "gcp")
SPOT_NOTICE_S = {"aws": 120.0, "gcp": 30.0}  # provider's warning before a spot node dies (s)
SpotBand = Literal["<5%", "5-10%", "10-15%", "15-20%", ">20%"]  # AWS Spot Advisor bands

Name = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]


def _resolve_path(value: str, info: ValidationInfo) -> str:
    """Join a relative ``path`` to the context's ``base_dir`` (string math, no filesystem)."""
    base_dir = (info.context or {}).get("base_dir")
    if base_dir is None or os.path.isabs(value):
        return value
    return os.path.normpath(os.path.join(os.fspath(base_dir), value))


class _Frozen(BaseModel):
    """Base of every scenario model: immutable, no unknown fields, no NaN or infinity, and no
    number beyond what the simulators can represent (:mod:`planner.schema_limits`)."""

    model_config = ConfigDict(frozen=True, extra="forbid", allow_inf_nan=False,
                              json_schema_extra=unit_limits_in_json_schema)

    @model_validator(mode="before")
    @classmethod
    def _refuse_bools_as_numbers(cls, data: Any) -> Any:
        # pydantic's lax mode reads true as 1, and YAML 1.1 reads yes/no/on/off as booleans.
        if isinstance(data, Mapping):
            for name, value in data.items():
                field = cls.model_fields.get(name) if isinstance(name, str) else None
                if isinstance(value, bool) and field is not None and \
                        _numeric(field.annotation):
                    raise problem((name, f"must be a number (got {value}; YAML reads yes, no, "
                                         "on, off, true and false as booleans); write a number"))
        return data

    @model_validator(mode="after")
    def _check_unit_limits(self) -> Any:
        problems = limit_problems(type(self).model_fields, dict(self))
        if problems:
            raise problem(*problems)
        return self


def _numeric(annotation: Any) -> bool:
    """Whether a field holds a number (``int``, ``float``, or one of them or None)."""
    members = [a for a in get_args(annotation) if a is not type(None)] or [annotation]
    return members in ([int], [float])
