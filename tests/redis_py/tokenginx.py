"""What every redis-py test module shares: where the servers started by
tests/redis_py.rs listen, and a client with the timeouts tests rely on."""

import os

import redis

PORT = int(os.environ["TEST_TOKENGINX_PORT"])
AUTH_PORT = int(os.environ["TEST_TOKENGINX_AUTH_PORT"])
PASSWORD = os.environ["TEST_TOKENGINX_PASSWORD"]


def client(**kwargs):
    """A redis-py client of the open server (or `port=`), strings decoded."""
    kwargs.setdefault("port", PORT)
    return redis.Redis(
        host="127.0.0.1",
        socket_timeout=10,
        socket_connect_timeout=10,
        decode_responses=True,
        **kwargs,
    )
