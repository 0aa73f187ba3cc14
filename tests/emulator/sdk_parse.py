"""Read an emulator answer the way the official SDK does, and check its JSON types strictly.

``sdk_parse("ShowBackupResponse", body)`` runs ``huaweicloudsdkcore``'s own deserialiser (the code a
``CbrClient`` runs on every response) with every SDK warning turned into an error, then walks the
body against the SDK model's ``openapi_types``: a field the model does not know, or a value of the
wrong JSON type (which the SDK would silently coerce), fails the test.
"""

from __future__ import annotations

import importlib
import re
import warnings
from datetime import datetime
from typing import Any

from huaweicloudsdkcore.client import Client

MODELS = importlib.import_module("huaweicloudsdkcbr.v1.model")
PRIMITIVES: dict[str, tuple[type, ...]] = {
    "str": (str,),
    "int": (int,),
    "float": (int, float),
    "bool": (bool,),
}


def sdk_parse(response_class: str, body: Any) -> Any:
    """Deserialise ``body`` into the SDK response class, as ``CbrClient`` does; answer the instance."""
    check_types(response_class, body, response_class)
    client = Client()
    client.model_package = MODELS
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        return client._deserialize(body, response_class)


def check_types(kind: str, value: Any, where: str) -> None:
    if value is None or kind == "object":
        return
    if kind in PRIMITIVES:
        wanted = PRIMITIVES[kind]
        assert isinstance(value, wanted), f"{where}: {value!r} is not {kind}"
        assert kind == "bool" or not isinstance(value, bool), f"{where}: {value!r} is not {kind}"
        return
    if kind in ("datetime", "date"):
        assert isinstance(value, str), f"{where}: {value!r} is not a timestamp string"
        datetime.fromisoformat(value.removesuffix("Z"))
        return
    listed = re.fullmatch(r"list\[(.*)\]", kind)
    if listed:
        assert isinstance(value, list), f"{where}: {value!r} is not a list"
        for index, item in enumerate(value):
            check_types(listed.group(1), item, f"{where}[{index}]")
        return
    mapped = re.fullmatch(r"dict\(str, (.*)\)", kind)
    if mapped:
        assert isinstance(value, dict), f"{where}: {value!r} is not an object"
        for key, item in value.items():
            check_types(mapped.group(1), item, f"{where}.{key}")
        return
    _check_model(getattr(MODELS, kind), value, where)


def _check_model(model: Any, value: Any, where: str) -> None:
    names = {json_name: attr for attr, json_name in model.attribute_map.items()}
    if names == {"body": "body"}:  # a response whose whole document is one value
        check_types(model.openapi_types["body"], value, where)
        return
    assert isinstance(value, dict), f"{where}: {value!r} is not an object"
    for key, item in value.items():
        assert key in names, f"{where}: {key!r} is not a field of the SDK model {model.__name__}"
        check_types(model.openapi_types[names[key]], item, f"{where}.{key}")
