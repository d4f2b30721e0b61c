"""RFC 9457 problem responses, and the handlers that turn every error into one."""

from __future__ import annotations

import logging
from typing import Any
from uuid import UUID

from litestar import Request, Response
from litestar.plugins.problem_details import ProblemDetailsException

from auxot.application.refs import parse_ref

log = logging.getLogger(__name__)

_NOT_FOUND_DETAIL = "No such resource, or it is not available to this API key."


def not_found() -> ProblemDetailsException:
    """The one 404: unknown, deactivated and other teams' resources look the same."""
    return ProblemDetailsException(status_code=404, title="Not Found", detail=_NOT_FOUND_DETAIL)


def ref_or_404(kind: str, ref: str) -> UUID:
    """The id in a path's ``kind_<hex>`` reference; a malformed one is the one 404."""
    parsed = parse_ref(kind, ref)
    if parsed is None:
        raise not_found()
    return parsed


def unauthorized(detail: str) -> ProblemDetailsException:
    return ProblemDetailsException(
        status_code=401,
        title="Unauthorized",
        detail=detail,
        headers={"WWW-Authenticate": 'Bearer realm="auxot"'},
    )


def bad_request(detail: str) -> ProblemDetailsException:
    return ProblemDetailsException(status_code=400, title="Bad Request", detail=detail)


def forbidden(detail: str) -> ProblemDetailsException:
    return ProblemDetailsException(status_code=403, title="Forbidden", detail=detail)


def unsupported_media_type(detail: str) -> ProblemDetailsException:
    return ProblemDetailsException(status_code=415, title="Unsupported Media Type", detail=detail)


def unprocessable(
    detail: str, errors: list[dict[str, str]] | None = None
) -> ProblemDetailsException:
    """422; ``errors`` (``{"path", "message"}`` each) when there are several to name."""
    extra = {"errors": errors} if errors else None
    return ProblemDetailsException(
        status_code=422, title="Unprocessable Content", detail=detail, extra=extra
    )


def conflict(detail: str) -> ProblemDetailsException:
    return ProblemDetailsException(status_code=409, title="Conflict", detail=detail)


def internal_error(request: Request[Any, Any, Any], exc: Exception) -> Response[Any]:
    """Anything unexpected: logged in full here, never shown to the client."""
    log.exception("unhandled error on %s %s", request.method, request.url.path, exc_info=exc)
    problem = ProblemDetailsException(
        status_code=500,
        title="Internal Server Error",
        detail="The server failed to handle this request; it has been logged.",
    )
    return problem.to_response(request)
