"""The SSRF guard judges IPv6 addresses that embed an IPv4 address by that address."""

from __future__ import annotations

import ipaddress

import pytest

from foureyes.server.ssrf import UnsafeURLError, check_url, embedded_ipv4, refusal

from .conftest import World

pytestmark = pytest.mark.anyio

# Every form an IPv6 address can carry an IPv4 address in, around loopback, the cloud metadata
# address and a private range.
EMBEDDED = [
    ("::ffff:127.0.0.1", "127.0.0.1", "loopback"),  # IPv4-mapped
    ("::ffff:169.254.169.254", "169.254.169.254", "link-local"),
    ("::127.0.0.1", "127.0.0.1", "loopback"),  # IPv4-compatible
    ("::10.1.2.3", "10.1.2.3", "private"),
    ("::ffff:0:127.0.0.1", "127.0.0.1", "loopback"),  # IPv4-translated (SIIT)
    ("2002:7f00:1::", "127.0.0.1", "loopback"),  # 6to4
    ("2002:a9fe:a9fe::1", "169.254.169.254", "link-local"),
    ("2002:c0a8:101::", "192.168.1.1", "private"),
    ("64:ff9b::7f00:1", "127.0.0.1", "loopback"),  # NAT64, well-known prefix
    ("64:ff9b::a9fe:a9fe", "169.254.169.254", "link-local"),
    ("64:ff9b:1::a00:1", "10.0.0.1", "private"),  # NAT64, local-use prefix
    # Teredo: server 65.54.227.120, client 127.0.0.1 (stored inverted: 80ff:fffe)
    ("2001:0:4136:e378:8000:63bf:80ff:fffe", "127.0.0.1", "loopback"),
    # Teredo: server 127.0.0.1
    ("2001:0:7f00:1:8000:63bf:3fd4:5679", "127.0.0.1", "loopback"),
]


@pytest.mark.parametrize(("address", "inner", "kind"), EMBEDDED)
async def test_embedded_ipv4_forms_are_refused(world: World, address: str, inner: str, kind: str) -> None:
    reason = refusal(ipaddress.ip_address(address))
    assert reason is not None
    assert inner in reason
    assert kind in reason
    url = f"http://[{address}]:8080/hooks"
    with pytest.raises(UnsafeURLError, match=kind):
        check_url(url, allow_private=False)
    with pytest.raises(UnsafeURLError, match=kind):
        world.service.webhooks.add_webhook("default", url)
    check_url(url, allow_private=True)  # the setting still opens them all


def test_6to4_of_a_public_address_is_judged_as_that_address() -> None:
    parsed = ipaddress.IPv6Address("2002:808:808::1")
    assert embedded_ipv4(parsed) == [ipaddress.IPv4Address("8.8.8.8")]
    assert refusal(parsed) is None
    check_url("https://[2002:808:808::1]/hooks", allow_private=False)
    # Teredo is refused whatever it carries: Python counts all of 2001::/23 as special-purpose
    teredo = ipaddress.IPv6Address("2001:0:4136:e378:8000:63bf:f7f7:f7f7")
    assert ipaddress.IPv4Address("8.8.8.8") in embedded_ipv4(teredo)
    assert refusal(teredo) is not None


def test_ipv6_own_loopback_and_unspecified_stay_refused() -> None:
    assert embedded_ipv4(ipaddress.IPv6Address("::1")) == []
    assert "loopback" in (refusal(ipaddress.ip_address("::1")) or "")
    assert "unspecified" in (refusal(ipaddress.ip_address("::")) or "")
