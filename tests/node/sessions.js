// An express app keeping its sessions in TokenginX through express-session,
// connect-redis and ioredis, driven by plain HTTP requests.
//
// Usage: node sessions.js <tokenginx-port>
//
// The script talks to its parent over stdio so that the parent can look at
// the keys in TokenginX between the steps: at each checkpoint it prints
// `<step> <key>...` and waits for a line on stdin before going on. It exits 0
// only when every step behaved as a Redis-backed session store must.
"use strict";

const assert = require("node:assert/strict");
const http = require("node:http");
const readline = require("node:readline");
const express = require("express");
const session = require("express-session");
const RedisStore = require("connect-redis").default;
const Redis = require("ioredis");
const calculateSlot = require("cluster-key-slot");

const port = Number(process.argv[2]);
if (!Number.isInteger(port) || port <= 0) {
  console.error("usage: node sessions.js <tokenginx-port>");
  process.exit(2);
}

const PREFIX = "sess:";
const MAX_AGE_MS = 600_000;
// Enough logins to find one session per half of the slot space (one per
// shard with two shards); each lands in a half with probability 1/2.
const MAX_LOGINS = 64;

const lines = readline.createInterface({ input: process.stdin })[Symbol.asyncIterator]();

/** Tells the parent where we are and waits until it has checked. */
async function checkpoint(step, keys) {
  console.log(`${step} ${keys.join(" ")}`);
  const { value, done } = await lines.next();
  assert.ok(!done, `stdin closed at ${step}`);
  assert.equal(value.trim(), "next", `parent answered ${JSON.stringify(value)} at ${step}`);
}

/** One HTTP request to the app; resolves with status, headers and body. */
function request(appPort, method, path, cookie) {
  return new Promise((resolve, reject) => {
    const headers = cookie ? { cookie } : {};
    const req = http.request({ host: "127.0.0.1", port: appPort, method, path, headers }, (res) => {
      let body = "";
      res.setEncoding("utf8");
      res.on("data", (chunk) => (body += chunk));
      res.on("end", () => resolve({ status: res.statusCode, headers: res.headers, body }));
      res.on("error", reject);
    });
    req.on("error", reject);
    req.end();
  });
}

function buildApp(store) {
  const app = express();
  app.use(
    session({
      store,
      secret: "node-sessions-test-secret",
      name: "sid",
      resave: false,
      saveUninitialized: false,
      cookie: { maxAge: MAX_AGE_MS, httpOnly: true },
    }),
  );
  app.post("/login/:user", (req, res) => {
    req.session.user = req.params.user;
    req.session.roles = ["reader", "writer"];
    res.json({ sid: req.sessionID });
  });
  app.get("/me", (req, res) => {
    if (!req.session.user) return res.status(401).json({ error: "not logged in" });
    res.json({ sid: req.sessionID, user: req.session.user, roles: req.session.roles });
  });
  app.post("/logout", (req, res, next) => {
    req.session.destroy((err) => (err ? next(err) : res.json({ ok: true })));
  });
  app.use((err, _req, res, _next) => {
    console.error("app error:", err);
    res.status(500).json({ error: String(err && err.message) });
  });
  return app;
}

function sessionCookie(res) {
  const set = res.headers["set-cookie"] || [];
  const c = set.find((s) => s.startsWith("sid="));
  assert.ok(c, `no session cookie in ${JSON.stringify(set)}`);
  return c.split(";")[0];
}

async function main() {
  const client = new Redis({
    host: "127.0.0.1",
    port,
    connectionName: "node-sessions",
    enableReadyCheck: true,
    maxRetriesPerRequest: 1,
    retryStrategy: () => null,
  });
  client.on("error", (err) => console.error("ioredis:", err.message));
  await new Promise((resolve, reject) => {
    client.once("ready", resolve);
    client.once("end", () => reject(new Error("ioredis connection ended before ready")));
  });

  const store = new RedisStore({ client, prefix: PREFIX });
  const server = buildApp(store).listen(0, "127.0.0.1");
  await new Promise((resolve, reject) => {
    server.once("listening", resolve);
    server.once("error", reject);
  });
  const appPort = server.address().port;

  // Log users in until there is a session in each half of the slot space.
  const byHalf = new Map();
  const others = [];
  for (let i = 0; i < MAX_LOGINS && byHalf.size < 2; i++) {
    const user = `user${i}`;
    const res = await request(appPort, "POST", `/login/${user}`);
    assert.equal(res.status, 200, `login ${user}: ${res.body}`);
    const sid = JSON.parse(res.body).sid;
    const key = PREFIX + sid;
    const half = calculateSlot(key) < 8192 ? 0 : 1;
    const entry = { user, sid, key, cookie: sessionCookie(res) };
    if (byHalf.has(half)) others.push(entry);
    else byHalf.set(half, entry);
  }
  assert.equal(byHalf.size, 2, `${MAX_LOGINS} sessions all hashed to one half of the slots`);
  const sessions = [...byHalf.values()];
  const keys = sessions.map((s) => s.key);

  // The stored value is connect-redis's JSON of the session.
  for (const s of sessions) {
    const raw = await client.get(s.key);
    assert.ok(raw, `${s.key} missing right after login`);
    const stored = JSON.parse(raw);
    assert.equal(stored.user, s.user);
    // express-session derives it from `expires - now`: a millisecond may pass.
    const age = stored.cookie.originalMaxAge;
    assert.ok(age <= MAX_AGE_MS && age > MAX_AGE_MS - 1000, `originalMaxAge ${age}`);
  }
  // The parent checks the keys and their TTLs, then cuts the TTLs short so
  // that the next step can show the touch restored them.
  await checkpoint("logged-in", keys);

  // A second request with the cookie reads the session back and, as it does
  // not change it, touches it (EXPIRE) instead of saving it again.
  for (const s of sessions) {
    const res = await request(appPort, "GET", "/me", s.cookie);
    assert.equal(res.status, 200, `GET /me for ${s.user}: ${res.body}`);
    const body = JSON.parse(res.body);
    assert.equal(body.user, s.user);
    assert.equal(body.sid, s.sid);
    assert.deepEqual(body.roles, ["reader", "writer"]);
  }
  await checkpoint("touched", keys);

  // connect-redis's enumeration (SCAN MATCH + MGET) sees every session.
  const all = await new Promise((resolve, reject) =>
    store.all((err, list) => (err ? reject(err) : resolve(list))),
  );
  const seen = new Set(all.map((s) => s.id));
  for (const s of [...sessions, ...others]) assert.ok(seen.has(s.sid), `store.all() lacks ${s.sid}`);
  const count = await new Promise((resolve, reject) =>
    store.length((err, n) => (err ? reject(err) : resolve(n))),
  );
  assert.equal(count, sessions.length + others.length);

  // Logging out destroys the session (DEL); the old cookie no longer works.
  for (const s of sessions) {
    const res = await request(appPort, "POST", "/logout", s.cookie);
    assert.equal(res.status, 200, `logout ${s.user}: ${res.body}`);
    const after = await request(appPort, "GET", "/me", s.cookie);
    assert.equal(after.status, 401, `GET /me after logout for ${s.user}: ${after.body}`);
    assert.equal(await client.get(s.key), null);
  }
  await checkpoint("logged-out", keys);

  // store.clear() removes the remaining sessions.
  await new Promise((resolve, reject) => store.clear((err) => (err ? reject(err) : resolve())));
  assert.equal((await client.keys(PREFIX + "*")).length, 0);

  await new Promise((resolve) => server.close(resolve));
  await client.quit();
  console.log(`ok sessions=${sessions.length + others.length}`);
}

main().then(
  () => process.exit(0),
  (err) => {
    console.error("FAILED:", err && err.stack ? err.stack : err);
    process.exit(1);
  },
);
