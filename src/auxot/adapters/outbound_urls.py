"""The rule for URLs users give Auxot to call (callback URLs, HTTP tools), applied when
one is saved or arrives with a request: ``https``, or ``http`` where the deployment
allows it; no credentials or fragment; and every address the host resolves to passes
the SSRF guard (``NetGuard``).

Passing here is no licence for later: the host may resolve elsewhere by the time it is
called, so whoever calls it checks again through the same guard and connects to the
address that was checked.
"""

from __future__ import annotations

from urllib.parse import urlsplit

import attrs

from auxot.adapters.net_guard import AddressRefusedError, NetGuard


@attrs.frozen
class GuardedUrls:
    guard: NetGuard
    allow_http: bool = False

    def refusal(self, url: str) -> str | None:
        """Why ``url`` may not be used; None when it may. Resolves the host."""
        if not url.isprintable() or " " in url:
            return "a URL may not contain spaces or control characters"
        try:
            parts = urlsplit(url)
        except ValueError as exc:
            return f"{url!r} is not a URL: {exc}"
        if parts.scheme == "http" and not self.allow_http:
            return (
                "only https:// URLs may be called "
                "(this deployment does not allow http://: AUXOT_ALLOW_HTTP_CALLBACKS)"
            )
        if parts.scheme not in ("https", "http"):
            allowed = "http:// or https://" if self.allow_http else "https://"
            return f"only {allowed} URLs may be called: {url!r}"
        if not parts.hostname:
            return f"{url!r} names no host"
        if parts.username is not None or parts.password is not None:
            return "a URL may not carry credentials (user:password@)"
        if parts.fragment:
            return "a URL may not carry a fragment (#...)"
        try:
            self.guard.check(url)
        except AddressRefusedError as exc:
            return str(exc)
        return None

