// What every JS story needs: the real server binary on a free port with its own database (a
// SQLite file, or with TUTOR_TEST_POSTGRES_URL a fresh Postgres database: see `database`),
// a fake OpenAI-compatible upstream the test scripts and that records what it was sent,
// HS256 tokens made by hand (so tests can also make broken ones), and the stock
// socket.io-client with every wait bounded.
import { execFile, spawn } from "node:child_process";
import { createHash, createHmac, randomBytes, randomUUID } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import http from "node:http";
import { tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { after, afterEach, before, beforeEach } from "node:test";
import { io } from "socket.io-client";

const aqui = path.dirname(fileURLToPath(import.meta.url));
export const BIN = path.resolve(process.env.TUTOR_BIN ?? path.resolve(aqui, "../../target/debug/tutor"));
/** Bound on every wait for an event, a start or a stop. */
export const PRAZO = 10_000;
/** Bound on every ack. */
export const PRAZO_ACK = 5_000;

/** The three ways a browser reaches the server. */
export const TRANSPORTES = {
  polling: { transports: ["polling"] },
  websocket: { transports: ["websocket"] },
  upgrade: {},
};

/** What the fake model answers when a test scripted nothing. */
export const PADRAO = ["Uma fração ", "representa ", "partes de ", "um todo."];

export const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
/** RFC 3339 in UTC with at least millisecond precision. */
export const RFC3339_MS = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3,9}(Z|\+00:00)$/;

// ---------------------------------------------------------------------------------------------
// Tokens

const b64 = (s) => Buffer.from(s).toString("base64url");

/**
 * An HS256 JWT with `exp` one hour ahead unless the claims say otherwise (`exp: undefined`
 * leaves it out). `alg: "none"` gives an unsigned token, `alg: "HS512"` a SHA-512 one.
 */
export function token(segredo, claims, { alg = "HS256" } = {}) {
  const h = b64(JSON.stringify({ alg, typ: "JWT" }));
  const todas = { exp: Math.floor(Date.now() / 1000) + 3600, ...claims };
  for (const k of Object.keys(todas)) if (todas[k] === undefined) delete todas[k];
  const c = b64(JSON.stringify(todas));
  if (alg === "none") return `${h}.${c}.`;
  const sig = createHmac(alg === "HS512" ? "sha512" : "sha256", segredo).update(`${h}.${c}`).digest("base64url");
  return `${h}.${c}.${sig}`;
}

// ---------------------------------------------------------------------------------------------
// The fake model

const chunk = (delta, finish = null) =>
  `data: ${JSON.stringify({
    id: "chatcmpl-1", object: "chat.completion.chunk", created: 1, model: "m",
    choices: [{ index: 0, delta, finish_reason: finish }],
  })}\n\n`;

/** The last chunk of a stream asked for with `include_usage`: no choices, the usage. */
const chunkUso = (total) =>
  `data: ${JSON.stringify({
    id: "chatcmpl-1", object: "chat.completion.chunk", created: 1, model: "m", choices: [],
    usage: { prompt_tokens: Math.floor(total / 2), completion_tokens: total - Math.floor(total / 2), total_tokens: total },
  })}\n\n`;

/** A gate for `segurar`: `aberto` resolves once `abrir()` is called. */
export function portao() {
  let abrir;
  const aberto = new Promise((ok) => { abrir = ok; });
  return { aberto, abrir };
}

/**
 * Answers one request as the script `r` says:
 * - `{ partes, atraso }`: the role chunk, each piece `atraso` ms apart, `finish_reason: "stop"`, `[DONE]`;
 *   `partes` may also be a function of the request's JSON body returning the pieces;
 * - `{ status: 500 | 429 }`: that HTTP error with an OpenAI-style JSON body;
 * - `{ partes, cortar: true }`: the pieces, then the connection closes (no finish_reason, no [DONE]);
 * - `{ partes, pendurar: true }`: the pieces, then silence with the connection open;
 *   `pendurar: "antes"`: silence from the start, not even the status line.
 * With `uso: N`, a normal end also reports `usage.total_tokens: N` in a last chunk (no
 * choices), as OpenAI does, but only when the request asked for it with
 * `stream_options.include_usage`. With `segurar` (a promise, see `portao`), a normal end
 * waits for it after the last piece: the answer streams until the test lets it finish.
 * Resolves when the response is over: `"fim"`, `"erro"`, `"cortado"`, `"pendurado"` or
 * `"fechado"` when the server closed the request before the end.
 */
function responder(req, res, r, corpo) {
  return new Promise((fim) => {
    if (r.status) {
      res.writeHead(r.status, { "content-type": "application/json" });
      res.end(JSON.stringify({
        error: { message: "falha simulada", type: r.status === 429 ? "rate_limit_exceeded" : "server_error", code: null },
      }));
      fim("erro");
      return;
    }
    const partes = (typeof r.partes === "function" ? r.partes(corpo) : r.partes) ?? PADRAO;
    const atraso = r.atraso ?? 5;
    let acabou = false;
    res.on("close", () => { if (!acabou) fim("fechado"); });
    if (r.pendurar === "antes") return; // not even the status line
    res.writeHead(200, { "content-type": "text/event-stream", "cache-control": "no-cache" });
    res.write(chunk({ role: "assistant", content: "" }));
    let i = 0;
    let segurou = false;
    const passo = () => {
      if (res.destroyed || res.writableEnded) return;
      if (i < partes.length) {
        res.write(chunk({ content: partes[i++] }));
        setTimeout(passo, atraso);
      } else if (r.segurar && !segurou) {
        segurou = true;
        r.segurar.then(passo);
      } else if (r.pendurar) {
        acabou = true;
        fim("pendurado");
      } else if (r.cortar) {
        acabou = true;
        res.destroy();
        fim("cortado");
      } else {
        acabou = true;
        res.write(chunk({}, "stop"));
        if (r.uso !== undefined && corpo?.stream_options?.include_usage === true) res.write(chunkUso(r.uso));
        res.end("data: [DONE]\n\n");
        fim("fim");
      }
    };
    setTimeout(passo, atraso);
  });
}

/**
 * The fake OpenAI-compatible upstream. `roteiro(r)` queues the script of the next request;
 * when the queue is empty every request gets `padrao(r)` (normal answers unless set).
 * `pedidos` holds every JSON body received, in order; `desfechos` how each response ended.
 */
export async function fakeUpstream() {
  let fila = [];
  let padrao = { partes: PADRAO, atraso: 5 };
  const pedidos = [];
  const desfechos = [];
  const espera = new Set();
  const server = http.createServer((req, res) => {
    let corpo = "";
    req.setEncoding("utf8");
    req.on("data", (d) => (corpo += d));
    req.on("end", () => {
      if (req.method !== "POST" || req.url !== "/v1/chat/completions") {
        res.writeHead(404).end();
        return;
      }
      let json;
      try { json = JSON.parse(corpo); } catch { json = { corpo_invalido: corpo }; }
      const n = pedidos.push(json) - 1;
      desfechos[n] = "andamento";
      const r = fila.length ? fila.shift() : padrao;
      responder(req, res, r, json).then((d) => {
        desfechos[n] = d;
        for (const f of espera) f();
      });
      for (const f of espera) f();
    });
  });
  await new Promise((ok) => server.listen(0, "127.0.0.1", ok));
  const up = {
    url: `http://127.0.0.1:${server.address().port}/v1`,
    pedidos,
    desfechos,
    roteiro: (r) => fila.push(r),
    padrao: (r) => { padrao = r ?? { partes: PADRAO, atraso: 5 }; },
    /** Back to normal answers and an empty queue (between tests). */
    reset() { fila = []; padrao = { partes: PADRAO, atraso: 5 }; },
    /** The bodies whose last user message is `texto`. */
    pedidosPara: (texto) => pedidos.filter((p) => ultimaDoAluno(p) === texto),
    /** Waits until `f()` holds, re-checked on every request start and end. */
    ate(f, o = "upstream condition") {
      if (f()) return Promise.resolve();
      return new Promise((ok, falha) => {
        const t = setTimeout(() => { espera.delete(h); falha(new Error(`timed out waiting for ${o}`)); }, PRAZO);
        const h = () => { if (f()) { clearTimeout(t); espera.delete(h); ok(); } };
        espera.add(h);
      });
    },
    close: () => new Promise((ok) => { server.closeAllConnections(); server.close(() => ok()); }),
  };
  return up;
}

/** The content of the last `user` message of an upstream request body. */
export function ultimaDoAluno(corpo) {
  const us = (corpo.messages ?? []).filter((m) => m.role === "user");
  return us.length ? conteudoDe(us[us.length - 1]) : undefined;
}

/** The content of the first `user` message of an upstream request body. */
export function primeiraDoAluno(corpo) {
  const u = (corpo.messages ?? []).find((m) => m.role === "user");
  return u ? conteudoDe(u) : undefined;
}

/** A chat message's text, whether `content` is a string or a list of text parts. */
export function conteudoDe(m) {
  if (typeof m.content === "string") return m.content;
  if (Array.isArray(m.content)) return m.content.map((p) => p.text ?? "").join("");
  return "";
}

// ---------------------------------------------------------------------------------------------
// The database

/**
 * The database of the server whose files live in `dir`: a SQLite file there, or, when
 * TUTOR_TEST_POSTGRES_URL names a Postgres server (scripts/postgres.sh starts one), a database
 * of its own on it, named after `dir` so that a restart on the same `dir` finds it again, and
 * created with psql (TUTOR_TEST_PSQL, else `psql` on PATH) the first time.
 */
export async function database(dir) {
  const admin = process.env.TUTOR_TEST_POSTGRES_URL;
  if (!admin) return `sqlite://${dir}/tutor.db?mode=rwc`;
  const nome = `t_${createHash("sha256").update(dir).digest("hex").slice(0, 32)}`;
  const existe = `SELECT 1 FROM pg_database WHERE datname = '${nome}'`;
  const psql = (sql) => new Promise((ok, falha) => {
    execFile(process.env.TUTOR_TEST_PSQL || "psql", [admin, "-XqAt", "-v", "ON_ERROR_STOP=1", "-c", sql],
      { timeout: PRAZO }, (e, saida, erros) => (e ? falha(new Error(`psql: ${e.message}\n${erros}`)) : ok(saida.trim())));
  });
  if ((await psql(existe)) !== "1") await psql(`CREATE DATABASE ${nome}`);
  const url = new URL(admin);
  url.pathname = `/${nome}`;
  return url.toString();
}

// ---------------------------------------------------------------------------------------------
// The server process

const vivos = new Set();
process.on("exit", () => { for (const f of vivos) f.kill("SIGKILL"); });

/**
 * Spawns the server binary and resolves once it logs `listening on http://ADDR`.
 * `opts`: `upstream` (a fakeUpstream; one is made and closed with the server if absent),
 * `env` (added to the environment; an empty string unsets a variable), `dir` and `secret`
 * (to start again on the same database with the same secret).
 * Also accepts the older form `startServer(upstream, env, { dir, segredo })`.
 * Returns `{ url, secret, dir, upstream, token(sub, claims), logs, stop({ manter, sinal }) }`.
 */
export async function startServer(opts = {}, envAntigo, extrasAntigos = {}) {
  if (typeof opts.roteiro === "function") {
    opts = { upstream: opts, env: envAntigo, dir: extrasAntigos.dir, secret: extrasAntigos.segredo };
  }
  const proprio = !opts.upstream;
  const upstream = opts.upstream ?? (await fakeUpstream());
  const dir = opts.dir ?? mkdtempSync(path.join(tmpdir(), "tutor-js-"));
  const secret = opts.secret ?? randomBytes(32).toString("base64url");
  const ambiente = {
    PATH: process.env.PATH,
    TUTOR_ADDR: "127.0.0.1:0",
    DATABASE_URL: await database(dir),
    TUTOR_JWT_SECRET: secret,
    OPENAI_BASE_URL: upstream.url,
    OPENAI_API_KEY: "test",
    TUTOR_MODEL: "modelo-teste",
    RUST_LOG: "info",
    // The stories send many messages and open many sockets from one user in a few seconds;
    // the limits have tests of their own in the Rust suite.
    TUTOR_MENSAGENS_POR_MINUTO: "0",
    TUTOR_EVENTOS_POR_MINUTO: "0",
    TUTOR_HANDSHAKES_POR_SEGUNDO: "0",
    // Retries of a failing model back off briefly, and SIGTERM does not wait long.
    TUTOR_UPSTREAM_ESPERA_MAX_MS: "50",
    TUTOR_SHUTDOWN_GRACE_MS: "2000",
    ...opts.env,
  };
  for (const [k, v] of Object.entries(ambiente)) if (v === undefined || v === "") delete ambiente[k];
  const filho = spawn(BIN, [], { env: ambiente, stdio: ["ignore", "pipe", "pipe"] });
  vivos.add(filho);
  let logs = "";
  const saida = new Promise((ok) => filho.on("exit", (code, signal) => { vivos.delete(filho); ok({ code, signal }); }));
  const url = await new Promise((ok, falha) => {
    const t = setTimeout(() => { filho.kill("SIGKILL"); falha(new Error(`no 'listening on' line within ${PRAZO} ms:\n${logs}`)); }, PRAZO);
    const ler = (d) => {
      logs += d;
      if (process.env.TUTOR_JS_LOGS) process.stderr.write(d);
      const m = logs.match(/listening on (http:\/\/[0-9.]+:\d+)/);
      if (m) { clearTimeout(t); ok(m[1]); }
    };
    filho.stdout.setEncoding("utf8").on("data", ler);
    filho.stderr.setEncoding("utf8").on("data", ler);
    filho.on("error", (e) => { clearTimeout(t); falha(new Error(`cannot start ${BIN}: ${e.message}`)); });
    saida.then(({ code, signal }) => { clearTimeout(t); falha(new Error(`server exited (${code ?? signal}) before listening:\n${logs}`)); });
  });
  return {
    url,
    /** The server process's pid (for `rssKiB`). */
    pid: filho.pid,
    secret,
    segredo: secret,
    dir,
    upstream,
    get logs() { return logs; },
    token: (sub, claims = {}) => token(secret, { sub, ...claims }),
    /**
     * SIGTERM (or `sinal`) and wait for the exit, bounded. Resolves to the exit code; rejects
     * if the process does not exit in time. `manter` keeps the database for a restart.
     */
    async stop({ manter = false, sinal = "SIGTERM" } = {}) {
      if (filho.exitCode === null && filho.signalCode === null) filho.kill(sinal);
      let t;
      const limite = new Promise((_, falha) => { t = setTimeout(() => falha(new Error(`server did not exit within ${PRAZO} ms of ${sinal}`)), PRAZO); });
      try {
        const { code } = await Promise.race([saida, limite]);
        return code;
      } catch (e) {
        filho.kill("SIGKILL");
        throw e;
      } finally {
        clearTimeout(t);
        if (proprio) await upstream.close();
        if (!manter && !opts.dir) rmSync(dir, { recursive: true, force: true });
      }
    },
  };
}

/** A process's resident set size in KiB (`VmRSS` of `/proc/<pid>/status`; Linux only). */
export function rssKiB(pid) {
  const m = readFileSync(`/proc/${pid}/status`, "utf8").match(/^VmRSS:\s+(\d+)\s+kB/m);
  if (!m) throw new Error(`no VmRSS in /proc/${pid}/status`);
  return Number(m[1]);
}

/**
 * Samples `rssKiB(pid)` every `cada` ms from now on; `parar()` stops and returns
 * `{ base, max, amostras }` in KiB (`base` is the sample taken at the start).
 */
export function amostrarRss(pid, cada = 10) {
  const base = rssKiB(pid);
  let max = base;
  let amostras = 1;
  const t = setInterval(() => {
    try { max = Math.max(max, rssKiB(pid)); amostras++; } catch { /* the process is gone */ }
  }, cada);
  return {
    base,
    parar() {
      clearInterval(t);
      try { max = Math.max(max, rssKiB(pid)); amostras++; } catch { /* gone */ }
      return { base, max, amostras };
    },
  };
}

// ---------------------------------------------------------------------------------------------
// Clients

/**
 * A connected stock socket.io-client socket, or a rejection with the `connect_error`.
 * `s.recebidos` records, in arrival order, every event as `[event, payload]`, every ack as
 * `["ack:<event>", ack]` (recorded when the ack packet is handled, so its place among the
 * events is the place it arrived) and a disconnect as `["#disconnect", reason]`.
 */
export function connect(url, tok, opcoes = {}) {
  const s = io(url, {
    auth: tok === undefined ? undefined : { token: tok },
    reconnection: false,
    forceNew: true,
    ...opcoes,
  });
  s.recebidos = [];
  s.onAny((ev, dados) => s.recebidos.push([ev, dados]));
  s.on("disconnect", (motivo) => s.recebidos.push(["#disconnect", motivo]));
  return new Promise((ok, falha) => {
    const t = setTimeout(() => { s.close(); falha(new Error(`connect timed out after ${PRAZO} ms`)); }, PRAZO);
    s.once("connect", () => { clearTimeout(t); ok(s); });
    s.once("connect_error", (e) => { clearTimeout(t); s.close(); falha(e); });
  });
}

/** Emits `evento` with `args` (none at all is allowed) and resolves to the ack, within 5 s. */
export function emitAck(s, evento, ...args) {
  return new Promise((ok, falha) => {
    s.timeout(PRAZO_ACK).emit(evento, ...args, (err, resposta) => {
      if (err) { falha(new Error(`no ack for ${evento}(${JSON.stringify(args).slice(0, 200)}) within ${PRAZO_ACK} ms`)); return; }
      s.recebidos.push([`ack:${evento}`, resposta]);
      ok(resposta);
    });
  });
}
export const ack = emitAck;

/** Emits with an ack, fails unless the ack is a success, returns it. */
export async function sucesso(s, evento, ...args) {
  const r = await emitAck(s, evento, ...args);
  if (r?.ok !== true) throw new Error(`${evento} failed: ${JSON.stringify(r)}`);
  return r;
}

/**
 * What a socket received, for a failure message: the last 20 event names in order, after
 * the count of each name (a tab of a long test receives tens of thousands of pieces, and a
 * message listing them all is cut before anyone can read its end).
 */
export function resumo(s) {
  const contagem = new Map();
  for (const [e] of s.recebidos) contagem.set(e, (contagem.get(e) ?? 0) + 1);
  const total = [...contagem].map(([e, n]) => `${e} x${n}`).join(", ");
  return `${s.recebidos.length} events (${total}); the last: ${s.recebidos.slice(-20).map((r) => r[0]).join(", ")}`;
}

/** Waits for an event (already recorded or to come) whose payload satisfies `f`. */
export function waitFor(s, evento, f = () => true, prazo = PRAZO) {
  const ja = s.recebidos.find(([e, d]) => e === evento && f(d));
  if (ja) return Promise.resolve(ja[1]);
  return new Promise((ok, falha) => {
    const h = (e, d) => {
      if (e === evento && f(d)) { clearTimeout(t); s.offAny(h); ok(d); }
    };
    const t = setTimeout(() => {
      s.offAny(h);
      falha(new Error(`no ${evento} within ${prazo} ms; got ${resumo(s)}`));
    }, prazo);
    s.onAny(h);
  });
}

/** Waits for the socket to be disconnected by the server; resolves to the reason. */
export function waitDisconnect(s, prazo = PRAZO) {
  const ja = s.recebidos.find(([e]) => e === "#disconnect");
  if (ja) return Promise.resolve(ja[1]);
  return new Promise((ok, falha) => {
    const t = setTimeout(() => falha(new Error(`not disconnected within ${prazo} ms`)), prazo);
    s.once("disconnect", (m) => { clearTimeout(t); ok(m); });
  });
}

/**
 * Waits for the end of the answer to `mensagem_id` (or of any answer in the conversation
 * when only `conversa_id` is given): `[event, payload]`, event `mensagem_respondida` or
 * `erro_resposta`.
 */
export function fimDaResposta(s, conversa_id, mensagem_id, prazo = PRAZO) {
  const fim = (e, d) => (e === "mensagem_respondida" || e === "erro_resposta") && d.conversa_id === conversa_id &&
    (mensagem_id === undefined || (d.mensagem_id ?? d.mensagem?.id) === mensagem_id);
  const ja = s.recebidos.find(([e, d]) => fim(e, d));
  if (ja) return Promise.resolve(ja);
  return new Promise((ok, falha) => {
    const h = (e, d) => { if (fim(e, d)) { clearTimeout(t); s.offAny(h); ok([e, d]); } };
    const t = setTimeout(() => {
      s.offAny(h);
      falha(new Error(`answer in ${conversa_id} did not end within ${prazo} ms; got ${resumo(s)}`));
    }, prazo);
    s.onAny(h);
  });
}

/** The answers (tutor message ids) this socket saw start in `conversa_id`, in order. */
export function respostasIniciadas(s, conversa_id) {
  return s.recebidos.filter(([e, d]) => e === "resposta_iniciada" && d.conversa_id === conversa_id).map(([, d]) => d.mensagem_id);
}

/** The `resposta_parcial` payloads of answer `id` this socket got, in arrival order. */
export function parciais(s, id) {
  return s.recebidos.filter(([e, d]) => e === "resposta_parcial" && d.mensagem_id === id).map(([, d]) => d);
}

/**
 * The deltas of answer `id`, checked to arrive with `indice` 0, 1, 2… in order, no gap and no
 * repeat, joined.
 */
export function textoTransmitido(s, id) {
  const ps = parciais(s, id);
  ps.forEach((p, i) => {
    if (p.indice !== i) throw new Error(`answer ${id}: delta #${i} arrived with indice ${p.indice} (all: ${ps.map((x) => x.indice)})`);
    if (typeof p.delta !== "string") throw new Error(`answer ${id}: delta ${i} is not a string`);
  });
  return ps.map((p) => p.delta).join("");
}

/** Index in `s.recebidos` of the first record satisfying `f`, or -1. */
export function posicao(s, f) {
  return s.recebidos.findIndex(([e, d]) => f(e, d));
}

/**
 * A round trip on `s`: once its ack is back, every event the server put in this socket's
 * queue before handling it has arrived. Used to prove something was NOT sent.
 */
export async function barreira(s) {
  await emitAck(s, "listar_conversas", {});
}

export const novoId = () => randomUUID();
export const esperar = (ms) => new Promise((ok) => setTimeout(ok, ms));

// ---------------------------------------------------------------------------------------------
// One server per describe block

/**
 * Registers hooks in the current `describe`: one fake upstream and one server for the block
 * (stopped at the end, which must exit 0 on SIGTERM), the upstream reset before each test,
 * every socket the test opened through `ctx.abrir` closed after it.
 * `ctx.abrir(sub, claims?, opcoes?)` connects with `transporte` plus `opcoes`.
 */
export function comServidor(transporte = {}, env = {}) {
  const ctx = { server: null, upstream: null, abertos: [] };
  before(async () => {
    ctx.upstream = await fakeUpstream();
    ctx.server = await startServer({ upstream: ctx.upstream, env });
  });
  beforeEach(() => ctx.upstream?.reset());
  afterEach(() => { for (const s of ctx.abertos.splice(0)) s.close(); });
  after(async () => {
    for (const s of ctx.abertos.splice(0)) s.close();
    try {
      if (ctx.server) {
        const code = await ctx.server.stop();
        if (code !== 0) throw new Error(`server exited with ${code} on SIGTERM, not 0:\n${ctx.server.logs.slice(-3000)}`);
      }
    } finally {
      await ctx.upstream?.close();
    }
  });
  ctx.abrir = async (sub, claims = {}, opcoes = {}) => {
    const s = await connect(ctx.server.url, ctx.server.token(sub, claims), { ...transporte, ...opcoes });
    ctx.abertos.push(s);
    return s;
  };
  return ctx;
}

/** A user id no other test uses. */
export const usuario = (nome) => `${nome}-${randomUUID().slice(0, 8)}`;

// ---- the class view (docs/turma.md), shared by tests/js and tests/cluster ----

/** The fields of `conversa_atualizada`, and nothing else (no text, no title). */
export const CAMPOS_ATUALIZADA = ["atualizada_em", "conversa_id", "gerando", "motivo", "usuario"];

/** Token claims of a professor. */
export const PROFESSOR = { papel: "professor" };

/** The `conversa_atualizada` events `s` got about conversation `c`, in arrival order. */
export const atualizacoes = (s, c) =>
  s.recebidos.filter(([e, d]) => e === "conversa_atualizada" && d.conversa_id === c).map(([, d]) => d);

/** Waits until `s` got `k` `conversa_atualizada` of `c` with `motivo`; resolves to the k-th. */
export async function atualizada(s, c, motivo, k = 1) {
  const deste = () => atualizacoes(s, c).filter((d) => d.motivo === motivo);
  await waitFor(s, "conversa_atualizada", () => deste().length >= k);
  return deste()[k - 1];
}
