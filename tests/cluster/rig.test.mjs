// The rig itself, so that a story failing means the server, not the harness: Redis and
// PostgreSQL come back on the same port after an outage with what they held (PostgreSQL) or
// empty (Redis persists nothing), nginx reaches the nodes on both entry points, and a stop
// leaves no process and no directory behind.
import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import { describe, test } from "node:test";

import { redisComando, startNginx, startPostgres, startRedis } from "./cluster.mjs";

describe("the cluster rig", () => {
  test("redis-server: PING, an outage, back on the same port with nothing persisted", async () => {
    const r = await startRedis();
    try {
      assert.match(r.url, /^redis:\/\/127\.0\.0\.1:\d+$/);
      assert.equal(await redisComando(r.port, "SET", "k", "v"), "+OK");
      await r.kill();
      assert.equal(await redisComando(r.port, "PING"), null, "nothing answers during the outage");
      await r.start();
      assert.equal(await redisComando(r.port, "PING"), "+PONG");
      assert.equal(await redisComando(r.port, "GET", "k"), "$-1", "nothing was persisted");
    } finally {
      await r.stop();
    }
    assert.equal(await redisComando(r.port, "PING"), null, "stopped");
    assert.ok(!existsSync(r.dir), "its directory is gone");
  });

  test("PostgreSQL: a fresh database, an outage, back on the same port with its data", async () => {
    const pg = await startPostgres();
    let url;
    try {
      url = await pg.database();
      const banco = new URL(url).pathname.slice(1);
      await pg.psql("CREATE TABLE t (x text); INSERT INTO t VALUES ('antes da queda')", banco);
      await pg.kill();
      await assert.rejects(pg.psql("SELECT 1"), "nothing answers during the outage");
      await pg.start();
      assert.equal(await pg.psql("SELECT x FROM t", banco), "antes da queda", "committed rows survive a SIGKILL");
      assert.equal(await pg.psql("SHOW max_connections"), "300");
    } finally {
      await pg.stop();
    }
    assert.ok(!existsSync(pg.dir), "its directory is gone");
  });

  test("nginx: both entry points reach the backends; stop removes everything", async () => {
    const http = await import("node:http");
    const backends = [];
    for (let i = 0; i < 2; i++) {
      const s = http.createServer((req, res) => res.end(`backend ${i} ${req.headers["x-forwarded-for"]}`));
      await new Promise((ok) => s.listen(0, "127.0.0.1", ok));
      backends.push(s);
    }
    const ng = await startNginx(backends.map((s) => `127.0.0.1:${s.address().port}`));
    try {
      const vistos = new Set();
      for (let i = 0; i < 4; i++) {
        const r = await fetch(`${ng.url}/health`, { signal: AbortSignal.timeout(5000) });
        const corpo = await r.text();
        assert.match(corpo, /^backend \d 127\.0\.0\.1$/, "X-Forwarded-For is set");
        vistos.add(corpo);
      }
      assert.equal(vistos.size, 2, "round-robin over both backends");
      const fixos = new Set();
      for (let i = 0; i < 4; i++) fixos.add(await (await fetch(`${ng.urlSticky}/health`, { signal: AbortSignal.timeout(5000) })).text());
      assert.equal(fixos.size, 1, "ip_hash keeps one client on one backend");
    } finally {
      await ng.stop();
      for (const s of backends) { s.closeAllConnections(); s.close(); }
    }
    assert.ok(!existsSync(ng.dir), "its directory is gone");
  });
});
