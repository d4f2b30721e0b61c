"""One outgoing HTTP call to an address the SSRF guard has checked (``NetGuard``): the
path HTTP tools and callbacks share.

The connection goes to ``Target.address`` (the very address checked), with the URL's
host name as ``Host`` and as the TLS server name, so the certificate is verified for
the name while the name's current DNS answer plays no part. Redirects are never
followed (a 3xx is an answer like any other), the whole call is cut off at ``timeout``
whatever it is waiting for, and at most ``max_body`` bytes of the answer are read.
"""

from __future__ import annotations

import ssl
from collections.abc import Mapping
from typing import Any

import attrs
import httpx

from auxot.adapters.http_bounds import Deadline, DeadlinePassedError, read_bounded
from auxot.adapters.net_guard import Target


@attrs.frozen
class Answer:
    status_code: int
    headers: httpx.Headers
    body: bytes
    overflowed: bool  # the body went on past ``max_body``

    @property
    def redirect(self) -> bool:
        return 300 <= self.status_code < 400


class CallTimedOutError(Exception):
    """No full answer within the call's timeout."""


class CallFailedError(Exception):
    """No answer: the connection was refused, reset, or broke mid-answer. The message is
    the transport's error, with its type."""


def call_checked(
    target: Target,
    method: str,
    *,
    timeout: float,
    max_body: int,
    headers: Mapping[str, str],
    content: bytes | None = None,
    json: Any = None,
    tls: ssl.SSLContext | None = None,
) -> Answer:
    """Send the request to ``target``; its answer, or CallTimedOutError/CallFailedError.
    ``tls`` replaces the default trust (certifi's CAs), e.g. for a private CA."""
    deadline = Deadline(timeout)
    try:
        with (
            httpx.Client(
                timeout=httpx.Timeout(timeout),
                follow_redirects=False,
                trust_env=False,  # no proxy from the environment: it would bypass the pin
                verify=tls if tls is not None else True,
                headers={"Accept-Encoding": "identity"},
            ) as client,
            client.stream(
                method,
                target.url,
                content=content,
                json=json,
                headers={**headers, "Host": target.host_header},
                extensions={"trace": deadline.trace, "sni_hostname": target.host},
            ) as response,
        ):
            body, overflowed = read_bounded(response, max_body, deadline.at)
            return Answer(response.status_code, response.headers, body, overflowed)
    except (httpx.TimeoutException, DeadlinePassedError):
        raise CallTimedOutError from None
    except (httpx.HTTPError, httpx.InvalidURL) as exc:
        if deadline.expired:
            raise CallTimedOutError from None
        raise CallFailedError(f"{type(exc).__name__}: {exc}") from None
    finally:
        deadline.cancel()
