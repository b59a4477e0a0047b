// Connection handshakes and everyday commands of the two Node.js Redis
// clients, ioredis and node-redis, against a TokenginX that requires a
// password.
//
// Usage: TEST_TOKENGINX_PASSWORD=<password> node clients.js <tokenginx-port>
//
// Prints one `ok <check>` line per passed check and exits 0 only if all pass.
"use strict";

const assert = require("node:assert/strict");
const Redis = require("ioredis");
const { createClient } = require("redis");
const ioredisVersion = require("ioredis/package.json").version;
const nodeRedisVersion = require("@redis/client/package.json").version;
// What node-redis sends as CLIENT SETINFO LIB-VER: the version in the
// package.json its build bundles, which can lag the package's own.
const nodeRedisLibVer = require(
  require("node:path").join(require.resolve("@redis/client"), "../package.json"),
).version;

const port = Number(process.argv[2]);
const password = process.env.TEST_TOKENGINX_PASSWORD;
if (!Number.isInteger(port) || port <= 0 || !password) {
  console.error("usage: TEST_TOKENGINX_PASSWORD=<password> node clients.js <tokenginx-port>");
  process.exit(2);
}

// Both clients only warn (and carry on) when part of their handshake fails,
// e.g. ioredis when INFO for its ready check errors: make any warning fatal.
console.warn = (...args) => {
  console.error("FAILED: client warned:", ...args);
  process.exit(1);
};

const DB = 2;
// Keys whose slots fall in both halves of the slot space, so that with two
// shards the multi-key commands below cross shards.
const KEYS = ["tok:a", "tok:b", "tok:c", "tok:d", "tok:e", "tok:f", "tok:g", "tok:h"];

/** `CLIENT INFO` as an object of its fields. */
function clientInfo(text) {
  return Object.fromEntries(
    text
      .trim()
      .split(" ")
      .map((kv) => {
        const i = kv.indexOf("=");
        return [kv.slice(0, i), kv.slice(i + 1)];
      }),
  );
}

function ioredis(extra) {
  return new Redis({
    host: "127.0.0.1",
    port,
    password,
    db: DB,
    connectionName: "node-ioredis",
    enableReadyCheck: true,
    lazyConnect: true,
    maxRetriesPerRequest: 0,
    retryStrategy: () => null,
    ...extra,
  });
}

async function checkIoredis() {
  const r = ioredis();
  const errors = [];
  r.on("error", (err) => errors.push(err.message));
  // connect() resolves only after the ready check (INFO) passed.
  await r.connect();
  assert.equal(r.status, "ready");
  const info = clientInfo(await r.client("INFO"));
  assert.equal(info.name, "node-ioredis");
  assert.equal(info.db, String(DB));
  assert.equal(info["lib-name"], "ioredis");
  assert.equal(info["lib-ver"], ioredisVersion);
  console.log("ok ioredis handshake (AUTH, SELECT, CLIENT SETNAME, CLIENT SETINFO, INFO ready check)");

  assert.equal(await r.set("tok:a", "alpha"), "OK");
  assert.equal(await r.set("tok:b", "beta", "EX", 100), "OK");
  assert.equal(await r.get("tok:a"), "alpha");
  assert.equal(await r.get("tok:missing"), null);
  assert.equal(await r.expire("tok:a", 300), 1);
  const ttl = await r.ttl("tok:a");
  assert.ok(ttl > 0 && ttl <= 300, `TTL ${ttl}`);
  assert.equal(await r.ttl("tok:missing"), -2);
  assert.equal(await r.hset("tok:h", { user: "alice", role: "admin" }), 2);
  assert.deepEqual(await r.hgetall("tok:h"), { user: "alice", role: "admin" });
  assert.deepEqual(await r.hgetall("tok:missing"), {});
  assert.deepEqual(await r.mget("tok:a", "tok:b", "tok:missing"), ["alpha", "beta", null]);
  console.log("ok ioredis SET GET EXPIRE TTL HSET HGETALL MGET");

  const pipe = r.pipeline();
  for (const k of KEYS.slice(2, 7)) pipe.set(k, `v-${k}`, "EX", 60);
  pipe.mget(...KEYS.slice(2, 7));
  pipe.ttl("tok:c");
  pipe.incr("tok:counter");
  pipe.hget("tok:a", "x"); // WRONGTYPE: one failing command must not fail the others
  const results = await pipe.exec();
  assert.equal(results.length, 9);
  for (const [err, val] of results.slice(0, 5)) assert.deepEqual([err, val], [null, "OK"]);
  assert.deepEqual(results[5], [null, KEYS.slice(2, 7).map((k) => `v-${k}`)]);
  assert.ok(results[6][1] > 0 && results[6][1] <= 60);
  assert.deepEqual(results[7], [null, 1]);
  assert.match(results[8][0].message, /^WRONGTYPE Operation against a key holding the wrong kind of value$/);
  console.log("ok ioredis pipeline");

  const scanned = new Set();
  await new Promise((resolve, reject) => {
    const stream = r.scanStream({ match: "tok:*", count: 2 });
    stream.on("data", (batch) => batch.forEach((k) => scanned.add(k)));
    stream.on("end", resolve);
    stream.on("error", reject);
  });
  assert.deepEqual([...scanned].sort(), ["tok:a", "tok:b", "tok:c", "tok:counter", "tok:d", "tok:e", "tok:f", "tok:g", "tok:h"]);
  console.log("ok ioredis SCAN (scanStream)");

  assert.equal(await r.del(...scanned), scanned.size);
  assert.equal(await r.exists(...scanned), 0);
  console.log("ok ioredis DEL");

  assert.equal(await r.quit(), "OK");
  assert.deepEqual(errors, []);

  // A wrong password fails the connection with Redis's error text (ioredis
  // reports it as an error event and then rejects connect() as closed, the
  // same against redis-server).
  const bad = ioredis({ password: "not-the-password" });
  const badErrors = [];
  bad.on("error", (err) => badErrors.push(err.message));
  await assert.rejects(bad.connect());
  bad.disconnect();
  assert.equal(badErrors[0], "WRONGPASS invalid username-password pair or user is disabled.");
  console.log("ok ioredis wrong password rejected");
}

function nodeRedis(extra) {
  return createClient({
    socket: { host: "127.0.0.1", port, reconnectStrategy: false },
    password,
    database: DB,
    name: "node-redis-client",
    ...extra,
  });
}

async function checkNodeRedis() {
  const c = nodeRedis();
  const errors = [];
  c.on("error", (err) => errors.push(err.message));
  await c.connect();
  const info = clientInfo(await c.sendCommand(["CLIENT", "INFO"]));
  assert.equal(info.name, "node-redis-client");
  assert.equal(info.db, String(DB));
  assert.equal(info["lib-name"], "node-redis");
  assert.equal(info["lib-ver"], nodeRedisLibVer);
  assert.equal(await c.clientGetName(), "node-redis-client");
  console.log("ok node-redis handshake (AUTH, SELECT, CLIENT SETNAME, CLIENT SETINFO)");

  assert.equal(await c.set("tok:a", "alpha"), "OK");
  assert.equal(await c.set("tok:b", "beta", { EX: 100 }), "OK");
  assert.equal(await c.get("tok:a"), "alpha");
  assert.equal(await c.get("tok:missing"), null);
  assert.equal(await c.expire("tok:a", 300), true);
  const ttl = await c.ttl("tok:a");
  assert.ok(ttl > 0 && ttl <= 300, `TTL ${ttl}`);
  assert.equal(await c.hSet("tok:h", { user: "alice", role: "admin" }), 2);
  assert.deepEqual({ ...(await c.hGetAll("tok:h")) }, { user: "alice", role: "admin" });
  assert.deepEqual(await c.mGet(["tok:a", "tok:b", "tok:missing"]), ["alpha", "beta", null]);
  console.log("ok node-redis SET GET EXPIRE TTL HSET HGETALL MGET");

  // A non-transactional pipeline, and node-redis's automatic pipelining of
  // commands issued in the same tick.
  const piped = await c
    .multi()
    .set("tok:c", "v-c", { EX: 60 })
    .set("tok:d", "v-d")
    .mGet(["tok:c", "tok:d"])
    .incr("tok:counter")
    .execAsPipeline();
  assert.deepEqual(piped, ["OK", "OK", ["v-c", "v-d"], 1]);
  const auto = await Promise.all(KEYS.slice(4, 7).map((k) => c.set(k, `v-${k}`)));
  assert.deepEqual(auto, ["OK", "OK", "OK"]);
  await assert.rejects(c.hGet("tok:a", "x"), /^\[?.*WRONGTYPE Operation against a key holding the wrong kind of value/);
  console.log("ok node-redis pipeline");

  const scanned = new Set();
  for await (const k of c.scanIterator({ MATCH: "tok:*", COUNT: 2 })) scanned.add(k);
  assert.deepEqual([...scanned].sort(), ["tok:a", "tok:b", "tok:c", "tok:counter", "tok:d", "tok:e", "tok:f", "tok:g", "tok:h"]);
  console.log("ok node-redis SCAN (scanIterator)");

  assert.equal(await c.del([...scanned]), scanned.size);
  assert.equal(await c.exists([...scanned]), 0);
  console.log("ok node-redis DEL");

  await c.quit();
  assert.deepEqual(errors, []);

  const bad = nodeRedis({ password: "not-the-password" });
  bad.on("error", () => {});
  await assert.rejects(bad.connect(), /WRONGPASS invalid username-password pair or user is disabled\./);
  console.log("ok node-redis wrong password rejected");
}

async function main() {
  await checkIoredis();
  await checkNodeRedis();
  console.log(`ok all ioredis=${ioredisVersion} node-redis=${nodeRedisVersion}`);
}

main().then(
  () => process.exit(0),
  (err) => {
    console.error("FAILED:", err && err.stack ? err.stack : err);
    process.exit(1);
  },
);
