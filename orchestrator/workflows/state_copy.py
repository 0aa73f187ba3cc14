"""Copying a workflow's state before a transition changes it, without copying what cannot change.

A machine is pure: it changes a copy of the state it is given. ``copy.deepcopy`` of a pydantic state
rebuilds every datetime and walks every frozen message it holds; this copy shares immutable values
(strings, numbers, datetimes, UUIDs, enums, frozen models and dataclasses) and rebuilds only the
containers and the models a transition may change in place.
"""

from __future__ import annotations

import copy
import uuid
from datetime import datetime
from enum import Enum
from typing import Any, TypeVar

from pydantic import BaseModel

M = TypeVar("M", bound=BaseModel)

_IMMUTABLE = (str, int, float, bool, type(None), datetime, uuid.UUID, Enum, bytes)


def fresh_model(model: M) -> M:
    """A copy of ``model`` sharing nothing that a change in place could reach."""
    fields = {name: fresh(value) for name, value in model.__dict__.items()}
    return model.model_construct(_fields_set=set(model.model_fields_set), **fields)


def fresh(value: Any) -> Any:
    if isinstance(value, _IMMUTABLE):
        return value
    if isinstance(value, list):
        return [fresh(v) for v in value]
    if isinstance(value, dict):
        return {k: fresh(v) for k, v in value.items()}
    if isinstance(value, tuple):
        return tuple(fresh(v) for v in value)
    if isinstance(value, BaseModel):
        return value if value.model_config.get("frozen") else fresh_model(value)
    params = getattr(type(value), "__dataclass_params__", None)  # a dataclass: frozen, or not
    return value if params is not None and params.frozen else copy.deepcopy(value)
