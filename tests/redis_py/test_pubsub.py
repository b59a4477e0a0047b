"""Pub/Sub and keyspace notifications through redis-py, against a TokenginX
with two shards (started by tests/redis_py.rs, port in TEST_TOKENGINX_PORT).

Connections land on either shard (SO_REUSEPORT), so tests that must cross
cores open many connections and check, through INFO, that messages did
cross.
"""

import socket
import time
import unittest

import redis

from tokenginx import PORT, client

# Waiting for a message is bounded generously: no assertion is on timing.
PATIENCE = 10.0


def next_message(pubsub, skip_confirmations=True):
    """The next message (or confirmation) within PATIENCE seconds."""
    until = time.monotonic() + PATIENCE
    while time.monotonic() < until:
        m = pubsub.get_message(ignore_subscribe_messages=skip_confirmations, timeout=0.5)
        if m is not None:
            return m
    raise AssertionError("no message within %s s" % PATIENCE)


def cross_shard_requests(r):
    return r.info("stats")["cross_shard_requests"]


class PubSubTest(unittest.TestCase):
    def setUp(self):
        self.r = client()
        self.r.flushall()
        self.r.config_set("notify-keyspace-events", "")

    def tearDown(self):
        self.r.config_set("notify-keyspace-events", "")
        self.r.close()

    def test_messages_cross_cores_in_order(self):
        sub = client().pubsub()
        sub.subscribe("orders")
        self.assertEqual(next_message(sub, False)["data"], 1)
        # INFO itself crosses shards: its own share is measured first.
        first = cross_shard_requests(self.r)
        before = cross_shard_requests(self.r)
        # 32 publishers: with two shards, the chance that none lands on the
        # other core than the subscriber is 2^-32.
        publishers = [client() for _ in range(32)]
        for round_ in range(5):
            for i, p in enumerate(publishers):
                self.assertEqual(p.publish("orders", "%d:%d" % (i, round_)), 1)
        got = [next_message(sub)["data"] for _ in range(5 * 32)]
        self.assertEqual(got, ["%d:%d" % (i, r) for r in range(5) for i in range(32)])
        self.assertGreater(cross_shard_requests(self.r) - before, before - first,
                           "no PUBLISH crossed cores")
        self.assertEqual(self.r.pubsub_numsub("orders"), [("orders", 1)])
        self.assertEqual(self.r.pubsub_channels(), ["orders"])
        sub.close()
        for p in publishers:
            p.close()

    def test_patterns_and_counts(self):
        subs = [client().pubsub() for _ in range(8)]
        for s in subs:
            s.psubscribe("sess:*")
            self.assertEqual(next_message(s, False)["type"], "psubscribe")
        self.assertEqual(self.r.pubsub_numpat(), 1)
        self.assertEqual(self.r.publish("sess:1", "logout"), 8)
        for s in subs:
            m = next_message(s)
            self.assertEqual((m["type"], m["pattern"], m["channel"], m["data"]),
                             ("pmessage", "sess:*", "sess:1", "logout"))
            s.close()

    def test_expired_key_event_like_spring_session(self):
        # Spring Session: CONFIG SET notify-keyspace-events, then PSUBSCRIBE
        # to __keyevent@*__:expired-style patterns, and expects an event for
        # sessions no one reads again.
        self.r.config_set("notify-keyspace-events", "Egx")
        sub = client().pubsub()
        sub.psubscribe("__keyevent@0__:*")
        next_message(sub, False)
        # Keys on both shards, so both expiry cycles publish.
        keys = ["spring:session:sessions:expires:%d" % i for i in range(8)]
        for k in keys:
            self.r.set(k, "", px=100)
        seen = set()
        while seen != set(keys):
            m = next_message(sub)
            self.assertEqual(m["type"], "pmessage")
            if m["channel"] == "__keyevent@0__:expired":
                seen.add(m["data"])
        self.assertEqual(self.r.dbsize(), 0)
        sub.close()

    def test_del_set_hset_events(self):
        self.r.config_set("notify-keyspace-events", "KEA")
        self.assertEqual(self.r.config_get("notify-keyspace-events"),
                         {"notify-keyspace-events": "AKE"})
        sub = client().pubsub()
        sub.psubscribe("__keyspace@0__:session:*", "__keyevent@0__:*")
        next_message(sub, False)
        next_message(sub, False)
        self.r.set("session:a", "v")
        self.r.hset("session:b", mapping={"user": "1"})
        self.r.delete("session:a")
        got = [next_message(sub) for _ in range(6)]
        space = [(m["channel"], m["data"]) for m in got if "keyspace" in m["channel"]]
        event = [(m["channel"], m["data"]) for m in got if "keyevent" in m["channel"]]
        self.assertEqual(space, [("__keyspace@0__:session:a", "set"),
                                 ("__keyspace@0__:session:b", "hset"),
                                 ("__keyspace@0__:session:a", "del")])
        self.assertEqual(event, [("__keyevent@0__:set", "session:a"),
                                 ("__keyevent@0__:hset", "session:b"),
                                 ("__keyevent@0__:del", "session:a")])
        sub.close()

    def test_resp3_pushes(self):
        r3 = client(protocol=3)
        sub = r3.pubsub()
        sub.subscribe("news")
        next_message(sub, False)
        self.assertEqual(self.r.publish("news", "hello"), 1)
        m = next_message(sub)
        self.assertEqual((m["type"], m["channel"], m["data"]), ("message", "news", "hello"))
        sub.close()
        r3.close()

    def test_a_subscriber_that_never_reads_is_disconnected(self):
        # A raw socket that subscribes and then never reads: pending output
        # passes the pub/sub hard limit (32mb by default) and the server
        # drops the client rather than hold the messages.
        lazy = socket.create_connection(("127.0.0.1", PORT))
        lazy.sendall(b"SUBSCRIBE firehose\r\n")
        until = time.monotonic() + PATIENCE
        while self.r.pubsub_numsub("firehose")[0][1] != 1:
            self.assertLess(time.monotonic(), until, "subscription not seen")
        payload = "x" * (1 << 20)
        receivers = None
        for _ in range(256):
            receivers = self.r.publish("firehose", payload)
            if receivers == 0:
                break
        self.assertEqual(receivers, 0, "256 MiB published and the subscriber is still there")
        self.assertEqual(self.r.pubsub_numsub("firehose"), [("firehose", 0)])
        lazy.close()


if __name__ == "__main__":
    unittest.main()
