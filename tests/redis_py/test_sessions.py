"""Session-store patterns through redis-py, as a Python web application
would use TokenginX. Run by tests/redis_py.rs, which starts the servers and
passes their ports in TEST_TOKENGINX_PORT and TEST_TOKENGINX_AUTH_PORT (the
latter requires the password in TEST_TOKENGINX_PASSWORD).
"""

import time
import unittest

import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

from tokenginx import AUTH_PORT, PASSWORD, client


class SessionStoreTest(unittest.TestCase):
    def setUp(self):
        self.r = client()
        self.r.flushall()

    def tearDown(self):
        self.r.close()

    def test_set_ex_get_and_ttl(self):
        self.assertTrue(self.r.set("session:a", "user=1", ex=1800))
        self.assertEqual(self.r.get("session:a"), "user=1")
        self.assertTrue(1790 <= self.r.ttl("session:a") <= 1800)
        self.assertTrue(self.r.expire("session:a", 60))
        self.assertTrue(59_000 <= self.r.pttl("session:a") <= 60_000)
        self.assertTrue(self.r.persist("session:a"))
        self.assertEqual(self.r.ttl("session:a"), -1)
        self.assertEqual(self.r.ttl("session:missing"), -2)
        self.assertIsNone(self.r.get("session:missing"))
        self.assertIsNone(self.r.set("session:a", "other", nx=True))
        self.assertTrue(self.r.set("session:a", "renewed", xx=True, px=5000, get=False))
        self.assertEqual(self.r.getdel("session:a"), "renewed")
        self.assertEqual(self.r.exists("session:a"), 0)
        self.assertTrue(self.r.setex("token:x", 100, "t"))
        self.assertEqual(self.r.getex("token:x", persist=True), "t")
        self.assertEqual(self.r.ttl("token:x"), -1)

    def test_hash_sessions(self):
        session = {"user": "42", "scope": "openid profile", "nonce": "n-0S6_WzA2Mj"}
        self.assertEqual(self.r.hset("sess:h", mapping=session), 3)
        self.assertEqual(self.r.hgetall("sess:h"), session)
        self.assertEqual(self.r.hget("sess:h", "scope"), "openid profile")
        self.assertEqual(self.r.hmget("sess:h", ["user", "missing"]), ["42", None])
        self.assertEqual(self.r.hincrby("sess:h", "user", 1), 43)
        self.assertEqual(self.r.hdel("sess:h", "nonce", "missing"), 1)
        self.assertEqual(sorted(self.r.hkeys("sess:h")), ["scope", "user"])
        self.assertTrue(self.r.expire("sess:h", 100))
        self.assertEqual(self.r.hgetall("sess:missing"), {})
        self.assertEqual(self.r.type("sess:h"), "hash")
        with self.assertRaises(redis.ResponseError) as cm:
            self.r.get("sess:h")
        self.assertTrue(str(cm.exception).startswith("WRONGTYPE"), cm.exception)

    def test_scan_iter_match_and_delete_many(self):
        sessions = {"sess:user:%d" % i: "v%d" % i for i in range(3000)}
        others = {"other:%d" % i: "x" for i in range(500)}
        self.r.mset(sessions)
        self.r.mset(others)
        self.assertEqual(self.r.dbsize(), 3500)
        found = list(self.r.scan_iter(match="sess:user:*", count=250))
        self.assertEqual(len(found), len(set(found)), "scan_iter returned a key twice")
        self.assertEqual(set(found), set(sessions))
        self.assertEqual(sorted(self.r.keys("other:1?")), ["other:%d" % i for i in range(10, 20)])
        for start in range(0, len(found), 500):
            self.assertEqual(self.r.delete(*found[start : start + 500]), len(found[start : start + 500]))
        self.assertEqual(self.r.dbsize(), 500)
        self.assertEqual(self.r.unlink(*others), 500)
        self.assertEqual(list(self.r.scan_iter()), [])

    def test_pipeline(self):
        with self.r.pipeline(transaction=False) as p:
            for i in range(1000):
                p.set("pipe:%d" % i, i, ex=300)
            for i in range(1000):
                p.get("pipe:%d" % i)
            p.incr("pipe:count")
            p.hset("pipe:h", mapping={"a": "1"})
            p.ttl("pipe:7")
            results = p.execute()
        self.assertEqual(results[:1000], [True] * 1000)
        self.assertEqual(results[1000:2000], [str(i) for i in range(1000)])
        self.assertEqual(results[2000:2002], [1, 1])
        self.assertTrue(290 <= results[2002] <= 300)

    def test_pipeline_error_does_not_shift_replies(self):
        self.r.set("p:s", "text")
        with self.r.pipeline(transaction=False) as p:
            p.get("p:s")
            p.incr("p:s")
            p.get("p:s")
            results = p.execute(raise_on_error=False)
        self.assertEqual(results[0], "text")
        self.assertIsInstance(results[1], redis.ResponseError)
        self.assertEqual(results[2], "text")

    def test_resp3(self):
        r3 = client(protocol=3)
        try:
            r3.hset("r3:h", mapping={"a": "1", "b": "2"})
            self.assertEqual(r3.hgetall("r3:h"), {"a": "1", "b": "2"})
            self.assertIsNone(r3.get("r3:missing"))
            self.assertEqual(r3.mget(["r3:missing", "r3:h"]), [None, None])
            self.assertTrue(r3.set("r3:s", "v", ex=10))
            self.assertEqual(r3.get("r3:s"), "v")
            hello = r3.execute_command("HELLO", "3")
            self.assertEqual(hello["proto"], 3)
            self.assertEqual(hello["mode"], "standalone")
            info = r3.info()
            self.assertIn("redis_version", info)
            self.assertEqual(r3.config_get("maxclients"), {"maxclients": "10000"})
        finally:
            r3.close()

    def test_info_and_client_list_parse(self):
        self.r.set("info:k", "v", ex=100)
        self.r.set("info:p", "v")
        info = self.r.info()
        self.assertEqual(info["loading"], 0)
        self.assertEqual(info["role"], "master")
        self.assertGreaterEqual(info["connected_clients"], 1)
        self.assertEqual(info["db0"]["keys"], self.r.dbsize())
        self.assertGreaterEqual(info["db0"]["expires"], 1)
        self.assertIn("tokenginx_version", self.r.info("server"))
        self.r.client_setname("sessions-test")
        me = [c for c in self.r.client_list() if c["name"] == "sessions-test"]
        self.assertEqual(len(me), 1)
        self.assertEqual(me[0]["cmd"], "client|list")
        self.assertEqual(int(me[0]["id"]), self.r.client_id())

    def test_short_ttl_expires(self):
        self.assertTrue(self.r.set("short", "v", px=100))
        self.assertEqual(self.r.get("short"), "v")
        deadline = time.monotonic() + 5
        while self.r.exists("short") and time.monotonic() < deadline:
            time.sleep(0.01)
        self.assertEqual(self.r.exists("short"), 0, "a 100 ms key was still there after 5 s")
        self.assertIsNone(self.r.get("short"))
        self.assertEqual(self.r.ttl("short"), -2)
        # Expired keys no one reads disappear from the keyspace too.
        self.r.set("unread", "v", px=50)
        deadline = time.monotonic() + 5
        while self.r.dbsize() > 0 and time.monotonic() < deadline:
            time.sleep(0.02)
        self.assertEqual(self.r.dbsize(), 0)

    def test_password(self):
        # redis-py retries failed connections with backoff; one try is enough.
        once = Retry(NoBackoff(), 0)
        anonymous = client(port=AUTH_PORT, retry=once)
        with self.assertRaises(redis.AuthenticationError):
            anonymous.ping()
        wrong = client(port=AUTH_PORT, password="wrong", retry=once)
        with self.assertRaises(redis.AuthenticationError):
            wrong.ping()
        authed = client(port=AUTH_PORT, password=PASSWORD)
        self.assertTrue(authed.ping())
        self.assertTrue(authed.set("k", "v"))
        self.assertEqual(authed.get("k"), "v")
        authed3 = client(port=AUTH_PORT, password=PASSWORD, username="default", protocol=3)
        self.assertEqual(authed3.get("k"), "v")
        for c in (anonymous, wrong, authed, authed3):
            c.close()

    def test_client_handshake(self):
        r = client(client_name="web-1")
        self.assertEqual(r.client_getname(), "web-1")
        self.assertIsInstance(r.client_id(), int)
        self.assertTrue(r.ping())
        r.close()


class KnownGapsTest(unittest.TestCase):
    """Patterns that need commands TokenginX does not implement yet (EVALSHA)."""

    def test_lock(self):
        r = client()
        lock = r.lock("lock:resource", timeout=5)
        self.assertTrue(lock.acquire(blocking=False))
        lock.release()


if __name__ == "__main__":
    unittest.main()
