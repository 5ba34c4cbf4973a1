"""One TLS context for every HTTP client in every actor process.

Building a context loads the CA bundle (about 2 MB per process). Built once, before the actor system forks,
every actor shares its pages instead of loading its own copy; `supervision.runtime` builds it at start.
"""

from __future__ import annotations

import ssl
from functools import cache

import httpx


@cache
def shared_context() -> ssl.SSLContext:
    return httpx.create_ssl_context()
