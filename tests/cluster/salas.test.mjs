// Rooms across nodes: three tutor nodes sharing one PostgreSQL and one Redis, tabs of one
// student spread over them. Every event reaches every tab on every node, in order and
// gapless; sends from several nodes are answered one at a time in stored order; a join on a
// node that is not generating the answer gets exactly the rest; a cancel from any node stops
// it; and the same through nginx, over polling, WebSocket and the upgrade.
//
// TUTOR_CLUSTER_UM_NO=1 runs the same stories with every tab on the first node and no Redis:
// a check of the stories themselves against a single-node build.
import assert from "node:assert/strict";
import { after, afterEach, before, beforeEach, describe, test } from "node:test";

import {
  TRANSPORTES, conteudoDe, connect, emitAck, esperar, fimDaResposta, novoId, parciais, posicao, primeiraDoAluno,
  respostasIniciadas, sucesso, textoTransmitido, ultimaDoAluno, usuario, waitFor,
} from "../js/harness.mjs";
import { startCluster, startNginx } from "./cluster.mjs";

const UM_NO = process.env.TUTOR_CLUSTER_UM_NO === "1";
/** Bound on an answer that streams slowly on purpose, or on several answers in a row. */
const PRAZO_LONGO = 20_000;

/** The room events of the protocol about conversation `c`, as `[event, payload]`, in arrival order. */
const EVENTOS_DA_SALA = new Set(["mensagem_recebida", "resposta_iniciada", "resposta_parcial", "mensagem_respondida", "erro_resposta"]);
const daSala = (recebidos, c) => recebidos.filter(([e, d]) => EVENTOS_DA_SALA.has(e) && d?.conversa_id === c);
/** The records of `s` after its first record satisfying `f` (an ack, say). */
const depoisDe = (s, f) => s.recebidos.slice(posicao(s, f) + 1);
const fins = (s, c) => s.recebidos.filter(([e, d]) => (e === "mensagem_respondida" || e === "erro_resposta") && d.conversa_id === c);

/** Waits until `s` saw `k` answers start in `c`; resolves to the id of the k-th. */
async function iniciada(s, c, k, prazo) {
  await waitFor(s, "resposta_iniciada", () => respostasIniciadas(s, c).length >= k, prazo);
  return respostasIniciadas(s, c)[k - 1];
}

/** Waits for the end of answer `id` on `s`; fails unless it is a `mensagem_respondida`; resolves to the message. */
async function respondida(s, c, id) {
  const [ev, fim] = await fimDaResposta(s, c, id);
  assert.equal(ev, "mensagem_respondida", `answer ${id} ended with ${ev}: ${JSON.stringify(fim)}`);
  return fim.mensagem;
}

// ---------------------------------------------------------------------------------------------
// One cluster for the file

const ctx = { cluster: null, abertos: [] };
before(async () => {
  ctx.cluster = await startCluster(UM_NO ? { env: { REDIS_URL: "" } } : {});
});
beforeEach(() => ctx.cluster?.upstream.reset());
afterEach(() => { for (const s of ctx.abertos.splice(0)) s.close(); });
after(async () => {
  for (const s of ctx.abertos.splice(0)) s.close();
  if (!ctx.cluster) return;
  const { nodes } = ctx.cluster;
  const codigos = await ctx.cluster.stop();
  assert.deepEqual(codigos, nodes.map(() => 0),
    `every node exits 0 on SIGTERM:\n${nodes.map((n) => `--- ${n.name}\n${n.logs.slice(-2000)}`).join("\n")}`);
});

/** The node tab `i` goes to (always the first with TUTOR_CLUSTER_UM_NO=1). */
const no = (i) => ctx.cluster.nodes[UM_NO ? 0 : i];

/** A tab of `sub` on node `i` over `transporte`, closed after the test. */
async function abrir(i, sub, transporte = {}) {
  const s = await connect(no(i).url, ctx.cluster.token(sub), transporte);
  s.no = no(i).name;
  ctx.abertos.push(s);
  return s;
}

async function abrirEm(url, sub, transporte) {
  const s = await connect(url, ctx.cluster.token(sub), transporte);
  ctx.abertos.push(s);
  return s;
}

/**
 * Joins `t` to `c` after `fim`, an answer that another tab already saw end. A node learns of
 * the end of an answer generated elsewhere through Redis, a moment after the generating node's
 * own tabs: a join in that moment may still list it `gerando` (with the snapshot), and the tab
 * then gets its end. Waits for that end, checks it is `fim` and the text adds up, and resolves
 * to the join's ack.
 */
async function entrarDepoisDoFim(t, c, fim) {
  const h = await sucesso(t, "entrar_conversa", { conversa_id: c });
  const listada = h.mensagens.find((m) => m.id === fim.id);
  assert.ok(listada, `the answer ${fim.id} is listed on ${t.no}`);
  if (listada.status === "gerando") {
    assert.equal(h.resposta_em_andamento?.mensagem_id, fim.id, `on ${t.no}: listed gerando, so it is the answer in progress`);
    assert.deepEqual(await respondida(t, c, fim.id), fim, `on ${t.no} the end follows the join`);
    assert.equal(h.resposta_em_andamento.conteudo + parciais(t, fim.id).map((p) => p.delta).join(""), fim.conteudo,
      `on ${t.no}: the snapshot and the rest add up`);
  } else {
    assert.deepEqual(listada, fim, `on ${t.no} the stored answer`);
  }
  return h;
}

/** Index in `s.recebidos` after which the tab has joined `c` and seen every answer before `fim` end. */
function depoisDaEntrada(s, fim) {
  return Math.max(posicao(s, (e) => e === "ack:entrar_conversa"),
    posicao(s, (e, d) => e === "mensagem_respondida" && d.mensagem.id === fim.id)) + 1;
}

/** Creates a conversation from `a` with one answered message; the others join it. Resolves to its id. */
async function conversaCom(a, outros, primeira) {
  const r = await sucesso(a, "mensagem_enviada", { conteudo: primeira });
  const c = r.conversa_id;
  const fim = await respondida(a, c, await iniciada(a, c, 1));
  for (const t of outros) await entrarDepoisDoFim(t, c, fim);
  return c;
}

/** Upstream requests of the conversation whose first student message is `primeira`. */
const pedidosDa = (primeira) => ctx.cluster.upstream.pedidos.filter((p) => primeiraDoAluno(p) === primeira);

// ---------------------------------------------------------------------------------------------

for (const [nome, transporte] of Object.entries(TRANSPORTES)) {
  describe(`salas entre nós over ${nome}`, () => {
    test("three tabs, one on each node: every event reaches every tab, in order and gapless, byte-exact", async () => {
      const sub = usuario("ana");
      const [a, b, c] = [await abrir(0, sub, transporte), await abrir(1, sub, transporte), await abrir(2, sub, transporte)];
      const r1 = await sucesso(a, "mensagem_enviada", { conteudo: "frações equivalentes" });
      const conversa = r1.conversa_id;
      for (const t of [b, c]) {
        const criada = await waitFor(t, "conversa_criada", (d) => d.conversa?.id === conversa);
        assert.equal(criada.conversa.titulo, "frações equivalentes", `conversa_criada on ${t.no}`);
      }
      const primeiraResposta = await respondida(a, conversa, await iniciada(a, conversa, 1));
      for (const t of [b, c]) {
        const h = await entrarDepoisDoFim(t, conversa, primeiraResposta);
        assert.deepEqual(h.mensagens.map((m) => [m.papel, m.id]), [["aluno", r1.mensagem.id], ["tutor", primeiraResposta.id]]);
      }

      const partes = ["Olá\u0000", " 🙂 fração", "\u0000\u0000", " 👩🏽‍🏫 é", " parte", " de 🧮", " um\u0000todo", " 🇧🇷", " fim\u0000"];
      ctx.cluster.upstream.roteiro({ partes, atraso: 25 });
      const final = partes.join("");
      const texto = "e agora?\u0000 🙂 com NUL";
      const r2 = await sucesso(a, "mensagem_enviada", { conversa_id: conversa, conteudo: texto });
      assert.equal(r2.mensagem.conteudo, texto, "the ack holds the text byte-exact");
      const id = await iniciada(a, conversa, 2);
      const mensagens = [];
      for (const t of [a, b, c]) mensagens.push(await respondida(t, conversa, id));
      for (const [i, t] of [a, b, c].entries()) {
        assert.equal(mensagens[i].conteudo, final, `final text on ${t.no}, byte-exact`);
        assert.equal(mensagens[i].status, "completa");
        assert.equal(textoTransmitido(t, id), final, `the deltas on ${t.no}, indice 0, 1, 2… without gaps, joined`);
        assert.deepEqual(mensagens[i], mensagens[0], `the same final message on ${t.no}`);
        assert.deepEqual(parciais(t, id), parciais(a, id), `the same pieces with the same indices on ${t.no}`);
      }
      // Exactly this sequence, once each, after the tab's last ack.
      const k = parciais(a, id).length;
      const sequencia = (recebidos) => daSala(recebidos, conversa).map(([e]) => e);
      const resposta = ["resposta_iniciada", ...Array(k).fill("resposta_parcial"), "mensagem_respondida"];
      assert.deepEqual(sequencia(depoisDe(a, (e, d) => e === "ack:mensagem_enviada" && d.mensagem?.id === r2.mensagem.id)), resposta,
        "the sender: its ack, then the answer (no mensagem_recebida of its own message)");
      for (const t of [b, c]) {
        const depois = t.recebidos.slice(depoisDaEntrada(t, primeiraResposta));
        assert.deepEqual(sequencia(depois), ["mensagem_recebida", ...resposta], `on ${t.no}: the message, then the answer`);
        assert.deepEqual(daSala(depois, conversa)[0][1], { conversa_id: conversa, mensagem: r2.mensagem },
          `mensagem_recebida on ${t.no} is the stored message, byte-exact`);
      }
      // And it is stored byte-exact: a new tab on the third node reads it back.
      const d = await abrir(2, sub, transporte);
      const h = await sucesso(d, "entrar_conversa", { conversa_id: conversa });
      assert.deepEqual(h.mensagens.slice(-2), [r2.mensagem, mensagens[0]]);
    });

    test("two tabs on two nodes send while an answer streams: one answer at a time, in stored order, each prompt holds the answers before it", async () => {
      const sub = usuario("bia");
      const a = await abrir(0, sub, transporte);
      const b = await abrir(1, sub, transporte);
      const up = ctx.cluster.upstream;
      let simultaneos = 0;
      const contar = () => { simultaneos = Math.max(simultaneos, up.desfechos.filter((x) => x === "andamento").length); };
      const lenta = Array.from({ length: 20 }, (_, i) => `lenta${i} `);
      up.roteiro({ partes: () => { contar(); return lenta; }, atraso: 60 });
      up.padrao({ partes: (corpo) => { contar(); return ["resposta a ", ultimaDoAluno(corpo), " 🙂"]; }, atraso: 20 });

      const primeira = `primeira de ${sub}`;
      const r1 = await sucesso(a, "mensagem_enviada", { conteudo: primeira });
      const conversa = r1.conversa_id;
      await sucesso(b, "entrar_conversa", { conversa_id: conversa });
      await waitFor(a, "resposta_parcial", (d) => d.conversa_id === conversa);
      const [r2, r3] = await Promise.all([
        sucesso(a, "mensagem_enviada", { conversa_id: conversa, conteudo: `de a (${a.no})` }),
        sucesso(b, "mensagem_enviada", { conversa_id: conversa, conteudo: `de b (${b.no})` }),
      ]);
      assert.equal(fins(a, conversa).length, 0, "both sends were stored while the first answer streamed");

      for (const t of [a, b]) await waitFor(t, "mensagem_respondida", () => fins(t, conversa).length >= 3, PRAZO_LONGO);
      const h = await sucesso(await abrir(2, sub, transporte), "entrar_conversa", { conversa_id: conversa });
      const alunos = h.mensagens.filter((m) => m.papel === "aluno");
      const tutores = h.mensagens.filter((m) => m.papel === "tutor");
      assert.equal(alunos.length, 3);
      assert.deepEqual(new Set(alunos.slice(1).map((m) => m.id)), new Set([r2.mensagem.id, r3.mensagem.id]));
      const perguntas = alunos.map((m) => m.conteudo);
      const respostas = [lenta.join(""), ...perguntas.slice(1).map((p) => `resposta a ${p} 🙂`)];
      assert.deepEqual(tutores.map((m) => [m.conteudo, m.status]), respostas.map((r) => [r, "completa"]),
        "each student message answered, in the order the messages were stored");

      const pedidos = pedidosDa(primeira);
      assert.equal(pedidos.length, 3, "one upstream request per student message");
      assert.equal(simultaneos, 1, "never two requests of one conversation at once");
      pedidos.forEach((p, k) => {
        assert.equal(ultimaDoAluno(p), perguntas[k], `request ${k} answers the ${k}-th stored message`);
        assert.deepEqual(p.messages.filter((m) => m.role === "user").map(conteudoDe), perguntas.slice(0, k + 1));
        assert.deepEqual(p.messages.filter((m) => m.role === "assistant").map(conteudoDe), respostas.slice(0, k),
          `request ${k} holds the answers before it`);
      });
      for (const t of [a, b]) {
        // One at a time: no answer starts before the one before it ended.
        const marcos = daSala(t.recebidos, conversa).filter(([e]) => e === "resposta_iniciada" || e === "mensagem_respondida");
        const vistos = marcos.map(([e, d]) => [e, d.mensagem_id ?? d.mensagem.id]);
        const esperados = tutores.flatMap((m) => [["resposta_iniciada", m.id], ["mensagem_respondida", m.id]]);
        assert.deepEqual(vistos, esperados.slice(esperados.length - vistos.length), `on ${t.no}: start, end, start, end…`);
        assert.ok(vistos.length >= 5, `on ${t.no} at least the last two answers whole: ${JSON.stringify(vistos)}`);
        for (const m of tutores.slice(1)) assert.equal(textoTransmitido(t, m.id), m.conteudo, `deltas of ${m.id} on ${t.no}`);
        const finais = fins(t, conversa).map(([, d]) => d.mensagem.conteudo);
        assert.deepEqual(finais, respostas, `on ${t.no} the answers arrive in stored order`);
      }
    });

    test("the same id_cliente from tabs on two nodes at once: one message, one upstream request", async () => {
      const sub = usuario("caio");
      const a = await abrir(0, sub, transporte);
      const b = await abrir(1, sub, transporte);
      const up = ctx.cluster.upstream;

      // Into a conversation that exists.
      const conversa = await conversaCom(a, [b], `base de ${sub}`);
      const texto = `repetida de ${sub}`;
      const id_cliente = novoId();
      const [ra, rb] = await Promise.all([a, b].map((t) =>
        sucesso(t, "mensagem_enviada", { conversa_id: conversa, conteudo: texto, id_cliente })));
      assert.equal(ra.mensagem.id, rb.mensagem.id, "both acks name the same message");
      assert.equal(ra.conversa_id, conversa);
      assert.equal(rb.conversa_id, conversa);
      const id = await iniciada(a, conversa, 2);
      for (const t of [a, b]) await respondida(t, conversa, id);
      await esperar(300);
      assert.equal(up.pedidosPara(texto).length, 1, "exactly one upstream request for it");
      const h = await sucesso(a, "entrar_conversa", { conversa_id: conversa });
      assert.deepEqual(h.mensagens.map((m) => [m.papel, m.conteudo]).slice(2),
        [["aluno", texto], ["tutor", h.mensagens[3].conteudo]], "one message stored, one answer");
      assert.equal(h.mensagens.filter((m) => m.id_cliente === id_cliente).length, 1);

      // And one that creates the conversation.
      const nova = `nova de ${sub}`;
      const id2 = novoId();
      const [na, nb] = await Promise.all([a, b].map((t) => sucesso(t, "mensagem_enviada", { conteudo: nova, id_cliente: id2 })));
      assert.equal(na.conversa_id, nb.conversa_id, "one conversation created");
      assert.equal(na.mensagem.id, nb.mensagem.id, "one message stored");
      const c2 = na.conversa_id;
      // Both sockets are in the room: both see the answer end (the one whose send was the repeat
      // may join after the answer started, and see only the rest of it).
      const [fa, fb] = [await respondida(a, c2), await respondida(b, c2)];
      assert.deepEqual(fa, fb);
      await esperar(300);
      assert.equal(up.pedidosPara(nova).length, 1, "exactly one upstream request for it");
      const lista = await sucesso(b, "listar_conversas", {});
      assert.equal(lista.conversas.filter((c) => c.titulo === nova).length, 1, `one conversation titled ${nova}`);
      const h2 = await sucesso(b, "entrar_conversa", { conversa_id: c2 });
      assert.deepEqual(h2.mensagens.map((m) => m.papel), ["aluno", "tutor"]);
    });

    test("joining mid-answer on a node that is not generating it: the snapshot, then exactly the rest", async () => {
      const sub = usuario("davi");
      const a = await abrir(0, sub, transporte);
      const x = await abrir(1, sub, transporte);
      const conversa = await conversaCom(a, [x], `base de ${sub}`);
      const partes = Array.from({ length: 24 }, (_, i) => `parte${i}🙂\u0000 `);
      ctx.cluster.upstream.roteiro({ partes, atraso: 70 });
      const final = partes.join("");
      await sucesso(a, "mensagem_enviada", { conversa_id: conversa, conteudo: "explique devagar" });
      const id = await iniciada(a, conversa, 2);
      const tabs = [];
      // Node 1 has a tab in the room already, node 2 nobody of this conversation, node 0 the sender.
      for (const [ponto, i] of [[1, 1], [4, 2], [7, 0]]) {
        await waitFor(a, "resposta_parcial", (d) => d.mensagem_id === id && d.indice >= ponto, PRAZO_LONGO);
        const t = await abrir(i, sub, transporte);
        const h = await sucesso(t, "entrar_conversa", { conversa_id: conversa });
        tabs.push([t, h]);
      }
      const fimA = await respondida(a, conversa, id);
      assert.equal(fimA.conteudo, final);
      assert.equal(textoTransmitido(x, id), final, "the tab already in the room on another node gets it all");
      for (const [t, h] of tabs) {
        assert.ok(h.resposta_em_andamento, `an answer is streaming when the tab on ${t.no} joins: ${JSON.stringify(h)}`);
        const { mensagem_id, conteudo } = h.resposta_em_andamento;
        assert.equal(mensagem_id, id);
        const listada = h.mensagens.find((m) => m.id === id);
        assert.equal(listada?.status, "gerando", "the streaming answer is listed as gerando");
        assert.equal(listada.conteudo, conteudo, "with the same text as resposta_em_andamento");
        assert.ok(conteudo.length > 0, "the snapshot was taken mid-answer");
        assert.deepEqual(await respondida(t, conversa, id), fimA);
        const antes = t.recebidos.slice(0, posicao(t, (e) => e === "ack:entrar_conversa")).filter(([e]) => e === "resposta_parcial");
        assert.deepEqual(antes, [], "no piece before the ack");
        const depois = parciais(t, id);
        assert.equal(conteudo + depois.map((p) => p.delta).join(""), final, `on ${t.no}: nothing twice, nothing missing`);
        depois.forEach((p, k) => assert.equal(p.indice, depois[0].indice + k, "no gap in indice"));
        const k = depois.length ? depois[0].indice : parciais(a, id).length;
        assert.equal(parciais(a, id).slice(0, k).map((p) => p.delta).join(""), conteudo,
          "the snapshot is exactly the pieces before the first one the tab gets");
      }
    });

    test("cancelar_resposta from a tab on another node: the answer ends cancelada, the upstream request is closed; a late cancel spares the next answer", async () => {
      const sub = usuario("eli");
      const a = await abrir(0, sub, transporte);
      const b = await abrir(1, sub, transporte);
      const c = await abrir(2, sub, transporte);
      const up = ctx.cluster.upstream;
      const conversa = await conversaCom(a, [b, c], `base de ${sub}`);
      let k = 1;
      for (const quem of [b, c]) {
        const texto = `longa demais, cancelada em ${quem.no} (${sub})`;
        up.roteiro({ partes: Array.from({ length: 100 }, (_, i) => `${i}🙂 `), atraso: 50 });
        await sucesso(a, "mensagem_enviada", { conversa_id: conversa, conteudo: texto });
        const id = await iniciada(a, conversa, ++k);
        await waitFor(quem, "resposta_parcial", (d) => d.mensagem_id === id);
        const n = up.pedidos.findIndex((p) => ultimaDoAluno(p) === texto);
        assert.ok(n >= 0);
        const t0 = Date.now();
        const r = await emitAck(quem, "cancelar_resposta", { conversa_id: conversa });
        assert.equal(r.ok, true, JSON.stringify(r));
        assert.equal(r.cancelada, true, `the answer was streaming: ${JSON.stringify(r)}`);
        const finais = [];
        for (const t of [a, b, c]) finais.push(await respondida(t, conversa, id));
        for (const [i, t] of [a, b, c].entries()) {
          assert.equal(finais[i].status, "cancelada", `on ${t.no}`);
          assert.deepEqual(finais[i], finais[0]);
          assert.equal(textoTransmitido(t, id), finais[i].conteudo, `on ${t.no} the deltas are what was kept`);
        }
        await up.ate(() => up.desfechos[n] !== "andamento", "the upstream request to end");
        assert.equal(up.desfechos[n], "fechado", "the model's stream is dropped, not read to the end");
        const ms = Date.now() - t0;
        assert.ok(ms < 2000, `the upstream request closed ${ms} ms after the cancel's ack`);
      }
      // A cancel after the answer ended stops nothing: not the next answer either.
      for (const t of [b, c]) {
        const r = await emitAck(t, "cancelar_resposta", { conversa_id: conversa });
        assert.equal(r.ok, true, JSON.stringify(r));
        assert.equal(r.cancelada, false, `nothing was streaming: ${JSON.stringify(r)}`);
      }
      const partes = ["depois ", "do ", "cancelamento ", "🙂"];
      up.roteiro({ partes, atraso: 60 });
      await sucesso(a, "mensagem_enviada", { conversa_id: conversa, conteudo: "e a seguinte?" });
      const id = await iniciada(a, conversa, ++k);
      for (const t of [a, b, c]) {
        const m = await respondida(t, conversa, id);
        assert.equal(m.status, "completa", `the next answer completes on ${t.no}`);
        assert.equal(m.conteudo, partes.join(""));
        assert.equal(textoTransmitido(t, id), m.conteudo);
      }
    });
  });
}

describe("nginx in front of the three nodes", () => {
  let nginx;
  before(async () => {
    nginx = await startNginx(UM_NO ? [no(0)] : ctx.cluster.nodes);
  });
  after(async () => { await nginx?.stop(); });

  test("tabs over polling, WebSocket and upgrade through nginx all see the whole answer", async () => {
    const sub = usuario("fabi");
    // Round-robin spreads the WebSocket tabs over the nodes; polling and upgrade go sticky.
    const ws = [];
    for (let i = 0; i < 3; i++) ws.push(await abrirEm(nginx.url, sub, TRANSPORTES.websocket));
    const polling = await abrirEm(nginx.urlSticky, sub, TRANSPORTES.polling);
    const upgrade = await abrirEm(nginx.urlSticky, sub, TRANSPORTES.upgrade);
    if (upgrade.io.engine.transport.name !== "websocket") {
      await new Promise((ok, falha) => {
        const t = setTimeout(() => falha(new Error("no upgrade to WebSocket through nginx within 10 s")), 10_000);
        upgrade.io.engine.once("upgrade", () => { clearTimeout(t); ok(); });
      });
    }
    assert.equal(upgrade.io.engine.transport.name, "websocket", "the upgrade went through nginx");
    const todas = [...ws, polling, upgrade];
    const r1 = await sucesso(polling, "mensagem_enviada", { conteudo: `pelo nginx ${sub}` });
    const conversa = r1.conversa_id;
    for (const t of todas.filter((t) => t !== polling)) {
      await waitFor(t, "conversa_criada", (d) => d.conversa?.id === conversa);
    }
    const primeira = await respondida(polling, conversa, await iniciada(polling, conversa, 1));
    for (const t of todas.filter((t) => t !== polling)) await entrarDepoisDoFim(t, conversa, primeira);

    const partes = Array.from({ length: 15 }, (_, i) => `pedaço ${i} 🙂\u0000 `);
    ctx.cluster.upstream.roteiro({ partes, atraso: 20 });
    const r2 = await sucesso(ws[1], "mensagem_enviada", { conversa_id: conversa, conteudo: "de novo" });
    const id = await iniciada(polling, conversa, 2);
    const finais = [];
    for (const t of todas) finais.push(await respondida(t, conversa, id));
    for (const [i, t] of todas.entries()) {
      assert.equal(finais[i].conteudo, partes.join(""), `tab ${i}`);
      assert.deepEqual(finais[i], finais[0]);
      assert.equal(textoTransmitido(t, id), partes.join(""), `tab ${i}: the deltas, gapless`);
      if (t !== ws[1]) {
        assert.ok(t.recebidos.some(([e, d]) => e === "mensagem_recebida" && d.mensagem.id === r2.mensagem.id), `tab ${i} got the message`);
      }
    }
    // The WebSocket tabs really were on three nodes: nginx logs each one, with the node it
    // went to, once it closes.
    for (const t of ws) t.close();
    const nos = new Set(ctx.cluster.nodes.map((n) => n.url.replace("http://", "")));
    const servidos = () => new Set(nginx.accessLog().split("\n")
      .filter((l) => l.includes("transport=websocket") && !l.includes("sid=") && / 101 /.test(l))
      .map((l) => l.split(" ").find((x) => nos.has(x))));
    const limite = Date.now() + 5000;
    while (servidos().size < (UM_NO ? 1 : 3) && Date.now() < limite) await esperar(50);
    assert.equal(servidos().size, UM_NO ? 1 : 3, `the WebSocket tabs went to every node:\n${nginx.accessLog()}`);
  });
});
