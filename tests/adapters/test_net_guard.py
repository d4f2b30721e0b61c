"""The SSRF guard: which addresses a URL configured by someone else may reach."""

from __future__ import annotations

from collections.abc import Sequence

import pytest

from auxot.adapters.net_guard import AddressRefusedError, NetGuard


def resolving_to(*addresses: str) -> NetGuard:
    def resolve(host: str, port: int) -> Sequence[str]:
        return addresses

    return NetGuard(resolve=resolve)


REFUSED = [
    "http://127.0.0.1/x",
    "http://127.1.2.3:8080/x",
    "http://[::1]/x",
    "http://10.0.0.5/x",
    "http://172.16.3.4/x",
    "http://192.168.1.1/x",
    "http://169.254.169.254/latest/meta-data/",
    "http://169.254.10.10/x",
    "http://100.64.0.1/x",  # shared address space (CGNAT)
    "http://0.0.0.0/x",
    "http://[fd00:ec2::254]/x",
    "http://[fe80::1]/x",
    "http://[::ffff:127.0.0.1]/x",
    "http://224.0.0.1/x",
    "http://240.0.0.1/x",
]


@pytest.mark.parametrize("url", REFUSED)
def test_non_global_addresses_are_refused_by_default(url: str) -> None:
    with pytest.raises(AddressRefusedError):
        NetGuard().check(url)


@pytest.mark.parametrize("address", ["127.0.0.1", "10.1.2.3", "169.254.169.254", "::1"])
def test_a_name_resolving_to_a_refused_address_is_refused(address: str) -> None:
    with pytest.raises(AddressRefusedError, match=f"tools.example.com resolves to {address}"):
        resolving_to(address).check("https://tools.example.com/hook")


def test_one_refused_address_among_several_refuses_the_name() -> None:
    with pytest.raises(AddressRefusedError):
        resolving_to("93.184.216.34", "10.0.0.1").check("https://tools.example.com/")


def test_a_public_address_is_allowed_and_pinned_with_the_original_host() -> None:
    target = resolving_to("93.184.216.34").check("https://Tools.Example.com:8443/a/b?c=1#f")
    assert target.url == "https://93.184.216.34:8443/a/b?c=1"
    assert (target.host, target.address, target.port) == (
        "tools.example.com",
        "93.184.216.34",
        8443,
    )
    assert target.host_header == "tools.example.com:8443"
    ipv6 = resolving_to("2606:2800:220:1::1").check("http://tools.example.com/")
    assert ipv6.url == "http://[2606:2800:220:1::1]/"
    assert ipv6.host_header == "tools.example.com"


@pytest.mark.parametrize("url", ["ftp://example.com/", "file:///etc/passwd", "http:///x"])
def test_only_http_urls_with_a_host_are_allowed(url: str) -> None:
    with pytest.raises(AddressRefusedError, match="only http"):
        NetGuard().check(url)


def test_allow_private_lifts_the_private_refusal_but_never_for_metadata() -> None:
    guard = NetGuard(allow_private=True)
    assert guard.check("http://127.0.0.1:9/x").address == "127.0.0.1"
    assert guard.check("http://10.0.0.5/x").address == "10.0.0.5"
    metadata = (
        "http://169.254.169.254/",
        "http://[fd00:ec2::254]/",
        "http://224.0.0.1/",
        "http://169.254.170.2/v2/credentials",  # AWS ECS task credentials
        "http://[fd00:ec2::23]/",
        "http://[64:ff9b::a9fe:a9fe]/",  # NAT64 of 169.254.169.254
        "http://[2002:a9fe:a9fe::1]/",  # 6to4 of 169.254.169.254
        "http://[::ffff:169.254.169.254]/",  # IPv4-mapped
    )
    for url in metadata:
        with pytest.raises(AddressRefusedError):
            guard.check(url)


@pytest.mark.parametrize(
    "url", ["http://[64:ff9b::7f00:1]/", "http://[2002:0a00:0001::1]/", "http://[::ffff:10.0.0.1]/"]
)
def test_ipv6_forms_of_private_ipv4_addresses_are_private(url: str) -> None:
    with pytest.raises(AddressRefusedError):
        NetGuard().check(url)


def test_an_allow_list_admits_listed_networks_and_hosts_only() -> None:
    guard = NetGuard(allow=("127.0.0.1", "10.8.0.0/16", "Internal.Tools"))
    assert guard.check("http://127.0.0.1:8080/").address == "127.0.0.1"
    assert guard.check("http://10.8.3.4/").address == "10.8.3.4"
    with pytest.raises(AddressRefusedError):
        guard.check("http://10.9.0.1/")
    with pytest.raises(AddressRefusedError):
        guard.check("http://127.0.0.2/")
    named = NetGuard(allow=("internal.tools",), resolve=lambda host, port: ["10.0.0.7"])
    assert named.check("http://internal.tools/").address == "10.0.0.7"


def test_a_name_that_does_not_resolve_is_refused() -> None:
    def fail(host: str, port: int) -> Sequence[str]:
        raise OSError("no such host")

    with pytest.raises(AddressRefusedError, match="cannot resolve"):
        NetGuard(resolve=fail).check("http://nowhere.invalid/")
