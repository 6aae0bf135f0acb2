#!/usr/bin/env node
// A benchmark, not a test: the chat load of BENCHMARKS.md against tutor on PostgreSQL, one
// process alone or N processes sharing it through Redis, each on its own port (one
// tutor-carga per process, run at once, so the load spreads as a balancer would spread it).
// Starts its own PostgreSQL (and redis-server), the harness's fake upstream answering
// PIECES pieces DELAY ms apart, and the servers; prints each tutor-carga table, then one
// JSON line with the totals.
//
//   node tests/cluster/bench.mjs --nos 3 --clientes 201 --mensagens 5
//   node tests/cluster/bench.mjs --nos 1 --sem-redis          (one process on Postgres)
//
// TUTOR_BIN (default target/release/tutor) and CARGA_BIN (target/release/tutor-carga).
import { spawn } from "node:child_process";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { startCluster, startPostgres, startRedis } from "./cluster.mjs";
import { fakeUpstream, startServer } from "../js/harness.mjs";

const raiz = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");
const arg = (nome, padrao) => {
  const i = process.argv.indexOf(`--${nome}`);
  return i < 0 ? padrao : process.argv[i + 1];
};
const nos = Number(arg("nos", 3));
const semRedis = process.argv.includes("--sem-redis");
const clientes = Number(arg("clientes", 201));
const mensagens = Number(arg("mensagens", 5));
const pedacos = Number(arg("pedacos", 20));
const atraso = Number(arg("atraso", 20));
const carga = process.env.CARGA_BIN ?? path.join(raiz, "target/release/tutor-carga");
process.env.TUTOR_BIN ??= path.join(raiz, "target/release/tutor");
if (semRedis && nos !== 1) throw new Error("--sem-redis runs one process");

const SEM_LIMITES = {
  TUTOR_MENSAGENS_POR_MINUTO: "0", TUTOR_EVENTOS_POR_MINUTO: "0", TUTOR_HANDSHAKES_POR_SEGUNDO: "0",
  TUTOR_SESSOES_POR_SEGUNDO: "0", TUTOR_MAX_SOCKETS_POR_USUARIO: "100000", RUST_LOG: "warn,tutor=info",
  TUTOR_ARRENDAMENTO_MS: "9000",
};

function rodar(args) {
  return new Promise((ok, falha) => {
    const f = spawn(carga, args, { stdio: ["ignore", "pipe", "inherit"] });
    let saida = "";
    f.stdout.setEncoding("utf8").on("data", (d) => { saida += d; });
    f.on("error", falha);
    f.on("exit", (codigo) => {
      const linhas = saida.trim().split("\n");
      process.stdout.write(`${linhas.slice(0, -1).join("\n")}\n`);
      ok({ codigo, json: JSON.parse(linhas.at(-1)) });
    });
  });
}

const upstream = await fakeUpstream();
upstream.padrao({ partes: Array.from({ length: pedacos }, (_, i) => `parte ${i + 1} de ${pedacos}. `), atraso });
const pg = await startPostgres();
const redis = semRedis ? null : await startRedis();
let servidores;
let parar;
if (semRedis) {
  const s = await startServer({ upstream, env: { DATABASE_URL: await pg.database(), ...SEM_LIMITES } });
  servidores = [s];
  parar = () => s.stop();
} else {
  const c = await startCluster({ n: nos, upstream, redis, pg, env: SEM_LIMITES });
  servidores = c.nodes.map((n) => Object.assign(n, { secret: c.secret }));
  parar = () => c.stop();
}
try {
  const porNo = Math.ceil(clientes / nos);
  const runs = await Promise.all(servidores.map((s) => rodar(["chat", "--url", s.url, "--secret", s.secret,
    "-n", String(porNo), "-m", String(mensagens), "--pid", String(s.pid), "--sem-diretivas", "--timeout-s", "120"])));
  const r = runs.map((x) => x.json);
  const respondidas = r.reduce((a, j) => a + j.result.answered, 0);
  const cpuMs = r.reduce((a, j) => a + (j.server?.cpu_ms ?? 0), 0);
  const erradas = r.reduce((a, j) => a + j.result.missing_or_wrong + j.result.mismatches, 0);
  const duracao = Math.max(...r.map((j) => j.result.duration_s));
  console.log(JSON.stringify({
    scenario: "chat", database: "postgres", processes: nos, redis: !semRedis, clients: porNo * nos, messages_per_client: mensagens,
    answered: respondidas, missing_or_wrong: erradas, answers_per_s: respondidas / duracao,
    server_cpu_ms_per_answer: cpuMs / respondidas,
    first_piece_p50_ms: r.map((j) => j.result.first_piece_ms?.p50), first_piece_p99_ms: r.map((j) => j.result.first_piece_ms?.p99),
    ack_p50_ms: r.map((j) => j.result.ack_ms?.p50),
  }));
  process.exitCode = runs.every((x) => x.codigo === 0) ? 0 : 1;
} finally {
  await parar().catch(() => {});
  await redis?.stop().catch(() => {});
  await pg.stop().catch(() => {});
  await upstream.close();
}
