// The cluster rig: real servers on loopback, as a deployment runs them. A redis-server, a
// PostgreSQL 15 of its own, the fake upstream of ../js/harness.mjs, several `tutor` nodes
// sharing one database, one Redis and one JWT secret, and nginx in front of them.
//
// Every process started here runs in a process group of its own, is SIGKILLed with its group
// when the test process exits (also on SIGINT/SIGTERM/SIGHUP, and through the parent-death
// signal if the test process itself is killed), and every temporary directory is removed.
// Nothing is installed here: scripts/test.sh installs redis-server, nginx and postgresql-15.
import { execFile, execFileSync, spawn } from "node:child_process";
import { randomBytes, randomUUID } from "node:crypto";
import { chmodSync, chownSync, existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import net from "node:net";
import { tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";

import { PRAZO, fakeUpstream, startServer, token } from "../js/harness.mjs";

const aqui = path.dirname(fileURLToPath(import.meta.url));
/** The nginx template that docs/deploy.md shows operators. */
export const MODELO_NGINX = path.resolve(aqui, "../../docs/nginx.conf");

export const REDIS_BIN = process.env.TUTOR_TEST_REDIS_SERVER ?? "/usr/bin/redis-server";
export const PG_BIN = process.env.TUTOR_TEST_PG_BIN ?? "/usr/lib/postgresql/15/bin";
export const NGINX_BIN = process.env.TUTOR_TEST_NGINX ?? "/usr/sbin/nginx";
/** Bound on a start of Redis, PostgreSQL or nginx (PostgreSQL may replay its WAL first). */
export const PRAZO_INICIO = 30_000;

// The cluster stories always use the PostgreSQL started here (an outage story must be able to
// kill it), never the shared one of TUTOR_TEST_POSTGRES_URL: without this, every startServer
// would also create an unused database there.
delete process.env.TUTOR_TEST_POSTGRES_URL;

// ---------------------------------------------------------------------------------------------
// Cleanup

const grupos = new Set(); // pids of process-group leaders still alive
const diretorios = new Set(); // temp dirs still to delete

function matarGrupo(pid) {
  try { process.kill(-pid, "SIGKILL"); } catch { /* gone */ }
  try { process.kill(pid, "SIGKILL"); } catch { /* gone */ }
}

function limparTudo() {
  for (const pid of grupos) matarGrupo(pid);
  grupos.clear();
  for (const d of diretorios) { try { rmSync(d, { recursive: true, force: true }); } catch { /* best effort */ } }
  diretorios.clear();
}

process.on("exit", limparTudo);
for (const sinal of ["SIGINT", "SIGTERM", "SIGHUP"]) {
  process.once(sinal, () => { limparTudo(); process.exit(128 + ({ SIGINT: 2, SIGTERM: 15, SIGHUP: 1 })[sinal]); });
}

const PREFIXO_DIR = /^tutor-(redis|pg|nginx|no-[a-z])-/;

function dirTemporario(prefixo) {
  const d = mkdtempSync(path.join(tmpdir(), prefixo));
  diretorios.add(d);
  // Who made it: a test process killed outright leaves it behind, and the next one sweeps it.
  writeFileSync(path.join(d, ".dono"), String(process.pid));
  return d;
}

// The directories of test processes that were SIGKILLed (their servers died with them through
// the parent-death signal, but nothing removed their files).
for (const nome of readdirSync(tmpdir())) {
  if (!PREFIXO_DIR.test(nome)) continue;
  const d = path.join(tmpdir(), nome);
  try {
    const dono = Number(readFileSync(path.join(d, ".dono"), "utf8"));
    if (dono > 0 && dono !== process.pid) {
      try { process.kill(dono, 0); } catch (e) { if (e.code === "ESRCH") rmSync(d, { recursive: true, force: true }); }
    }
  } catch { /* not ours, or being made right now */ }
}

function removerDir(d) {
  rmSync(d, { recursive: true, force: true });
  diretorios.delete(d);
}

function exigir(bin, pacote) {
  if (!existsSync(bin)) {
    throw new Error(`${bin} is missing: install the Debian package ${pacote} (scripts/test.sh does)`);
  }
}

// ---------------------------------------------------------------------------------------------
// Processes

const esperar = (ms) => new Promise((ok) => setTimeout(ok, ms));

/** A free TCP port on 127.0.0.1 (free now; the caller binds it soon after). */
export function portaLivre() {
  return new Promise((ok, falha) => {
    const s = net.createServer();
    s.unref();
    s.on("error", falha);
    s.listen(0, "127.0.0.1", () => { const { port } = s.address(); s.close(() => ok(port)); });
  });
}

/** Resolves when something accepts a TCP connection on 127.0.0.1:porta. */
function conecta(porta) {
  return new Promise((ok) => {
    const c = net.connect({ host: "127.0.0.1", port: porta });
    c.setTimeout(1000, () => { c.destroy(); ok(false); });
    c.once("connect", () => { c.destroy(); ok(true); });
    c.once("error", () => ok(false));
  });
}

/**
 * Spawns `cmd args` in a process group of its own (SIGKILLed on our exit, and by the kernel if
 * this process dies: `setpriv --pdeathsig`), as user `como` when given (we are root), with
 * stdout and stderr collected. Returns `{ filho, pid, logs(), saida: Promise<{code, signal}> }`.
 */
function lancar(cmd, args, { cwd, como, env = process.env } = {}) {
  const pre = ["--pdeathsig", "KILL"];
  if (como) pre.push(`--reuid=${como.uid}`, `--regid=${como.gid}`, "--init-groups");
  const filho = spawn("setpriv", [...pre, "--", cmd, ...args], {
    cwd, env, detached: true, stdio: ["ignore", "pipe", "pipe"],
  });
  let logs = "";
  const ler = (d) => {
    logs += d;
    if (logs.length > 200_000) logs = logs.slice(-100_000);
    if (process.env.TUTOR_CLUSTER_LOGS) process.stderr.write(`[${path.basename(cmd)}] ${d}`);
  };
  filho.stdout.setEncoding("utf8").on("data", ler);
  filho.stderr.setEncoding("utf8").on("data", ler);
  grupos.add(filho.pid);
  const saida = new Promise((ok) => {
    filho.on("exit", (code, signal) => ok({ code, signal }));
    filho.on("error", (e) => { logs += `\ncannot start ${cmd}: ${e.message}\n`; ok({ code: null, signal: null, erro: e }); });
  });
  saida.then(() => grupos.delete(filho.pid));
  return { filho, pid: filho.pid, logs: () => logs, saida };
}

const vivo = (p) => p.filho.exitCode === null && p.filho.signalCode === null;

/** Whether any process of the group `pid` is left. */
function grupoVivo(pid) {
  try { process.kill(-pid, 0); return true; } catch { return false; }
}

/** SIGKILLs the whole group and resolves once its leader and every member are gone (bounded). */
async function matar(p) {
  matarGrupo(p.pid);
  await p.saida;
  for (let i = 0; i < 100 && grupoVivo(p.pid); i++) await esperar(50);
}

/** Sends `sinal` to the group's leader; resolves to its exit once it ends, SIGKILL after `prazo`. */
async function terminar(p, sinal, prazo = PRAZO) {
  if (vivo(p)) { try { process.kill(p.pid, sinal); } catch { /* gone */ } }
  const r = await Promise.race([p.saida, esperar(prazo).then(() => null)]);
  if (r === null) await matar(p);
  else for (let i = 0; i < 100 && grupoVivo(p.pid); i++) await esperar(50);
  if (grupoVivo(p.pid)) matarGrupo(p.pid);
  return r ?? (await p.saida);
}

/** Polls `f()` every 50 ms until it is truthy, or fails with `mensagem()` after `prazo`. */
async function ate(f, prazo, mensagem) {
  const limite = Date.now() + prazo;
  for (;;) {
    if (await f()) return;
    if (Date.now() > limite) throw new Error(mensagem());
    await esperar(50);
  }
}

// ---------------------------------------------------------------------------------------------
// Redis

/** Sends one raw RESP command to 127.0.0.1:porta; resolves to the first reply line, or null. */
export function redisComando(porta, ...partes) {
  const pedido = `*${partes.length}\r\n${partes.map((p) => `$${Buffer.byteLength(p)}\r\n${p}\r\n`).join("")}`;
  return new Promise((ok) => {
    let resposta = "";
    const c = net.connect({ host: "127.0.0.1", port: porta });
    c.setTimeout(1000, () => { c.destroy(); ok(null); });
    c.setEncoding("utf8");
    c.once("connect", () => c.write(pedido));
    c.on("data", (d) => {
      resposta += d;
      const i = resposta.indexOf("\r\n");
      if (i >= 0) { c.destroy(); ok(resposta.slice(0, i)); }
    });
    c.once("error", () => ok(null));
    c.once("close", () => ok(resposta || null));
  });
}

/**
 * A redis-server of its own on a free loopback port, nothing persisted.
 * `{ url, port, stop(), kill(), start(), logs }`: `kill()` SIGKILLs it (an outage; resolves when
 * it is dead), `start()` starts it again on the same port (resolves when it answers PING),
 * `stop()` ends it and deletes its directory.
 */
export async function startRedis() {
  exigir(REDIS_BIN, "redis-server");
  const dir = dirTemporario("tutor-redis-");
  let porta = await portaLivre();
  let p = null;
  let logsAnteriores = "";
  const iniciar = async () => {
    if (p && vivo(p)) return;
    if (p) logsAnteriores += p.logs();
    p = lancar(REDIS_BIN, [
      "--port", String(porta), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
      "--dir", dir, "--daemonize", "no", "--protected-mode", "no", "--logfile", "",
    ], { cwd: dir });
    const este = p;
    await ate(async () => {
      if (!vivo(este)) throw new Error(`redis-server exited before answering PING:\n${este.logs()}`);
      return (await redisComando(porta, "PING")) === "+PONG";
    }, PRAZO_INICIO, () => `redis-server on ${porta} did not answer PING within ${PRAZO_INICIO} ms:\n${este.logs()}`);
  };
  for (let tentativa = 1; ; tentativa++) {
    try { await iniciar(); break; } catch (e) {
      // The port may have been taken between the probe and the bind.
      if (p) await matar(p);
      if (tentativa >= 3) { removerDir(dir); throw e; }
      porta = await portaLivre();
      p = null;
    }
  }
  return {
    url: `redis://127.0.0.1:${porta}`,
    port: porta,
    get logs() { return logsAnteriores + (p?.logs() ?? ""); },
    async kill() { if (p) await matar(p); },
    async start() { await iniciar(); },
    async stop() {
      if (p) await terminar(p, "SIGTERM", 5000);
      removerDir(dir);
    },
  };
}

// ---------------------------------------------------------------------------------------------
// PostgreSQL

/** The unprivileged user PostgreSQL runs as when we are root: `{ uid, gid }`, or null. */
function usuarioPostgres() {
  if (process.getuid() !== 0) return null;
  const linha = () => readFileSync("/etc/passwd", "utf8").split("\n").find((l) => l.startsWith("postgres:"));
  if (!linha()) {
    execFileSync("useradd", ["--system", "--no-create-home", "--shell", "/usr/sbin/nologin", "postgres"]);
  }
  const [, , uid, gid] = linha().split(":");
  return { uid: Number(uid), gid: Number(gid) };
}

function executar(cmd, args, opcoes = {}) {
  return new Promise((ok, falha) => {
    execFile(cmd, args, { timeout: PRAZO_INICIO, ...opcoes }, (e, saida, erros) =>
      (e ? falha(Object.assign(new Error(`${path.basename(cmd)} ${args.join(" ")}: ${e.message}\n${saida}${erros}`), { code: e.code })) : ok(saida)));
  });
}

/**
 * A PostgreSQL 15 of its own: a temporary data directory, trust auth, 127.0.0.1 only, the
 * unix socket in the temporary directory, a free port, max_connections=300. As root, initdb
 * and postgres run as the `postgres` system user.
 * `{ url, port, database(), psql(sql, db?), stop(), kill(), start(), logs }`: `url` is the
 * admin URL; `database()` creates a fresh database and resolves to its URL; `kill()` SIGKILLs
 * the server and all its backends (an outage); `start()` starts it again on the same port and
 * data directory (it recovers from its WAL); `stop()` ends it and deletes everything.
 */
export async function startPostgres() {
  exigir(path.join(PG_BIN, "postgres"), "postgresql-15");
  const como = usuarioPostgres();
  const dir = dirTemporario("tutor-pg-");
  chmodSync(dir, 0o700);
  if (como) chownSync(dir, como.uid, como.gid);
  const dados = path.join(dir, "data");
  const pre = como ? ["--reuid", String(como.uid), "--regid", String(como.gid), "--init-groups", "--"] : ["--"];
  try {
    await executar("setpriv", [...pre, path.join(PG_BIN, "initdb"), "-D", dados, "-U", "postgres",
      "--auth=trust", "--encoding=UTF8", "--locale=C", "--no-instructions", "--no-sync"], { cwd: dir });
  } catch (e) {
    removerDir(dir);
    throw e;
  }
  let porta = await portaLivre();
  let p = null;
  let logsAnteriores = "";
  const pronto = () => new Promise((ok) => {
    execFile(path.join(PG_BIN, "pg_isready"), ["-q", "-h", "127.0.0.1", "-p", String(porta), "-U", "postgres"],
      { timeout: 5000 }, (e) => ok(!e));
  });
  const iniciar = async () => {
    if (p && vivo(p)) return;
    if (p) logsAnteriores += p.logs();
    p = lancar(path.join(PG_BIN, "postgres"), [
      "-D", dados, "-p", String(porta),
      "-c", "listen_addresses=127.0.0.1", "-c", `unix_socket_directories=${dir}`,
      "-c", "max_connections=300", "-c", "shared_buffers=64MB", "-c", "log_min_messages=warning",
    ], { cwd: dir, como });
    const este = p;
    await ate(async () => {
      if (!vivo(este)) throw new Error(`postgres exited before accepting connections:\n${este.logs()}`);
      return pronto();
    }, PRAZO_INICIO, () => `postgres on ${porta} did not accept connections within ${PRAZO_INICIO} ms:\n${este.logs()}`);
  };
  for (let tentativa = 1; ; tentativa++) {
    try { await iniciar(); break; } catch (e) {
      if (p) await matar(p);
      if (tentativa >= 3) { removerDir(dir); throw e; }
      porta = await portaLivre();
      p = null;
    }
  }
  const url = `postgres://postgres@127.0.0.1:${porta}/postgres`;
  const psql = (sql, banco = "postgres") =>
    executar(path.join(PG_BIN, "psql"), ["-h", "127.0.0.1", "-p", String(porta), "-U", "postgres", "-d", banco,
      "-XqAt", "-v", "ON_ERROR_STOP=1", "-c", sql], { timeout: PRAZO }).then((s) => s.trim());
  return {
    url,
    port: porta,
    get logs() { return logsAnteriores + (p?.logs() ?? ""); },
    /** Runs one SQL statement (as the superuser, in database `banco`); resolves to psql -At output. */
    psql,
    async database() {
      const nome = `t_${randomUUID().replaceAll("-", "")}`;
      await psql(`CREATE DATABASE ${nome}`);
      return `postgres://postgres@127.0.0.1:${porta}/${nome}`;
    },
    async kill() { if (p) await matar(p); },
    async start() { await iniciar(); },
    async stop() {
      // SIGINT is PostgreSQL's fast shutdown.
      if (p) await terminar(p, "SIGINT", 10_000);
      removerDir(dir);
    },
  };
}

// ---------------------------------------------------------------------------------------------
// The tutor nodes

const LETRAS = "abcdefghijklmnopqrstuvwxyz";

/**
 * `n` tutor nodes sharing one fake upstream, one JWT secret, one PostgreSQL database and one
 * Redis, each started with harness `startServer` and env `DATABASE_URL`, `REDIS_URL`,
 * `TUTOR_NO` ("no-a", "no-b", …), `TUTOR_ARRENDAMENTO_MS` ("3000") plus `env` (an empty
 * string unsets a variable: `env: { REDIS_URL: "" }` starts nodes without Redis).
 * `upstream`, `redis` and `pg` are made (and stopped by `stop()`) unless passed in.
 * Each node is startServer's object plus `name`, `kill9()` (SIGKILL; resolves when it is
 * dead), `term()` (SIGTERM; resolves to the exit code) and `ready()` (GET /ready: resolves to
 * the HTTP status; rejects when the node does not answer).
 * `restart(i, envExtra?)` starts node `i` again (same name, dir and env; it must be dead)
 * and puts the new one in `nodes[i]`.
 * `stop()` SIGTERMs the nodes still alive, stops what it made, and resolves to the exit codes
 * (`null` for a node that was already dead or was killed).
 */
export async function startCluster({ n = 3, env = {}, upstream, redis, pg } = {}) {
  const feitos = [];
  try {
    if (!upstream) { upstream = await fakeUpstream(); feitos.push(() => upstream.close()); }
    if (!redis) { redis = await startRedis(); feitos.push(() => redis.stop()); }
    if (!pg) { pg = await startPostgres(); feitos.push(() => pg.stop()); }
  } catch (e) {
    for (const f of feitos.reverse()) await f().catch(() => {});
    throw e;
  }
  const secret = randomBytes(32).toString("base64url");
  const DATABASE_URL = await pg.database();
  const nodes = [];
  const dirs = [];

  const iniciarNo = async (i, envExtra = {}) => {
    const name = `no-${LETRAS[i]}`;
    dirs[i] ??= dirTemporario(`tutor-${name}-`);
    const ambiente = { DATABASE_URL, REDIS_URL: redis.url, TUTOR_NO: name, TUTOR_ARRENDAMENTO_MS: "3000", ...env, ...envExtra };
    const s = await startServer({ upstream, secret, dir: dirs[i], env: ambiente });
    let codigo;
    const no = Object.assign(s, {
      name,
      env: ambiente,
      async kill9() { codigo = await s.stop({ manter: true, sinal: "SIGKILL" }).catch(() => null); },
      async term() { codigo = await s.stop({ manter: true, sinal: "SIGTERM" }); return codigo; },
      async ready() {
        const r = await fetch(`${s.url}/ready`, { signal: AbortSignal.timeout(5000) });
        return r.status;
      },
    });
    /** The exit code once it ended through kill9/term (null when killed), else undefined. */
    Object.defineProperty(no, "codigo", { get: () => codigo, enumerable: true });
    nodes[i] = no;
    return no;
  };

  try {
    // One after the other: each node migrates the shared database at start.
    for (let i = 0; i < n; i++) await iniciarNo(i);
  } catch (e) {
    for (const no of nodes) await no?.kill9();
    for (const d of dirs) if (d) removerDir(d);
    for (const f of feitos.reverse()) await f().catch(() => {});
    throw e;
  }

  return {
    nodes,
    upstream,
    redis,
    pg,
    secret,
    DATABASE_URL,
    token: (sub, claims = {}) => token(secret, { sub, ...claims }),
    async restart(i, envExtra = {}) {
      const velho = nodes[i];
      if (velho && velho.codigo === undefined) await velho.kill9();
      return iniciarNo(i, { ...velho?.env, ...envExtra });
    },
    async stop() {
      const codigos = [];
      for (const no of nodes) {
        if (no.codigo !== undefined) { codigos.push(null); continue; }
        codigos.push(await no.term().catch(() => null));
      }
      for (const d of dirs) if (d) removerDir(d);
      for (const f of feitos.reverse()) await f().catch(() => {});
      return codigos;
    },
  };
}

// ---------------------------------------------------------------------------------------------
// nginx

/** `backends`: node objects (with `url`) or URLs or `host:port` strings. */
function hostPorta(b) {
  const u = typeof b === "string" ? b : b.url;
  return u.replace(/^https?:\/\//, "").replace(/\/.*$/, "");
}

/**
 * nginx in front of `backends`, configured from docs/nginx.conf, in the foreground with
 * everything (config, logs, temp files, pid) in a temporary directory.
 * `{ url, urlSticky, stop(), logs(), accessLog() }`: `url` round-robins (for WebSocket-only
 * clients), `urlSticky` is `ip_hash` (for polling and upgrading clients).
 */
export async function startNginx(backends) {
  exigir(NGINX_BIN, "nginx");
  const modelo = readFileSync(MODELO_NGINX, "utf8");
  const dir = dirTemporario("tutor-nginx-");
  chmodSync(dir, 0o755);
  const conf = path.join(dir, "nginx.conf");
  let p;
  let portas;
  for (let tentativa = 1; ; tentativa++) {
    portas = [await portaLivre(), await portaLivre()];
    if (portas[0] === portas[1]) continue;
    const texto = modelo
      .replaceAll("{{PREFIX}}", dir)
      .replaceAll("{{BACKENDS}}", backends.map((b) => `server ${hostPorta(b)};`).join("\n        "))
      .replaceAll("{{LISTEN}}", `127.0.0.1:${portas[0]}`)
      .replaceAll("{{LISTEN_STICKY}}", `127.0.0.1:${portas[1]}`);
    const falta = texto.match(/\{\{[A-Z_]+\}\}/);
    if (falta) throw new Error(`docs/nginx.conf has a placeholder the harness does not fill: ${falta[0]}`);
    writeFileSync(conf, texto);
    p = lancar(NGINX_BIN, ["-p", dir, "-e", path.join(dir, "error.log"), "-c", conf,
      // One process (no master and workers): the parent-death signal then takes all of nginx.
      "-g", `daemon off; master_process off; pid ${path.join(dir, "nginx.pid")};`], { cwd: dir });
    const este = p;
    const erros = () => `${este.logs()}${(() => { try { return readFileSync(path.join(dir, "error.log"), "utf8"); } catch { return ""; } })()}`;
    try {
      await ate(async () => {
        if (!vivo(este)) throw new Error(`nginx exited:\n${erros()}`);
        return (await conecta(portas[0])) && (await conecta(portas[1]));
      }, PRAZO_INICIO, () => `nginx did not listen within ${PRAZO_INICIO} ms:\n${erros()}`);
      break;
    } catch (e) {
      await matar(este);
      if (tentativa >= 3) { removerDir(dir); throw e; }
    }
  }
  const ler = (f) => { try { return readFileSync(path.join(dir, f), "utf8"); } catch { return ""; } };
  return {
    url: `http://127.0.0.1:${portas[0]}`,
    urlSticky: `http://127.0.0.1:${portas[1]}`,
    logs: () => p.logs() + ler("error.log"),
    accessLog: () => ler("access.log"),
    async stop() {
      await terminar(p, "SIGTERM", 5000);
      removerDir(dir);
    },
  };
}
