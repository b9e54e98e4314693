"""Where an HTTP channel may post: the address guard, set and at send."""

from __future__ import annotations

import socket

import pytest

from torchflow.channels.guard import HostPolicy, Refusal, kind_of, literal_ip

NONE = HostPolicy()


@pytest.mark.parametrize(("url", "kind"), [
    ("http://127.0.0.1:5432/", "loopback"),
    ("http://127.1/", "loopback"),  # the resolver's short forms of 127.0.0.1
    ("http://2130706433/", "loopback"),
    ("http://0x7f.1/", "loopback"),
    ("http://[::1]:8080/x", "loopback"),
    ("http://[::ffff:127.0.0.1]/", "loopback"),  # IPv4-mapped
    ("http://169.254.169.254/latest/meta-data/", "cloud metadata"),
    ("http://100.100.100.200/latest/meta-data/", "cloud metadata"),  # Alibaba Cloud
    ("http://[fd00:ec2::254]/", "cloud metadata"),
    ("http://169.254.1.1/", "link-local"),
    ("http://[fe80::1]/", "link-local"),
    ("http://10.1.2.3/hook", "private"),
    ("http://192.168.0.8/hook", "private"),
    ("http://172.16.5.5/", "private"),
    ("http://224.0.0.1/", "multicast"),
    ("http://0.0.0.0/", "unspecified"),
    ("http://100.64.0.1/", "non-public"),  # shared address space (carrier NAT)
    ("http://localhost:8000/", "loopback"),
    ("http://hooks.localhost/", "loopback"),
    ("http://metadata.google.internal/computeMetadata/v1/", "cloud metadata"),
    ("http://metadata.tencentyun.com/latest/meta-data/", "cloud metadata"),
])
def test_inside_addresses_are_refused_when_set_in_one_line(url: str, kind: str) -> None:
    problem = NONE.url_problem(url)
    assert problem is not None
    text = str(problem)
    assert f"a {kind} address" in text and "\n" not in text
    assert text.endswith("torchflow posts only to public hosts unless [notify] allow_hosts "
                         "lists it")


@pytest.mark.parametrize("url", ["https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=k",
                                 "https://8.8.8.8/hook", "https://[2001:4860::8888]/x",
                                 "http://hooks.example.cn:8443/x"])
def test_public_addresses_and_names_pass_when_set(url: str) -> None:
    assert NONE.url_problem(url) is None


@pytest.mark.parametrize(("url", "wants"), [
    ("ftp://example.org/x", "must start with http:// or https://"),
    ("https:///x", "has no host"),
    ("http://example.org:99999/", "is not a URL"),
])
def test_what_is_not_a_url_says_so(url: str, wants: str) -> None:
    assert wants in str(NONE.url_problem(url))


def test_allow_hosts_lets_an_office_name_its_own_receivers() -> None:
    office = HostPolicy.allowing(["hooks.zone.gov.cn", "10.8.0.0/16", "127.0.0.1", "::1"])
    assert office.url_problem("http://10.8.3.4/hook") is None
    assert office.url_problem("http://127.0.0.1:9/hook") is None
    assert office.url_problem("http://[::1]/hook") is None
    assert office.url_problem("http://HOOKS.zone.gov.cn./hook") is None
    assert "a private address" in str(office.url_problem("http://10.9.0.1/hook"))
    assert "a cloud metadata address" in str(office.url_problem("http://169.254.169.254/"))


def test_a_name_resolving_inside_is_refused_at_send_and_an_allowed_name_is_not() -> None:
    # "localhost" resolves to loopback addresses here: a name that moved inside.
    with pytest.raises(Refusal) as refused:
        HostPolicy().resolve("localhost", 80)
    assert "a loopback address" in str(refused.value)
    assert HostPolicy.allowing(["localhost"]).resolve("localhost", 80)
    # An allowed address lets the name resolving to it through, too.
    ips = HostPolicy.allowing(["127.0.0.0/8", "::1"]).resolve("localhost", 80)
    assert all(ip.is_loopback for ip in ips)


def test_every_address_a_name_resolves_to_is_checked(monkeypatch: pytest.MonkeyPatch) -> None:
    # A name with one public and one inside address (a rebinding attempt) is refused.
    def two(host: str, port: int, **_: object) -> list[tuple[object, ...]]:
        return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", ("93.184.216.34", port)),
                (socket.AF_INET, socket.SOCK_STREAM, 6, "", ("10.0.0.7", port))]

    monkeypatch.setattr(socket, "getaddrinfo", two)
    with pytest.raises(Refusal, match="a private address"):
        HostPolicy().resolve("rebind.example.org", 443)


def test_kinds_and_literals() -> None:
    assert literal_ip("017700000001") is not None and kind_of(literal_ip("017700000001")) \
        == "loopback"  # type: ignore[arg-type]
    assert literal_ip("example.org") is None
    assert kind_of(literal_ip("64:ff9b::a00:1")) == "private"  # type: ignore[arg-type]
