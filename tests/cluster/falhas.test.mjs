// The cluster when a piece of it fails: three tutor processes on one Redis and one shared
// PostgreSQL, a student with tabs on different nodes, and then a node killed with -9, a node
// drained with SIGTERM (a rolling deploy), Redis down and back, PostgreSQL down and back.
// Every story ends with the conversation as stored: nothing the student sent lost, nothing
// left `gerando`, and each tab holding (or able to catch up to) the whole history.
import assert from "node:assert/strict";
import { performance } from "node:perf_hooks";
import { after, before, describe, test } from "node:test";

import {
  PADRAO, connect, emitAck, esperar, fakeUpstream, fimDaResposta, parciais, posicao, respostasIniciadas, sucesso,
  textoTransmitido, usuario, waitFor,
} from "../js/harness.mjs";
import { startCluster, startPostgres, startRedis } from "./cluster.mjs";

const WS = { transports: ["websocket"] };
/** The answer lease of the nodes (the cluster harness's default TUTOR_ARRENDAMENTO_MS). */
const ARRENDAMENTO = 3000;
/** Bound on a survivor noticing a dead node's answer: the lease, its sweep, and slack. */
const PRAZO_VARREDURA = 15_000;

/** Runs `f`, turning a failure into a diagnostic line (cleanup must not hide the real failure). */
async function tentar(t, o, f) {
  try { await f(); } catch (e) { t.diagnostic(`${o}: ${e.message}`); }
}

/** The HTTP status of `GET /ready` on `no`, or a description of why there was none. */
async function statusReady(no) {
  try {
    const r = await fetch(`${no.url}/ready`, { signal: AbortSignal.timeout(2000) });
    await r.arrayBuffer();
    return r.status;
  } catch (e) {
    return `sem resposta (${e.cause?.code ?? e.name})`;
  }
}

/** Polls `/ready` of every node in `nos` until all answer `esperado`; returns the ms it took. */
async function esperarReady(nos, esperado, prazo) {
  const inicio = performance.now();
  for (;;) {
    const vistos = await Promise.all(nos.map(statusReady));
    if (vistos.every((s) => s === esperado)) return Math.round(performance.now() - inicio);
    if (performance.now() - inicio > prazo) {
      throw new Error(`/ready of ${nos.map((n) => n.name)} not all ${esperado} within ${prazo} ms; last seen ${JSON.stringify(vistos)}`);
    }
    await esperar(100);
  }
}

/**
 * One test's cluster: a fake model, a Redis of its own, three nodes on a fresh database of
 * `pg`, everything stopped after the test. `ctx.abrir(no, sub)` opens a WebSocket tab on that
 * node; each tab records when every event payload arrived (`s.hora.get(payload)`, ms).
 */
async function montar(t, { env = {}, pg }) {
  const ctx = { abertos: [] };
  t.after(async () => {
    for (const s of ctx.abertos) s.close();
    if (ctx.cluster) await tentar(t, "cluster.stop", () => ctx.cluster.stop());
    if (ctx.redis) await tentar(t, "redis.stop", () => ctx.redis.stop());
    if (ctx.upstream) await ctx.upstream.close();
  });
  ctx.upstream = await fakeUpstream();
  ctx.redis = await startRedis();
  ctx.cluster = await startCluster({ n: 3, env, upstream: ctx.upstream, redis: ctx.redis, pg });
  ctx.nos = ctx.cluster.nodes;
  ctx.abrir = async (no, sub) => {
    const s = await connect(no.url, ctx.cluster.token(sub), WS);
    s.hora = new WeakMap();
    s.onAny((_, d) => { if (d && typeof d === "object") s.hora.set(d, performance.now()); });
    ctx.abertos.push(s);
    return s;
  };
  return ctx;
}

/** A conversation started from tab `a` ("olá", answered), then joined by tab `b`. */
async function conversaEmDuasAbas(a, b) {
  const r = await sucesso(a, "mensagem_enviada", { conteudo: "olá" });
  const c = r.conversa_id;
  const [ev, fim] = await fimDaResposta(a, c);
  assert.equal(ev, "mensagem_respondida", JSON.stringify(fim));
  const h = await sucesso(b, "entrar_conversa", { conversa_id: c });
  assert.deepEqual(h.mensagens.map((m) => m.id), [r.mensagem.id, fim.mensagem.id]);
  return c;
}

/** Predicate of a `resposta_iniciada` in `c` that `s` had not seen yet when this was called. */
function novaResposta(s, c) {
  const antes = respostasIniciadas(s, c);
  return (d) => d.conversa_id === c && !antes.includes(d.mensagem_id);
}

/** The conversation as stored, through a fresh tab on `no`. */
async function historico(ctx, no, sub, c) {
  const s = await ctx.abrir(no, sub);
  try {
    return await sucesso(s, "entrar_conversa", { conversa_id: c });
  } finally {
    s.close();
  }
}

/** Ids of the messages of `c` that the sockets of one tab hold in a final status. */
function conhecidas(sockets, c) {
  const ids = new Set();
  for (const s of sockets) {
    for (const [e, d] of s.recebidos) {
      if (e === "ack:mensagem_enviada" && d?.ok && d.conversa_id === c) ids.add(d.mensagem.id);
      else if (e === "ack:entrar_conversa" && d?.ok && d.conversa?.id === c) {
        for (const m of d.mensagens) if (m.status !== "gerando") ids.add(m.id);
      } else if ((e === "mensagem_recebida" || e === "mensagem_respondida") && d?.conversa_id === c) ids.add(d.mensagem.id);
      else if (e === "erro_resposta" && d?.conversa_id === c) ids.add(d.mensagem_id);
    }
  }
  return ids;
}

/** What a reconnecting tab sends as `apos`: the last message of `h` up to which it holds all. */
function aposDe(mensagens, ids) {
  let i = -1;
  while (i + 1 < mensagens.length && ids.has(mensagens[i + 1].id) && mensagens[i + 1].status !== "gerando") i++;
  return i;
}

/**
 * What a rejoin with `apos` = `h[i]` returned (`mensagens`) against the stored history `h`:
 * every message after `h[i]`, as stored, in conversation order; besides them only tutor
 * answers from before `h[i]` (an answer may still have been streaming when the tab stored
 * its `apos`, so the server may send its final state again).
 */
function recuperou(t, mensagens, h, i) {
  const posicoes = mensagens.map((m) => h.findIndex((x) => x.id === m.id));
  assert.ok(posicoes.every((p) => p >= 0), "only messages of the conversation");
  assert.deepEqual(posicoes, [...posicoes].sort((x, y) => x - y), "in conversation order");
  assert.deepEqual(mensagens.filter((_, k) => posicoes[k] > i), h.slice(i + 1), "every message after apos, as stored");
  const antes = mensagens.filter((_, k) => posicoes[k] <= i);
  for (const m of antes) {
    assert.ok(m.papel === "tutor" && m.id !== h[i].id, `besides them only earlier tutor answers, not ${JSON.stringify(m)}`);
    assert.deepEqual(m, h[posicoes[mensagens.indexOf(m)]]);
  }
  if (antes.length) t.diagnostic(`the rejoin also returned ${antes.length} answer(s) from before apos`);
}

/**
 * Resolves `"fim"` once `s` recorded the end of answer `id` (`mensagem_respondida` or
 * `erro_resposta`), `"queda"` once it recorded a disconnect, whichever comes first.
 */
async function fimOuQueda(s, c, id, prazo = 10_000) {
  const inicio = performance.now();
  for (;;) {
    if (s.recebidos.some(([e, d]) => (e === "mensagem_respondida" || e === "erro_resposta") && d.conversa_id === c &&
      (d.mensagem_id ?? d.mensagem?.id) === id)) return "fim";
    if (s.recebidos.some(([e]) => e === "#disconnect")) return "queda";
    if (performance.now() - inicio > prazo) {
      throw new Error(`neither the end of ${id} nor a disconnect within ${prazo} ms; got ${s.recebidos.map((r) => r[0]).join(", ")}`);
    }
    await esperar(20);
  }
}

/** `s` got the send `r` and the whole answer `fim` live: every event, deltas from 0 without a gap. */
function recebeuTudo(s, c, r, id, fim, o) {
  assert.deepEqual(s.recebidos.find(([e, d]) => e === "mensagem_recebida" && d.mensagem.id === r.mensagem.id)?.[1],
    { conversa_id: c, mensagem: r.mensagem }, `${o}: mensagem_recebida`);
  assert.ok(respostasIniciadas(s, c).includes(id), `${o}: resposta_iniciada`);
  assert.equal(textoTransmitido(s, id), fim.mensagem.conteudo, `${o}: the deltas, from indice 0 without a gap, are the answer`);
  assert.deepEqual(s.recebidos.find(([e, d]) => e === "mensagem_respondida" && d.mensagem.id === id)?.[1], fim,
    `${o}: the same mensagem_respondida`);
}

const resumo = (ms) => ms.map((m) => [m.papel, m.status, m.conteudo]);

describe("cluster: falhas", () => {
  let pgComum;
  before(async () => { pgComum = await startPostgres(); });
  after(async () => { await pgComum?.stop(); });

  test("kill -9 of the node generating an answer: a survivor ends it as interrompida with the text the tabs saw, then answers the queued message", async (t) => {
    const ctx = await montar(t, { pg: pgComum });
    const [A, B, C] = ctx.nos;
    const sub = usuario("ana");
    const a = await ctx.abrir(A, sub);
    const b = await ctx.abrir(B, sub);
    const c = await conversaEmDuasAbas(a, b);

    // The answer to "primeira" is generated on A (it got the send); the model then hangs.
    const partes = ["Antes ", "do ", "crash, ", "metade 🙂 ", "da resposta."];
    ctx.upstream.roteiro({ partes, pendurar: true, atraso: 40 });
    const nova = novaResposta(b, c);
    const r1 = await sucesso(a, "mensagem_enviada", { conversa_id: c, conteudo: "primeira" });
    const { mensagem_id: id1 } = await waitFor(b, "resposta_iniciada", nova);
    await waitFor(b, "resposta_parcial", (d) => d.mensagem_id === id1 && d.indice === partes.length - 1);
    const visto = textoTransmitido(b, id1);
    assert.equal(visto, partes.join(""), "the tab on B saw every piece before the kill");
    const r2 = await sucesso(a, "mensagem_enviada", { conversa_id: c, conteudo: "segunda" });
    await waitFor(b, "mensagem_recebida", (d) => d.mensagem.id === r2.mensagem.id);
    await esperar(500); // the model is silent; whatever A stores as it goes has had time to land
    assert.deepEqual(respostasIniciadas(b, c).slice(-1), [id1], "the second message waits behind the first");

    const morte = performance.now();
    await A.kill9();
    const erro = await waitFor(b, "erro_resposta", (d) => d.mensagem_id === id1, PRAZO_VARREDURA);
    t.diagnostic(`erro_resposta on B ${Math.round(b.hora.get(erro) - morte)} ms after kill -9 (lease ${ARRENDAMENTO} ms)`);
    assert.deepEqual(Object.keys(erro).sort(), ["conversa_id", "erro", "mensagem_id"]);
    assert.equal(erro.conversa_id, c);
    assert.equal(erro.erro.codigo, "interrompida", JSON.stringify(erro));
    assert.ok(typeof erro.erro.mensagem === "string" && erro.erro.mensagem.trim().length > 0);

    const { mensagem_id: id2 } = await waitFor(b, "resposta_iniciada", (d) => nova(d) && d.mensagem_id !== id1);
    const [ev2, fim2] = await fimDaResposta(b, c, id2);
    assert.equal(ev2, "mensagem_respondida", JSON.stringify(fim2));
    assert.equal(fim2.mensagem.status, "completa");
    assert.equal(fim2.mensagem.conteudo, PADRAO.join(""), "a survivor answered the queued message");
    assert.equal(textoTransmitido(b, id2), fim2.mensagem.conteudo);
    assert.ok(posicao(b, (e, d) => e === "erro_resposta" && d.mensagem_id === id1) <
      posicao(b, (e, d) => e === "resposta_iniciada" && d.mensagem_id === id2), "the first answer ends before the next starts");
    assert.ok(!b.recebidos.some(([e, d]) => e === "mensagem_respondida" && d.mensagem.id === id1), "no mensagem_respondida for the dead answer");
    assert.ok(b.connected, "the tab on the survivor B stays connected");

    const h = await historico(ctx, C, sub, c);
    assert.equal(h.resposta_em_andamento ?? null, null);
    assert.ok(!h.mensagens.some((m) => m.status === "gerando"), `nothing stays gerando: ${JSON.stringify(resumo(h.mensagens))}`);
    assert.deepEqual(h.mensagens.filter((m) => m.papel === "aluno").map((m) => m.id),
      [h.mensagens[0].id, r1.mensagem.id, r2.mensagem.id], "both messages sent around the kill are stored, in order");
    assert.deepEqual(h.mensagens.map((m) => [m.papel, m.status]),
      [["aluno", "completa"], ["tutor", "completa"], ["aluno", "completa"], ["tutor", "erro"], ["aluno", "completa"], ["tutor", "completa"]],
      `the history: ${JSON.stringify(resumo(h.mensagens))}`);
    const cortada = h.mensagens.find((m) => m.id === id1);
    assert.ok(cortada.conteudo.startsWith(visto),
      `the stored interrupted answer keeps at least the text the tabs saw: stored ${JSON.stringify(cortada.conteudo)}, seen ${JSON.stringify(visto)}`);
    if (cortada.conteudo !== visto) t.diagnostic(`stored ${JSON.stringify(cortada.conteudo)} is longer than the text seen ${JSON.stringify(visto)}`);
    assert.deepEqual(h.mensagens.at(-1), fim2.mensagem);
    assert.equal(ctx.upstream.pedidosPara("primeira").length, 1, "the interrupted answer is not generated again");
    assert.equal(ctx.upstream.pedidosPara("segunda").length, 1, "the queued message is answered once");
  });

  test("SIGTERM of the node generating an answer: /ready 503 at once, the answer completes, the queued message goes to another node without a lease wait, exit 0, its tab catches up on B", async (t) => {
    const ctx = await montar(t, { pg: pgComum, env: { TUTOR_SHUTDOWN_GRACE_MS: "5000" } });
    const [A, B, C] = ctx.nos;
    const sub = usuario("bia");
    const a = await ctx.abrir(A, sub); // the stock client on A's url, as a browser would be
    const b = await ctx.abrir(B, sub);
    const c = await conversaEmDuasAbas(a, b);

    const partes1 = Array.from({ length: 15 }, (_, i) => `p${i} `); // ~1.5 s
    const partes2 = Array.from({ length: 10 }, (_, i) => `q${i} `); // ~1.2 s
    ctx.upstream.roteiro({ partes: partes1, atraso: 100 });
    ctx.upstream.roteiro({ partes: partes2, atraso: 120 });
    const nova = novaResposta(b, c);
    await sucesso(a, "mensagem_enviada", { conversa_id: c, conteudo: "primeira" });
    const { mensagem_id: id1 } = await waitFor(b, "resposta_iniciada", nova);
    await waitFor(b, "resposta_parcial", (d) => d.mensagem_id === id1 && d.indice >= 1);
    const r2 = await sucesso(a, "mensagem_enviada", { conversa_id: c, conteudo: "segunda" });

    const sinal = performance.now();
    let saiu = null;
    const saida = Promise.resolve(A.term()).then(
      (code) => { saiu = performance.now(); return code; },
      (e) => { saiu = performance.now(); throw e; });
    // /ready of the draining node: 503 at once, while it still finishes the answer.
    const vistos = [];
    let em503 = null;
    while (performance.now() - sinal < 1000 && saiu === null) {
      const st = await statusReady(A);
      vistos.push(st);
      if (st === 503) { em503 = performance.now() - sinal; break; }
      await esperar(50);
    }
    assert.ok(em503 !== null, `/ready of A after SIGTERM, until 1 s or its exit: ${JSON.stringify(vistos)}`);
    t.diagnostic(`/ready of A was 503 ${Math.round(em503)} ms after SIGTERM`);
    assert.equal(saiu, null, "A answered 503 while still draining");

    const [ev1, fim1] = await fimDaResposta(b, c, id1);
    assert.equal(ev1, "mensagem_respondida", `the answer in flight completes within the grace period: ${JSON.stringify(fim1)}`);
    assert.equal(fim1.mensagem.status, "completa");
    assert.equal(fim1.mensagem.conteudo, partes1.join(""));
    assert.equal(textoTransmitido(b, id1), fim1.mensagem.conteudo);

    const ini2 = await waitFor(b, "resposta_iniciada", (d) => nova(d) && d.mensagem_id !== id1);
    const id2 = ini2.mensagem_id;
    const espera = Math.round(b.hora.get(ini2) - b.hora.get(fim1));
    t.diagnostic(`the queued message started ${espera} ms after the first answer ended`);
    assert.ok(espera < 1500, `the queued message is taken over without waiting for the lease (${ARRENDAMENTO} ms): ${espera} ms`);
    const [ev2, fim2] = await fimDaResposta(b, c, id2);
    assert.equal(ev2, "mensagem_respondida", JSON.stringify(fim2));
    assert.equal(fim2.mensagem.conteudo, partes2.join(""));
    assert.equal(textoTransmitido(b, id2), fim2.mensagem.conteudo);

    assert.equal(await saida, 0, `A exits 0 on SIGTERM:\n${A.logs.slice(-3000)}`);
    t.diagnostic(`A exited ${Math.round(saiu - sinal)} ms after SIGTERM`);
    assert.ok(saiu < b.hora.get(fim2),
      "A exited before the second answer ended: another node generated it (a draining node starts no new answer)");
    assert.equal(ctx.upstream.pedidosPara("segunda").length, 1);

    // The tab that was on A lost its socket; it reconnects to B and catches up.
    assert.ok(a.recebidos.some(([e]) => e === "#disconnect"), "the tab on A was disconnected when A went away");
    const h = await historico(ctx, C, sub, c);
    assert.deepEqual(h.mensagens.map((m) => [m.papel, m.status]),
      [["aluno", "completa"], ["tutor", "completa"], ["aluno", "completa"], ["tutor", "completa"], ["aluno", "completa"], ["tutor", "completa"]],
      JSON.stringify(resumo(h.mensagens)));
    assert.equal(h.mensagens[4].id, r2.mensagem.id);
    const ids = conhecidas([a], c);
    const i = aposDe(h.mensagens, ids);
    assert.ok(i >= 0);
    const faltam = h.mensagens.filter((m) => !ids.has(m.id)).map((m) => m.id);
    t.diagnostic(`the tab on A held ${i + 1} messages in order, missed ${faltam.length}`);
    const a2 = await ctx.abrir(B, sub);
    const j = await sucesso(a2, "entrar_conversa", { conversa_id: c, apos: h.mensagens[i].id });
    recuperou(t, j.mensagens, h.mensagens, i);
    for (const id of faltam) assert.ok(j.mensagens.some((m) => m.id === id), `the missed message ${id} is among them`);
  });

  test("Redis outage: /ready 503, the generating node still streams to its own tab; Redis back: /ready 200 and the other node's tab gets everything, with no node restarted", async (t) => {
    const ctx = await montar(t, { pg: pgComum });
    const [A, B, C] = ctx.nos;
    const sub = usuario("caio");
    let a = await ctx.abrir(A, sub);
    const b = await ctx.abrir(B, sub);
    const c = await conversaEmDuasAbas(a, b);

    await ctx.redis.kill();
    t.diagnostic(`/ready 503 on every node ${await esperarReady(ctx.nos, 503, 5000)} ms after Redis died`);

    const partesQueda = ["Sem ", "Redis ", "a resposta ", "chega ", "inteira."];
    ctx.upstream.roteiro({ partes: partesQueda, atraso: 40 });
    const novaA = novaResposta(a, c);
    await sucesso(a, "mensagem_enviada", { conversa_id: c, conteudo: "durante a queda do redis" });
    const { mensagem_id: idQueda } = await waitFor(a, "resposta_iniciada", novaA);
    const [evQ, fimQ] = await fimDaResposta(a, c, idQueda);
    assert.equal(evQ, "mensagem_respondida", JSON.stringify(fimQ));
    assert.equal(fimQ.mensagem.conteudo, partesQueda.join(""));
    assert.equal(textoTransmitido(a, idQueda), fimQ.mensagem.conteudo, "the tab on A got the whole answer, without a gap");
    assert.ok(a.connected, "the tab on the generating node stays connected");
    // Whatever B passed on during the outage has no gap (textoTransmitido checks the indices).
    textoTransmitido(b, idQueda);

    await ctx.redis.start();
    t.diagnostic(`/ready 200 on every node ${await esperarReady(ctx.nos, 200, 10_000)} ms after Redis came back`);

    // The tab on B: still connected with an unbroken stream, or disconnected and rejoining with apos.
    const abasB = [b];
    let bAtual = b;
    const reentrar = async () => {
      const h = await historico(ctx, C, sub, c);
      const i = aposDe(h.mensagens, conhecidas(abasB, c));
      bAtual = await ctx.abrir(B, sub);
      abasB.push(bAtual);
      const j = await sucesso(bAtual, "entrar_conversa", i >= 0 ? { conversa_id: c, apos: h.mensagens[i].id } : { conversa_id: c });
      recuperou(t, j.mensagens.filter((m) => m.status !== "gerando"), h.mensagens.filter((m) => m.status !== "gerando"), i);
      t.diagnostic(`the tab on B was disconnected; rejoined with apos after ${i + 1} messages`);
    };
    // A node resyncs its tabs in conversations another node changed while Redis was away
    // (they missed events); the tab on A missed nothing (its student sent through A and A
    // generated the answer), so it stays connected.
    await esperar(500);
    assert.ok(a.connected, "the tab on the generating node, which missed nothing, is not resynced");
    if (!bAtual.connected) await reentrar();

    const enviar = async (conteudo, partes) => {
      ctx.upstream.roteiro({ partes, atraso: 40 });
      const novaA2 = novaResposta(a, c);
      const r = await sucesso(a, "mensagem_enviada", { conversa_id: c, conteudo });
      const { mensagem_id: id } = await waitFor(a, "resposta_iniciada", novaA2);
      const [ev, fim] = await fimDaResposta(a, c, id);
      assert.equal(ev, "mensagem_respondida", JSON.stringify(fim));
      assert.equal(fim.mensagem.conteudo, partes.join(""));
      return { r, id, fim, desfecho: await fimOuQueda(bAtual, c, id) };
    };
    let e = await enviar("depois da volta do redis", ["De ", "volta ", "ao ", "normal."]);
    if (e.desfecho === "queda") {
      await reentrar();
      e = await enviar("e mais uma", ["Agora ", "sem ", "queda."]);
      assert.equal(e.desfecho, "fim", "after rejoining, the tab on B is not disconnected again");
    }
    recebeuTudo(bAtual, c, e.r, e.id, e.fim, "a send from A after Redis came back reaches the tab on B");
    assert.ok(bAtual.connected);

    const h = await historico(ctx, C, sub, c);
    assert.ok(h.mensagens.every((m) => m.status === "completa"), JSON.stringify(resumo(h.mensagens)));
    const ids = conhecidas(abasB, c);
    const faltam = h.mensagens.filter((m) => !ids.has(m.id));
    assert.deepEqual(resumo(faltam), [], "the tab on B ends with the complete history");
  });

  test("PostgreSQL outage: a send acks indisponivel within the DB wait and /ready is 503; PostgreSQL back: /ready 200 and sends are answered, with no node restarted", async (t) => {
    const pg = await startPostgres();
    let ctx;
    try {
      ctx = await montar(t, { pg, env: { TUTOR_DB_ESPERA_MS: "1500" } });
    } finally {
      t.after(() => tentar(t, "pg.stop", () => pg.stop()));
    }
    const [A, B] = ctx.nos;
    const sub = usuario("davi");
    const a = await ctx.abrir(A, sub);
    const b = await ctx.abrir(B, sub);
    const c = await conversaEmDuasAbas(a, b);

    await pg.kill();
    const inicio = performance.now();
    const nack = await emitAck(a, "mensagem_enviada", { conversa_id: c, conteudo: "durante a queda do banco", id_cliente: "queda-1" });
    const ms = Math.round(performance.now() - inicio);
    t.diagnostic(`the send during the outage acked in ${ms} ms: ${JSON.stringify(nack)}`);
    assert.equal(nack?.ok, false, JSON.stringify(nack));
    assert.deepEqual(Object.keys(nack).sort(), ["erro", "ok"]);
    assert.equal(nack.erro?.codigo, "indisponivel", JSON.stringify(nack));
    assert.ok(typeof nack.erro.mensagem === "string" && nack.erro.mensagem.trim().length > 0);
    assert.ok(ms < 1500 + 1500, `within the DB wait of 1500 ms (and slack): ${ms} ms`);
    t.diagnostic(`/ready 503 on every node ${await esperarReady(ctx.nos, 503, 5000)} ms after the outage was noticed`);
    assert.ok(a.connected && b.connected, "the outage disconnects no tab");

    await pg.start();
    t.diagnostic(`/ready 200 on every node ${await esperarReady(ctx.nos, 200, 15_000)} ms after PostgreSQL came back`);

    // The tab retries the refused send as it was (same id_cliente): stored once, answered.
    const nova = novaResposta(a, c);
    const r = await sucesso(a, "mensagem_enviada", { conversa_id: c, conteudo: "durante a queda do banco", id_cliente: "queda-1" });
    const { mensagem_id: id } = await waitFor(a, "resposta_iniciada", nova);
    const [ev, fim] = await fimDaResposta(a, c, id);
    assert.equal(ev, "mensagem_respondida", JSON.stringify(fim));
    assert.equal(fim.mensagem.conteudo, PADRAO.join(""));
    const [evB, fimB] = await fimDaResposta(b, c, id);
    assert.equal(evB, "mensagem_respondida");
    assert.deepEqual(fimB, fim, "the tab on B gets it too");

    // A new conversation from the other node works as well.
    const rB = await sucesso(b, "mensagem_enviada", { conteudo: "nova conversa depois da volta" });
    const [evN, fimN] = await fimDaResposta(b, rB.conversa_id);
    assert.equal(evN, "mensagem_respondida", JSON.stringify(fimN));

    const h = await historico(ctx, B, sub, c);
    assert.deepEqual(h.mensagens.filter((m) => m.papel === "aluno").map((m) => m.conteudo), ["olá", "durante a queda do banco"],
      "the refused send left nothing behind, its retry is stored once");
    assert.ok(h.mensagens.every((m) => m.status === "completa"), JSON.stringify(resumo(h.mensagens)));
    assert.equal(h.mensagens.find((m) => m.id === r.mensagem.id)?.id_cliente, "queda-1");
    assert.equal(ctx.upstream.pedidosPara("durante a queda do banco").length, 1, "answered once");
  });
});
