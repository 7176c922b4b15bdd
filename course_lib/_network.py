"""Plumbing: block the network (``COURSE_OFFLINE=1``) and bound name lookups.

``block_network()`` makes every non-loopback connection and DNS lookup of this process raise
``NetworkBlockedError`` (loopback and Unix sockets still work, so Jupyter kernels are unaffected);
``course_lib`` calls it on import when ``COURSE_OFFLINE`` is set. ``bounded_name_lookups`` puts a
time limit on DNS, which ``socket.setdefaulttimeout`` does not cover; the downloads use it.
"""
from __future__ import annotations

import ipaddress
import socket
import threading

__all__ = ["NetworkBlockedError", "block_network", "bounded_name_lookups"]


class NetworkBlockedError(OSError):
    """A network connection was attempted while the network is blocked (``COURSE_OFFLINE=1``)."""


_REAL = {"connect": socket.socket.connect, "connect_ex": socket.socket.connect_ex,
         "sendto": socket.socket.sendto, "getaddrinfo": socket.getaddrinfo}


def _is_local(host) -> bool:
    if host in (None, "", "localhost"):
        return True
    try:
        return ipaddress.ip_address(str(host).split("%")[0]).is_loopback
    except ValueError:
        return False


def _refuse(what: str, host) -> None:
    raise NetworkBlockedError(f"network access is blocked (COURSE_OFFLINE=1): refused {what} to {host!r}. "
                              "The course must work offline; use cached or bundled data.")


def _guarded_connect(self, address):
    if self.family in (socket.AF_INET, socket.AF_INET6) and not _is_local(address[0]):
        _refuse("a connection", address[0])
    return _REAL["connect"](self, address)


def _guarded_connect_ex(self, address):
    if self.family in (socket.AF_INET, socket.AF_INET6) and not _is_local(address[0]):
        _refuse("a connection", address[0])
    return _REAL["connect_ex"](self, address)


def _guarded_sendto(self, data, *args):
    address = args[-1]
    if self.family in (socket.AF_INET, socket.AF_INET6) and not _is_local(address[0]):
        _refuse("a datagram", address[0])
    return _REAL["sendto"](self, data, *args)


def _guarded_getaddrinfo(host, *args, **kwargs):
    if not _is_local(host.decode() if isinstance(host, bytes) else host):
        _refuse("a name lookup", host)  # DNS itself goes over the network
    return _REAL["getaddrinfo"](host, *args, **kwargs)


def block_network() -> None:
    """Make every non-loopback connection (and DNS lookup) of this process raise ``NetworkBlockedError``."""
    socket.socket.connect = _guarded_connect
    socket.socket.connect_ex = _guarded_connect_ex
    socket.socket.sendto = _guarded_sendto
    socket.getaddrinfo = _guarded_getaddrinfo


class bounded_name_lookups:
    """Within this block a DNS lookup that takes longer than ``timeout_s`` raises ``socket.timeout``.

    ``socket.setdefaulttimeout`` bounds connections and reads but not name resolution, which a
    broken resolver can stretch to 20 s and more; downloads use both, so their time limit holds.
    """

    def __init__(self, timeout_s: float):
        self.timeout_s = timeout_s

    def __enter__(self):
        self._previous = socket.getaddrinfo
        previous, timeout_s = self._previous, self.timeout_s

        def lookup(host, *args, **kwargs):
            answer = {}

            def resolve():
                try:
                    answer["value"] = previous(host, *args, **kwargs)
                except BaseException as error:  # handed to the caller below
                    answer["error"] = error

            worker = threading.Thread(target=resolve, daemon=True, name=f"dns-{host}")
            worker.start()
            worker.join(timeout_s)
            if worker.is_alive():
                raise socket.timeout(f"the name lookup of {host!r} took more than {timeout_s:g} s")
            if "error" in answer:
                raise answer["error"]
            return answer["value"]

        socket.getaddrinfo = lookup
        return self

    def __exit__(self, *exc):
        socket.getaddrinfo = self._previous
        return False
