"""Plumbing: block the network (``COURSE_OFFLINE=1``), bound name lookups, download within a time limit.

``block_network()`` makes every non-loopback connection and DNS lookup of this process raise
``NetworkBlockedError`` (loopback and Unix sockets still work, so Jupyter kernels are unaffected);
``course_lib`` calls it on import when ``COURSE_OFFLINE`` is set. ``bounded_name_lookups`` puts a
time limit on DNS, which ``socket.setdefaulttimeout`` does not cover; the downloads use it.
``download``, ``sha256_of`` and ``extract_safely`` serve the optional downloads of ``style``
(VGG19 weights) and ``pix2pix`` (the facades).
"""
from __future__ import annotations

import hashlib
import ipaddress
import socket
import threading
from pathlib import Path

__all__ = ["NetworkBlockedError", "block_network", "bounded_name_lookups", "download", "sha256_of",
           "extract_safely"]


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


def download(url: str, path: Path, timeout_s: float, hash_prefix: str | None = None) -> None:
    """Download ``url`` to ``path``; every connection, read and name lookup gives up after ``timeout_s``.

    With ``hash_prefix`` the file's SHA-256 must start with it, checked before the file is kept
    (``torch.hub.download_url_to_file``). Errors (offline, timeout, hash mismatch) propagate.
    """
    import torch.hub

    old = socket.getdefaulttimeout()
    socket.setdefaulttimeout(timeout_s)
    try:
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        with bounded_name_lookups(timeout_s):
            torch.hub.download_url_to_file(url, str(path), hash_prefix=hash_prefix, progress=False)
    finally:
        socket.setdefaulttimeout(old)


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def extract_safely(tar, destination) -> None:
    """Extract an archive, refusing members that would land outside ``destination`` or are links.

    Python >= 3.10.12 (and 3.11.4, 3.12) has tarfile's "data" filter for this; older 3.10 releases,
    which the course supports, raise TypeError on ``filter=``, so the same rule is applied by hand there.
    """
    import tarfile

    if hasattr(tarfile, "data_filter"):
        tar.extractall(destination, filter="data")
        return
    root = Path(destination).resolve()
    for member in tar.getmembers():
        target = (root / member.name).resolve()
        if member.issym() or member.islnk() or (root not in target.parents and target != root):
            raise tarfile.TarError(f"refusing to extract {member.name!r}: it would leave {root}")
    tar.extractall(destination)
