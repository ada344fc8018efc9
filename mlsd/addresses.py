"""Which network addresses the library may connect to: public ones only, unless the user says otherwise.

An import or a link check fetches addresses a user typed, a list named, or a server redirected
to. Left alone, that reaches this machine's own services (``http://127.0.0.1:8080``), the local
network and the cloud metadata endpoint (``http://169.254.169.254``). So every connection is
checked here, on the address it is about to use, after DNS resolution: loopback, private,
link-local, shared (CGNAT), multicast, unspecified and reserved addresses are refused, also when
written in a numeric form (``0x7f000001``, ``2130706433``, ``017700000001``) or wrapped in IPv6
(``::ffff:127.0.0.1``, ``::127.0.0.1``, 6to4, Teredo, NAT64).

``MLSD_ALLOW_PRIVATE_URLS`` opens that door on purpose: ``1`` (or ``true``/``yes``) allows every
address; a comma-separated list of addresses or networks (``127.0.0.2``, ``10.1.0.0/16``)
allows only those.

Standard library only; :mod:`mlsd.web` calls :func:`resolve_allowed` from the connection itself,
so the address checked is the address connected to (no gap for DNS rebinding).
"""

from __future__ import annotations

import ipaddress
import os
import socket
from collections.abc import Callable

from .errors import AddressRefusedError

ALLOW_ENV = "MLSD_ALLOW_PRIVATE_URLS"
REFUSED = "refused: private address"

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
_TRUE = frozenset({"1", "true", "yes", "on", "all"})
_NAT64 = ipaddress.ip_network("64:ff9b::/96")
_SHARED = ipaddress.ip_network("100.64.0.0/10")  # carrier-grade NAT: someone's local network


def embedded_ipv4(address: IPAddress) -> ipaddress.IPv4Address | None:
    """The IPv4 address an IPv6 address carries (mapped, compatible, 6to4, Teredo, NAT64), if any."""
    if not isinstance(address, ipaddress.IPv6Address):
        return None
    if address.ipv4_mapped is not None:
        return address.ipv4_mapped
    if address.sixtofour is not None:
        return address.sixtofour
    if address.teredo is not None:
        return address.teredo[1]  # the client's address; the server's is public by design
    packed = address.packed
    if address in _NAT64 or (packed[:12] == bytes(12) and int(address) > 1):  # ::a.b.c.d (deprecated "compatible")
        return ipaddress.IPv4Address(packed[12:])
    return None


def is_public(address: IPAddress) -> bool:
    """True for an address on the public internet; False for loopback, private, link-local and the like."""
    inner = embedded_ipv4(address)
    if inner is not None and not is_public(inner):
        return False
    if inner is not None and isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return True  # ::ffff:8.8.8.8 is 8.8.8.8
    return not (
        address.is_loopback or address.is_private or address.is_link_local or address.is_multicast
        or address.is_unspecified or address.is_reserved or address in _SHARED
        or (isinstance(address, ipaddress.IPv6Address) and address.is_site_local)
        or not address.is_global
    )


def allowed_private() -> Callable[[IPAddress], bool]:
    """What ``MLSD_ALLOW_PRIVATE_URLS`` lets through beyond public addresses, as a predicate.

    An unreadable entry in the list is ignored (it allows nothing), never an error: a typo must
    not open the door wider.
    """
    value = os.environ.get(ALLOW_ENV, "").strip()
    if value.lower() in _TRUE:
        return lambda address: True
    networks = []
    for part in value.split(","):
        try:
            networks.append(ipaddress.ip_network(part.strip(), strict=False))
        except ValueError:
            continue
    if not networks:
        return lambda address: False

    def allowed(address: IPAddress) -> bool:
        candidates = [address] + ([inner] if (inner := embedded_ipv4(address)) is not None else [])
        return any(c in network for c in candidates for network in networks if c.version == network.version)

    return allowed


def is_allowed(address: IPAddress) -> bool:
    """True when the library may connect to this address (public, or allowed by the setting)."""
    return is_public(address) or allowed_private()(address)


def parse_address(text: str) -> IPAddress | None:
    """An IP address written in any form the system resolver accepts as a number, else None.

    ``127.1``, ``0x7f000001``, ``2130706433`` and ``017700000001`` are all 127.0.0.1 to
    ``inet_aton``, so they are all 127.0.0.1 here too; ``[::1]`` may keep its brackets.
    """
    text = text.strip().strip("[]")
    if "%" in text:  # a scoped IPv6 address (fe80::1%eth0) is link-local whatever follows
        text = text.split("%", 1)[0]
    try:
        return ipaddress.ip_address(text)
    except ValueError:
        pass
    try:
        return ipaddress.IPv4Address(socket.inet_aton(text))
    except (OSError, ValueError):
        return None


def check_host(host: str) -> None:
    """Refuse a host written as a non-public IP address, before any DNS or connection.

    A name is left to :func:`resolve_allowed`, which checks what it resolves to.

    Raises:
        AddressRefusedError: the host is a refused address.
    """
    address = parse_address(host)
    if address is not None and not is_allowed(address):
        raise AddressRefusedError(REFUSED)


def resolve_allowed(host: str, port: int) -> list[tuple[int, tuple]]:
    """Resolve a host once and keep the addresses the library may connect to.

    Args:
        host: a name or an IP address (any numeric form).
        port: the TCP port.

    Returns:
        ``(family, sockaddr)`` pairs to connect to, in the resolver's order.

    Raises:
        AddressRefusedError: every address it resolves to is refused (the message names no address).
        socket.gaierror: the name does not resolve.
    """
    check_host(host)
    found = socket.getaddrinfo(host.strip("[]"), port, type=socket.SOCK_STREAM)
    usable: list[tuple[int, tuple]] = []
    for family, _type, _proto, _name, sockaddr in found:
        address = parse_address(str(sockaddr[0]))
        if address is not None and is_allowed(address):
            usable.append((family, sockaddr))
    if not usable:
        raise AddressRefusedError(REFUSED)
    return usable


def check_peer(sock: socket.socket) -> None:
    """Refuse a connected socket whose peer is not allowed (the last word, after connecting).

    Raises:
        AddressRefusedError: the peer's address is refused.
    """
    peer = parse_address(str(sock.getpeername()[0]))
    if peer is None or not is_allowed(peer):
        raise AddressRefusedError(REFUSED)
