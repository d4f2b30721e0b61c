"""The rule for callback and tool URLs, as it is applied when one is saved: the system
resolver (no fake), so names that resolve to loopback offline are judged for real."""

from __future__ import annotations

import pytest

from auxot.adapters.net_guard import NetGuard
from auxot.adapters.outbound_urls import GuardedUrls

STRICT = GuardedUrls(NetGuard(), allow_http=True)  # every address rule, http allowed

HOSTILE = [
    ("https://localhost/hook", "loopback"),
    ("https://127.0.0.1/hook", "loopback"),
    ("https://2130706433/hook", "resolves to 127.0.0.1"),  # decimal IPv4
    ("https://0177.0.0.1/hook", "resolves to 127.0.0.1"),  # octal IPv4
    ("https://0x7f.1/hook", "resolves to 127.0.0.1"),  # hexadecimal, short form
    ("https://[::ffff:127.0.0.1]/hook", "loopback"),  # IPv4-mapped IPv6
    ("https://[::ffff:a9fe:a9fe]/hook", "metadata"),  # 169.254.169.254, mapped
    ("https://[::1]/hook", "loopback"),
    ("https://169.254.169.254/latest/meta-data/", "metadata"),
    ("https://169.254.1.1/hook", "link-local"),
    ("https://10.1.2.3/hook", "private"),
    ("https://172.16.0.1/hook", "private"),
    ("https://192.168.0.1/hook", "private"),
    ("https://100.64.0.1/hook", "private"),  # carrier-grade NAT
    ("https://[fd12::1]/hook", "private"),  # unique-local IPv6
    ("https://[fe80::1]/hook", "link-local"),
    ("https://224.0.0.1/hook", "multicast"),
    ("https://[ff02::1]/hook", "multicast"),
    ("https://0.0.0.0/hook", "reserved"),
    ("https://240.0.0.1/hook", "reserved"),
    ("https://nowhere.invalid/hook", "cannot resolve nowhere.invalid"),
]


@pytest.mark.parametrize(("url", "why"), HOSTILE)
def test_hostile_urls_are_refused_saying_why(url: str, why: str) -> None:
    reason = STRICT.refusal(url)
    assert reason is not None, url
    assert why in reason


@pytest.mark.parametrize(
    ("url", "why"),
    [
        ("ftp://1.1.1.1/hook", "only https:// URLs may be called"),
        ("file:///etc/passwd", "only https:// URLs may be called"),
        ("/relative/hook", "only https:// URLs may be called"),
        ("https:///hook", "names no host"),
        ("https://user:pw@1.1.1.1/hook", "credentials"),
        ("https://1.1.1.1/hook#part", "fragment"),
        ("https://1.1.1.1/ho ok", "spaces or control characters"),
        ("https://1.1.1.1:99999/hook", "invalid port"),
        ("https://[::1/hook", "not a URL"),
    ],
)
def test_malformed_urls_are_refused_saying_why(url: str, why: str) -> None:
    reason = GuardedUrls(NetGuard()).refusal(url)
    assert reason is not None
    assert why in reason


def test_http_is_refused_unless_the_deployment_allows_it() -> None:
    refused = GuardedUrls(NetGuard()).refusal("http://1.1.1.1/hook")
    assert refused is not None
    assert "only https://" in refused
    assert "AUXOT_ALLOW_HTTP_CALLBACKS" in refused
    assert GuardedUrls(NetGuard(), allow_http=True).refusal("http://1.1.1.1/hook") is None


def test_a_global_address_passes() -> None:
    assert GuardedUrls(NetGuard()).refusal("https://1.1.1.1:8443/hooks/auxot?team=a") is None


def test_the_allow_list_lets_local_receivers_through_and_nothing_else() -> None:
    local = GuardedUrls(NetGuard(allow=("127.0.0.1",)), allow_http=True)
    assert local.refusal("http://127.0.0.1:8123/hook") is None
    reason = local.refusal("http://[::1]:8123/hook")
    assert reason is not None
    assert "loopback" in reason
    metadata = local.refusal("http://169.254.169.254/")
    assert metadata is not None
    assert "metadata" in metadata
