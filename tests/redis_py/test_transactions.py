"""Transactions through redis-py, on a 2-shard TokenginX (keys without hash
tags spread over both shards): transactional pipelines, WATCH retry loops
under contention, and the oidc-provider and Shibboleth storage patterns.
Run by tests/redis_py.rs.
"""

import threading
import unittest

import redis

from tokenginx import client


class TransactionTest(unittest.TestCase):
    def setUp(self):
        self.r = client()
        self.r.flushall()

    def tearDown(self):
        self.r.close()

    def test_transactional_pipeline(self):
        with self.r.pipeline() as p:
            p.set("tx:a", "1")
            p.incr("tx:a")
            p.mset({"tx:b": "x", "tx:c": "y", "tx:d": "z"})
            p.mget("tx:a", "tx:b", "tx:c", "tx:d")
            self.assertEqual(p.execute(), [True, 2, True, ["2", "x", "y", "z"]])

    def test_queue_time_error_discards_everything(self):
        p = self.r.pipeline()
        p.set("tx:x", "1")
        p.execute_command("NOSUCHCOMMAND")
        with self.assertRaises(redis.ResponseError) as ctx:
            p.execute()
        # redis-py reports the first refused command (EXEC said EXECABORT).
        self.assertIn("unknown command 'NOSUCHCOMMAND'", str(ctx.exception))
        self.assertIsNone(self.r.get("tx:x"))

    def test_watch_retry_loop_loses_no_increment(self):
        # Each worker adds to a counter with GET + SET under WATCH: without
        # WATCH failing on other clients' writes, increments would be lost.
        self.r.set("counter", 0)
        workers, rounds = 4, 150
        retries = []

        def work():
            c = client()
            failed = 0
            for _ in range(rounds):
                with c.pipeline() as p:
                    while True:
                        try:
                            p.watch("counter")
                            value = int(p.get("counter"))
                            p.multi()
                            p.set("counter", value + 1)
                            p.execute()
                            break
                        except redis.WatchError:
                            failed += 1
            retries.append(failed)
            c.close()

        threads = [threading.Thread(target=work) for _ in range(workers)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        self.assertEqual(int(self.r.get("counter")), workers * rounds)
        self.assertGreater(sum(retries), 0, "contention never failed a WATCH")

    def test_transaction_helper_across_shards(self):
        # redis-py's transaction(): WATCH several keys, retry on WatchError.
        self.r.mset({"acct:alice": 100, "acct:bob": 100})

        def transfer(p):
            a = int(p.get("acct:alice"))
            p.multi()
            p.decrby("acct:alice", 10)
            p.incrby("acct:bob", 10)
            return a

        threads = [
            threading.Thread(
                target=lambda: [
                    client().transaction(transfer, "acct:alice", "acct:bob")
                    for _ in range(20)
                ]
            )
            for _ in range(3)
        ]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        a, b = map(int, self.r.mget("acct:alice", "acct:bob"))
        self.assertEqual((a, b), (100 - 600, 100 + 600))

    def test_oidc_provider_storage_pattern(self):
        # oidc-provider's Redis adapter: MULTI, HSET/SET, RPUSH grant index,
        # EXPIRE on each, then reads.
        with self.r.pipeline() as p:
            p.hset("oidc:AccessToken:tok1", mapping={"payload": "{}", "grantId": "g1"})
            p.rpush("oidc:grant:g1", "oidc:AccessToken:tok1")
            p.expire("oidc:AccessToken:tok1", 3600)
            p.expire("oidc:grant:g1", 3600)
            p.ttl("oidc:AccessToken:tok1")
            replies = p.execute()
        self.assertEqual(replies[:4], [2, 1, True, True])
        self.assertEqual(replies[4], 3600)
        tokens = self.r.lrange("oidc:grant:g1", 0, -1)
        self.assertEqual(tokens, ["oidc:AccessToken:tok1"])
        with self.r.pipeline() as p:
            for key in tokens:
                p.delete(key)
            p.delete("oidc:grant:g1")
            self.assertEqual(p.execute(), [1, 1])

    def test_shibboleth_versioned_update(self):
        # Shibboleth-style storage: a record with a version, updated only if
        # the version read is still current.
        self.r.hset("shib:ctx:key", mapping={"value": "v1", "version": 1})
        with self.r.pipeline() as p:
            p.watch("shib:ctx:key")
            version = int(p.hget("shib:ctx:key", "version"))
            other = client()
            other.hincrby("shib:ctx:key", "version", 1)
            other.close()
            p.multi()
            p.hset("shib:ctx:key", mapping={"value": "v2", "version": version + 1})
            with self.assertRaises(redis.WatchError):
                p.execute()
        self.assertEqual(self.r.hget("shib:ctx:key", "value"), "v1")

    def test_discard_and_unwatch(self):
        with self.r.pipeline() as p:
            p.watch("tx:w")
            p.multi()
            p.set("tx:w", "1")
            p.reset()  # DISCARD/UNWATCH under the hood
        self.assertIsNone(self.r.get("tx:w"))
        self.r.set("tx:w", "0")
        with self.r.pipeline() as p:
            p.watch("tx:w")
            p.unwatch()
            self.r.set("tx:w", "changed")
            p.multi()
            p.set("tx:w", "mine")
            self.assertEqual(p.execute(), [True])
        self.assertEqual(self.r.get("tx:w"), "mine")


if __name__ == "__main__":
    unittest.main()
