"""The service's listening socket, opened before anything heavy is imported or loaded."""

from __future__ import annotations

import os
import socket

from avemotion.errors import AvemotionError


def port_socket(host: str, port: int) -> socket.socket:
    """A listening TCP socket on ``host:port`` (backlog 1024), or AvemotionError when the port is
    taken or cannot be used; checked before any model loads."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as error:
        sock.close()
        raise AvemotionError(f"{host}:{port}: cannot listen there ({error.strerror or error})") from None
    sock.listen(1024)
    sock.set_inheritable(True)
    os.set_inheritable(sock.fileno(), True)
    return sock
