// The teacher's side and the daily budget across processes (docs/turma.md): a professor on
// one node follows a student sending on another and hears every change, once and in order,
// without text, whichever node generates the answer; a third node lists the conversation with
// its counts and sees it streaming; a budget spent through one node holds on the others (the
// totals live in the shared database); a student is refused the class view on every node.
import assert from "node:assert/strict";
import { after, afterEach, before, beforeEach, describe, test } from "node:test";

import {
  CAMPOS_ATUALIZADA, PROFESSOR, RFC3339_MS, atualizacoes, atualizada, barreira, connect, emitAck, fimDaResposta, novoId, portao, respostasIniciadas, sucesso, ultimaDoAluno,
  usuario, waitFor,
} from "../js/harness.mjs";
import { startCluster, startPostgres } from "./cluster.mjs";

/** Waits for the k-th answer in `c` as seen by `s` to complete; resolves to the stored message. */
async function kEsimaRespondida(s, c, k) {
  await waitFor(s, "resposta_iniciada", () => respostasIniciadas(s, c).length >= k);
  const [ev, fim] = await fimDaResposta(s, c, respostasIniciadas(s, c)[k - 1]);
  assert.equal(ev, "mensagem_respondida", `answer ${k} in ${c} on ${s.no}: ${JSON.stringify(fim)}`);
  return fim.mensagem;
}

/** `listar_turma` by id on `prof`: the one summary of `c`. */
async function resumo(prof, c) {
  const r = await sucesso(prof, "listar_turma", { conversa_ids: [c] });
  assert.equal(r.conversas.length, 1, `on ${prof.no}: ${JSON.stringify(r)}`);
  return r.conversas[0];
}

// ---------------------------------------------------------------------------------------------
// One PostgreSQL for the file; each describe block has a cluster of its own on it (its own
// database, Redis and fake upstream), started with the environment that block needs.

const arquivo = { pg: null, abertos: [] };
before(async () => { arquivo.pg = await startPostgres(); });
afterEach(() => { for (const s of arquivo.abertos.splice(0)) s.close(); });
after(async () => {
  for (const s of arquivo.abertos.splice(0)) s.close();
  await arquivo.pg?.stop();
});

function comCluster(env = {}) {
  const ctx = { cluster: null };
  before(async () => { ctx.cluster = await startCluster({ env, pg: arquivo.pg }); });
  beforeEach(() => ctx.cluster?.upstream.reset());
  after(async () => {
    for (const s of arquivo.abertos.splice(0)) s.close();
    if (!ctx.cluster) return;
    const { nodes } = ctx.cluster;
    const codigos = await ctx.cluster.stop();
    assert.deepEqual(codigos, nodes.map(() => 0),
      `every node exits 0 on SIGTERM:\n${nodes.map((n) => `--- ${n.name}\n${n.logs.slice(-2000)}`).join("\n")}`);
  });
  /** A tab of `sub` (with `claims`) on node `i`, closed after the test. */
  ctx.abrir = async (i, sub, claims = {}) => {
    const no = ctx.cluster.nodes[i];
    const s = await connect(no.url, ctx.cluster.token(sub, claims));
    s.no = no.name;
    arquivo.abertos.push(s);
    return s;
  };
  return ctx;
}

// ---------------------------------------------------------------------------------------------

describe("turma entre nós", () => {
  const ctx = comCluster();

  test("professors on every node follow a student sending on A and C: every change once, in order, no text; listar_turma on C sees the counts and the answer streaming", async () => {
    const sa = usuario("ana");
    const sp = usuario("prof");
    // Following on every node: the sender's, the generating one (whichever it is) and the others.
    const seguidores = [await ctx.abrir(0, sp, PROFESSOR), await ctx.abrir(1, sp, PROFESSOR), await ctx.abrir(2, sp, PROFESSOR)];
    const profB = seguidores[1];
    for (const prof of seguidores) assert.deepEqual(await emitAck(prof, "acompanhar_turma", {}), { ok: true });
    // Not following: it lists, and hears nothing.
    const profC = await ctx.abrir(2, sp, PROFESSOR);
    const anaA = await ctx.abrir(0, sa, { name: "Ana Souza" });
    const anaC = await ctx.abrir(2, sa, { name: "Ana Souza" });
    const up = ctx.cluster.upstream;

    // The first answer streams until the test lets it end, on whichever node generates it.
    const p = portao();
    up.roteiro({ partes: ["segredo ", "da ", "resposta"], segurar: p.aberto });
    try {
      const r = await sucesso(anaA, "mensagem_enviada", { conteudo: "minha pergunta secreta" });
      const c = r.conversa_id;
      assert.equal((await atualizada(profB, c, "criada")).gerando, false, "no answer streams yet");
      assert.equal((await atualizada(profB, c, "resposta_iniciada")).gerando, true);

      // On a third node, read from the shared database: the answer is streaming.
      const durante = await resumo(profC, c);
      assert.deepEqual([durante.usuario, durante.nome_usuario, durante.titulo, durante.mensagens, durante.gerando],
        [sa, "Ana Souza", "minha pergunta secreta", 2, true], JSON.stringify(durante));
      const pagina = await sucesso(profC, "listar_turma", {});
      assert.deepEqual(pagina.conversas.find((x) => x.id === c), durante, "the page lists the same summary");

      // The student, from node C, writes again while the first answer still streams.
      await sucesso(anaC, "mensagem_enviada", { conversa_id: c, conteudo: "e outra coisa confidencial" });
      const mensagem = await atualizada(profB, c, "mensagem");
      assert.equal(mensagem.gerando, true, `an answer still streams after this change (sent on ${anaC.no}): ${JSON.stringify(mensagem)}`);
      assert.equal((await resumo(profC, c)).mensagens, 3);

      p.abrir();
      await kEsimaRespondida(anaA, c, 2);
      await atualizada(profB, c, "resposta_terminada", 2);

      const eventos = atualizacoes(profB, c);
      assert.deepEqual(eventos.map((e) => [e.motivo, e.gerando]), [
        ["criada", false], ["resposta_iniciada", true], ["mensagem", true],
        ["resposta_terminada", false], ["resposta_iniciada", true], ["resposta_terminada", false],
      ], "each change once, in the order it happened, across the nodes");
      for (const prof of [seguidores[0], seguidores[2]]) {
        await atualizada(prof, c, "resposta_terminada", 2);
        await barreira(prof);
        assert.deepEqual(atualizacoes(prof, c), eventos, `the professor on ${prof.no} hears the same, once each`);
      }
      for (const e of eventos) {
        assert.deepEqual(Object.keys(e).sort(), CAMPOS_ATUALIZADA, JSON.stringify(e));
        assert.equal(e.usuario, sa);
        assert.match(e.atualizada_em, RFC3339_MS);
        const bruto = JSON.stringify(e);
        for (const texto of ["secreta", "segredo", "confidencial", "Ana Souza"]) assert.ok(!bruto.includes(texto), `no text: ${bruto}`);
      }
      const depois = await resumo(profC, c);
      assert.equal(depois.gerando, false);
      assert.equal(depois.mensagens, 4);
      assert.ok(depois.tokens_hoje > 0, "the use is counted without a budget too");

      // The other professor socket did not follow: it heard nothing, on its own node.
      await barreira(profC);
      assert.ok(!profC.recebidos.some(([e]) => e === "conversa_atualizada"), "only sockets that follow the class hear it");
    } finally {
      p.abrir();
    }
  });

  test("a student is refused listar_turma and acompanhar_turma on every node and hears nothing of the class", async () => {
    const sa = usuario("ana");
    const tabs = [await ctx.abrir(0, sa), await ctx.abrir(1, sa), await ctx.abrir(2, sa)];
    const casos = [["listar_turma", {}], ["listar_turma", { conversa_ids: [novoId()] }], ["acompanhar_turma", {}], ["deixar_turma", {}]];
    for (const t of tabs) {
      for (const [ev, p] of casos) {
        const r = await emitAck(t, ev, p);
        assert.equal(r.erro?.codigo, "proibido", `${ev} on ${t.no}: ${JSON.stringify(r)}`);
        assert.ok(!("conversas" in r));
      }
    }
    // A professor on each node follows the class and hears bia's new conversation end; once
    // the one on a node has, so would ana's tab there (one relay per node): it hears nothing.
    const sp = usuario("prof");
    const profs = [await ctx.abrir(0, sp, PROFESSOR), await ctx.abrir(1, sp, PROFESSOR), await ctx.abrir(2, sp, PROFESSOR)];
    for (const prof of profs) await sucesso(prof, "acompanhar_turma", {});
    const bia = await ctx.abrir(0, usuario("bia"));
    const r = await sucesso(bia, "mensagem_enviada", { conteudo: "a pergunta da bia" });
    await kEsimaRespondida(bia, r.conversa_id, 1);
    for (const [i, t] of tabs.entries()) {
      await atualizada(profs[i], r.conversa_id, "resposta_terminada");
      await barreira(t);
      assert.ok(!t.recebidos.some(([e]) => e === "conversa_atualizada"), `ana's tab on ${t.no} hears nothing of the class`);
    }
  });
});

describe("cota diária entre nós", () => {
  const ctx = comCluster({ TUTOR_TOKENS_POR_DIA: "100" });

  test("a budget spent through node A holds on B and C: refused with limite tokens_por_dia, nothing stored, no upstream request", async () => {
    const sa = usuario("ana");
    const up = ctx.cluster.upstream;
    const [anaA, anaB, anaC] = [await ctx.abrir(0, sa), await ctx.abrir(1, sa), await ctx.abrir(2, sa)];
    up.roteiro({ partes: ["Metade ", "de um."], uso: 150 });
    const r = await sucesso(anaA, "mensagem_enviada", { conteudo: "quanto é metade de dois?" });
    const c = r.conversa_id;
    const fim = await kEsimaRespondida(anaA, c, 1);
    assert.equal(fim.conteudo, "Metade de um.", "under the budget, answered");
    assert.equal(up.pedidosPara("quanto é metade de dois?")[0]?.stream_options?.include_usage, true,
      "the server asks the model for its usage");
    const n = up.pedidos.length;

    for (const t of [anaB, anaC, anaA]) {
      for (const [caso, payload] of [
        ["into the conversation", { conversa_id: c, conteudo: `mais uma de ${t.no}` }],
        ["a new conversation", { conteudo: `nova de ${t.no}`, id_cliente: novoId() }],
      ]) {
        const x = await emitAck(t, "mensagem_enviada", payload);
        const onde = `${caso} on ${t.no}: ${JSON.stringify(x)}`;
        assert.equal(x.ok, false, onde);
        assert.equal(x.erro?.codigo, "limite_excedido", onde);
        assert.equal(x.erro.limite, "tokens_por_dia", onde);
        assert.ok(Number.isInteger(x.erro.tentar_em_ms) && x.erro.tentar_em_ms > 0, onde);
        assert.match(x.erro.mensagem, /limite diário/, onde);
      }
    }

    // Nothing stored: every node lists the one conversation with its two messages.
    for (const t of [anaB, anaC]) {
      const lista = await sucesso(t, "listar_conversas", {});
      assert.deepEqual(lista.conversas.map((x) => x.id), [c], `on ${t.no}`);
    }
    const h = await sucesso(anaB, "entrar_conversa", { conversa_id: c });
    assert.deepEqual(h.mensagens.map((m) => [m.papel, m.conteudo]), [["aluno", "quanto é metade de dois?"], ["tutor", "Metade de um."]]);

    const prof = await ctx.abrir(1, usuario("prof"), PROFESSOR);
    const turma = await sucesso(prof, "listar_turma", {});
    assert.equal(turma.tokens_por_dia, 100);
    const linha = turma.conversas.find((x) => x.id === c);
    assert.equal(linha?.tokens_hoje, 150, `what the upstream reported, counted once: ${JSON.stringify(linha)}`);

    // Another student, on node C, is answered; theirs is the only upstream request since.
    const bia = await ctx.abrir(2, usuario("bia"));
    const rb = await sucesso(bia, "mensagem_enviada", { conteudo: "e eu, posso perguntar?" });
    await kEsimaRespondida(bia, rb.conversa_id, 1);
    assert.deepEqual(up.pedidos.slice(n).map(ultimaDoAluno), ["e eu, posso perguntar?"], "ana's refused sends never reached the model");
  });
});
