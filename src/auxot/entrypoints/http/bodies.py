"""Request bodies: a JSON object, with every way a client can get it wrong as a problem."""

from __future__ import annotations

from typing import Any

import msgspec
from litestar import Request

from auxot.entrypoints.http.problems import bad_request, unprocessable, unsupported_media_type

_decoder = msgspec.json.Decoder()


def json_object(request: Request[Any, Any, Any], body: bytes) -> dict[str, Any]:
    """The body as a JSON object: 415 for another content type, 400 for malformed
    JSON, 422 for JSON that is not an object."""
    media_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if media_type != "application/json" and not media_type.endswith("+json"):
        raise unsupported_media_type("Send the body as application/json.")
    try:
        value = _decoder.decode(body)
    except (msgspec.DecodeError, UnicodeDecodeError) as exc:
        raise bad_request(f"The body is not valid JSON: {exc}.") from None
    except RecursionError:
        raise bad_request("The body's JSON is nested too deeply.") from None
    if not isinstance(value, dict):
        raise unprocessable(f"The body must be a JSON object, not {_json_kind(value)}.")
    return value


def _json_kind(value: object) -> str:
    kinds = {
        list: "an array",
        str: "a string",
        bool: "a boolean",
        int: "a number",
        float: "a number",
        type(None): "null",
    }
    return kinds.get(type(value), "a value")
