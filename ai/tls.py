"""One TLS context, and one import of httpx's transport, for every HTTP client in every actor process.

Building a context loads the CA bundle (about 2 MB per process), and the first `httpx.Client` imports its
transport (httpcore, h11, anyio, certifi: about 2 MB of modules). Done once, before the actor system forks
(`prepare_for_actors`, from `Bridge.start`), every actor shares those pages instead of making its own copy.
"""

from __future__ import annotations

import ssl
from functools import cache

import httpx


@cache
def shared_context() -> ssl.SSLContext:
    return httpx.create_ssl_context()


def prepare_for_actors() -> None:
    """Build the shared context and import the transport a client needs, in the process actors fork from."""
    httpx.Client(verify=shared_context()).close()
