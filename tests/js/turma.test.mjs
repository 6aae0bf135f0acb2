// The teacher's side and the daily budget (docs/turma.md), with the stock socket.io-client:
// a professor lists every student's conversations a page at a time, refreshes rows by id,
// follows the class live and hears every change without any text; a student is refused all
// of it; a student over TUTOR_TOKENS_POR_DIA is refused before anything is stored or reaches
// the model. Once per transport.
import assert from "node:assert/strict";
import { describe, test } from "node:test";

import {
  CAMPOS_ATUALIZADA, PROFESSOR, RFC3339_MS, TRANSPORTES, atualizacoes, atualizada, barreira, comServidor, emitAck, fimDaResposta, novoId, portao, respostasIniciadas,
  sucesso, ultimaDoAluno, usuario, waitFor,
} from "./harness.mjs";

const CAMPOS_RESUMO = ["atualizada_em", "criada_em", "gerando", "id", "mensagens", "nome_usuario", "titulo", "tokens_hoje", "usuario"];

/** Sends `conteudo` in a new conversation and waits for its answer to complete; resolves to the conversation id. */
async function conversaRespondida(s, conteudo) {
  const r = await sucesso(s, "mensagem_enviada", { conteudo });
  const [ev, fim] = await fimDaResposta(s, r.conversa_id);
  assert.equal(ev, "mensagem_respondida", `the answer to ${conteudo} completes: ${JSON.stringify(fim)}`);
  return r.conversa_id;
}

/** `listar_turma` by id: the one summary of `c`. */
async function resumo(prof, c) {
  const r = await sucesso(prof, "listar_turma", { conversa_ids: [c] });
  assert.equal(r.conversas.length, 1, JSON.stringify(r));
  return r.conversas[0];
}

/** A refused send of the daily budget, with everything a front-end shows. */
function recusaDeCota(ack, caso) {
  assert.equal(ack.ok, false, `${caso}: ${JSON.stringify(ack)}`);
  assert.equal(ack.erro?.codigo, "limite_excedido", `${caso}: ${JSON.stringify(ack)}`);
  assert.equal(ack.erro.limite, "tokens_por_dia", `${caso}: which limit`);
  assert.ok(Number.isInteger(ack.erro.tentar_em_ms) && ack.erro.tentar_em_ms > 0 && ack.erro.tentar_em_ms <= 24 * 3600 * 1000,
    `${caso}: until the next midnight, ${ack.erro.tentar_em_ms}`);
  assert.match(ack.erro.mensagem, /limite diário/, `${caso}: a sentence for the student`);
}

for (const [nome, transporte] of Object.entries(TRANSPORTES)) {
  // A server of its own: the class view lists every conversation on the server, so the pages
  // are only predictable when this test made all of them.
  describe(`turma em páginas over ${nome}`, () => {
    const ctx = comServidor(transporte);

    test("a professor pages through five conversations two at a time: 2, 2, 1, each once, most recent first, with counts, names and use", async () => {
      const sa = usuario("ana");
      const sb = usuario("bia");
      const ana = await ctx.abrir(sa, { name: "Ana Souza" });
      const bia = await ctx.abrir(sb);
      const criadas = new Map(); // id -> [student, title]
      for (const [s, sub, texto] of [[ana, sa, "frações 1"], [bia, sb, "decimais 1"], [ana, sa, "frações 2"], [bia, sb, "decimais 2"], [ana, sa, "frações 3"]]) {
        criadas.set(await conversaRespondida(s, texto), [sub, texto]);
      }
      const prof = await ctx.abrir(usuario("prof"), PROFESSOR);

      const todas = await sucesso(prof, "listar_turma", { limite: 100 });
      assert.equal(todas.tokens_por_dia, 0, "no budget set");
      assert.ok(!("proximo_cursor" in todas), `one page holds them all: ${JSON.stringify(todas.proximo_cursor)}`);
      assert.deepEqual(new Set(todas.conversas.map((r) => r.id)), new Set(criadas.keys()));
      const quando = todas.conversas.map((r) => r.atualizada_em);
      assert.deepEqual(quando, [...quando].sort().reverse(), "most recently active first");
      const usoDe = new Map();
      for (const r of todas.conversas) {
        const [sub, titulo] = criadas.get(r.id);
        assert.equal(r.usuario, sub);
        assert.equal(r.titulo, titulo);
        assert.equal(r.mensagens, 2, "the question and its answer");
        assert.equal(r.gerando, false);
        assert.match(r.criada_em, RFC3339_MS);
        assert.match(r.atualizada_em, RFC3339_MS);
        if (sub === sa) assert.equal(r.nome_usuario, "Ana Souza", "the name claim of ana's token");
        else assert.ok(!("nome_usuario" in r), "bia's token had no name");
        assert.deepEqual(Object.keys(r).filter((k) => k !== "nome_usuario").sort(), CAMPOS_RESUMO.filter((k) => k !== "nome_usuario"));
        // Estimated (this upstream reports no usage), and one total per student for the day.
        assert.ok(Number.isInteger(r.tokens_hoje) && r.tokens_hoje > 0, `tokens_hoje ${r.tokens_hoje}`);
        if (usoDe.has(sub)) assert.equal(r.tokens_hoje, usoDe.get(sub), "the student's day, the same on each row");
        usoDe.set(sub, r.tokens_hoje);
      }
      assert.ok(usoDe.get(sa) > usoDe.get(sb), `ana asked three times, bia twice: ${usoDe.get(sa)} vs ${usoDe.get(sb)}`);

      const paginas = [];
      let cursor;
      for (let i = 0; i < 10; i++) {
        const r = await sucesso(prof, "listar_turma", cursor === undefined ? { limite: 2 } : { limite: 2, cursor });
        paginas.push(r.conversas.map((x) => x.id));
        cursor = r.proximo_cursor;
        if (cursor === undefined) break;
        assert.equal(typeof cursor, "string");
      }
      assert.deepEqual(paginas.map((p) => p.length), [2, 2, 1]);
      assert.deepEqual(paginas.flat(), todas.conversas.map((r) => r.id), "every conversation once, in the same order");

      // A refresh by id: exactly those named, whatever limite says, with no cursor.
      const [um, , tres] = todas.conversas.map((r) => r.id);
      const refresco = await sucesso(prof, "listar_turma", { conversa_ids: [tres, um, novoId()], limite: 1 });
      assert.deepEqual(refresco.conversas.map((r) => r.id), [um, tres], "the ones that exist, most recent first");
      assert.deepEqual(refresco.conversas, [todas.conversas[0], todas.conversas[2]], "the same summaries");
      assert.ok(!("proximo_cursor" in refresco));
      assert.deepEqual((await sucesso(prof, "listar_turma", { conversa_ids: [] })).conversas, []);

      const ruim = await emitAck(prof, "listar_turma", { cursor: "nao-e-um-cursor" });
      assert.equal(ruim.erro?.codigo, "entrada_invalida", JSON.stringify(ruim));
      // The professor opens any of them, read-only.
      const h = await sucesso(prof, "entrar_conversa", { conversa_id: um });
      assert.equal(h.mensagens.length, 2);
    });
  });

  describe(`turma ao vivo over ${nome}`, () => {
    const ctx = comServidor(transporte);

    test("a professor who follows the class hears each change in order and without text; a refresh by id shows what it announced", async () => {
      const sa = usuario("ana");
      const prof = await ctx.abrir(usuario("prof"), PROFESSOR);
      const distraido = await ctx.abrir(usuario("prof2"), PROFESSOR);
      assert.deepEqual(await emitAck(prof, "acompanhar_turma", {}), { ok: true });
      const ana = await ctx.abrir(sa);

      // The first answer streams until the test lets it end.
      const p = portao();
      ctx.upstream.roteiro({ partes: ["segredo ", "da ", "resposta"], segurar: p.aberto });
      try {
        const r = await sucesso(ana, "mensagem_enviada", { conteudo: "minha pergunta secreta" });
        const c = r.conversa_id;
        const criada = await atualizada(prof, c, "criada");
        assert.equal(criada.usuario, sa);
        assert.equal(criada.gerando, false, "no answer streams yet");
        const iniciada = await atualizada(prof, c, "resposta_iniciada");
        assert.equal(iniciada.gerando, true);
        // What the event announced is stored: the refresh sees the answer streaming.
        const durante = await resumo(prof, c);
        assert.equal(durante.gerando, true, JSON.stringify(durante));
        assert.equal(durante.mensagens, 2, "the question and the answer being written");
        assert.equal(durante.usuario, sa);

        // A second message while the first answer streams.
        await sucesso(ana, "mensagem_enviada", { conversa_id: c, conteudo: "e outra coisa confidencial" });
        const mensagem = await atualizada(prof, c, "mensagem");
        assert.equal(mensagem.gerando, true, "an answer still streams after this change");
        assert.equal((await resumo(prof, c)).mensagens, 3);

        p.abrir();
        await waitFor(ana, "resposta_iniciada", () => respostasIniciadas(ana, c).length === 2);
        const [ev] = await fimDaResposta(ana, c, respostasIniciadas(ana, c)[1]);
        assert.equal(ev, "mensagem_respondida");
        await atualizada(prof, c, "resposta_terminada", 2);

        const eventos = atualizacoes(prof, c);
        assert.deepEqual(eventos.map((e) => [e.motivo, e.gerando]), [
          ["criada", false], ["resposta_iniciada", true], ["mensagem", true],
          ["resposta_terminada", false], ["resposta_iniciada", true], ["resposta_terminada", false],
        ], "each change once, in the order it happened");
        for (const e of eventos) {
          assert.deepEqual(Object.keys(e).sort(), CAMPOS_ATUALIZADA, JSON.stringify(e));
          assert.equal(e.conversa_id, c);
          assert.equal(e.usuario, sa);
          assert.match(e.atualizada_em, RFC3339_MS);
          const bruto = JSON.stringify(e);
          for (const texto of ["secreta", "segredo", "confidencial", "pergunta"]) assert.ok(!bruto.includes(texto), `no text: ${bruto}`);
        }
        const quando = eventos.map((e) => e.atualizada_em);
        assert.deepEqual(quando, [...quando].sort(), "the moments of the changes, in order");
        const depois = await resumo(prof, c);
        assert.equal(depois.gerando, false);
        assert.equal(depois.mensagens, 4);

        await barreira(distraido);
        assert.ok(!distraido.recebidos.some(([e]) => e === "conversa_atualizada"), "a professor who does not follow hears nothing");
        await barreira(ana);
        assert.ok(!ana.recebidos.some(([e]) => e === "conversa_atualizada"), "nor does the student");

        // After deixar_turma, nothing more.
        assert.deepEqual(await emitAck(prof, "deixar_turma", {}), { ok: true });
        const antes = prof.recebidos.filter(([e]) => e === "conversa_atualizada").length;
        const outra = await conversaRespondida(ana, "depois que o professor saiu");
        await barreira(prof);
        assert.equal(prof.recebidos.filter(([e]) => e === "conversa_atualizada").length, antes, "nothing after deixar_turma");
        // It still lists it: leaving the room is not losing the view.
        assert.equal((await resumo(prof, outra)).mensagens, 2);
        // And following again, with no payload at all, works.
        assert.deepEqual(await emitAck(prof, "acompanhar_turma"), { ok: true });
        const terceira = await sucesso(ana, "mensagem_enviada", { conteudo: "de novo" });
        await atualizada(prof, terceira.conversa_id, "criada");
      } finally {
        p.abrir();
      }
    });

    test("a student is refused the class view with proibido and hears nothing of the class", async () => {
      const ana = await ctx.abrir(usuario("ana"));
      const casos = [
        ["listar_turma", {}], ["listar_turma", { limite: 2 }], ["listar_turma", { conversa_ids: [] }],
        ["listar_turma", { conversa_ids: [novoId()] }], ["acompanhar_turma", {}], ["deixar_turma", {}],
      ];
      for (const [ev, p] of casos) {
        const r = await emitAck(ana, ev, p);
        assert.equal(r.ok, false, `${ev}(${JSON.stringify(p)}): ${JSON.stringify(r)}`);
        assert.equal(r.erro?.codigo, "proibido", `${ev}(${JSON.stringify(p)}): ${JSON.stringify(r)}`);
        assert.ok(r.erro.mensagem.length > 0);
        assert.ok(!("conversas" in r), "nothing listed");
      }
      const r = await emitAck(ana, "acompanhar_turma");
      assert.equal(r.erro?.codigo, "proibido", `with no payload: ${JSON.stringify(r)}`);
      // Another student's conversation changes; ana never hears of it.
      const bia = await ctx.abrir(usuario("bia"));
      const c = await conversaRespondida(bia, "a pergunta da bia");
      await barreira(ana);
      assert.ok(!ana.recebidos.some(([e, d]) => e === "conversa_atualizada" || d?.conversa_id === c), "ana hears nothing of the class");
      assert.deepEqual((await sucesso(ana, "listar_conversas", {})).conversas, [], "and her own list still works");
    });
  });

  describe(`cota diária over ${nome}`, () => {
    const ctx = comServidor(transporte, { TUTOR_TOKENS_POR_DIA: "100" });

    test("an answer that used more than the day's budget: the next sends are refused with limite tokens_por_dia, store nothing and never reach the model", async () => {
      const sa = usuario("ana");
      const ana = await ctx.abrir(sa);
      const up = ctx.upstream;
      up.roteiro({ partes: ["Metade ", "de um."], uso: 150 });
      const id_cliente = novoId();
      const r = await sucesso(ana, "mensagem_enviada", { conteudo: "quanto é metade de dois?", id_cliente });
      const c = r.conversa_id;
      const [ev, fim] = await fimDaResposta(ana, c);
      assert.equal(ev, "mensagem_respondida", "under the budget, answered");
      assert.equal(fim.mensagem.conteudo, "Metade de um.");
      const pedido = up.pedidosPara("quanto é metade de dois?");
      assert.equal(pedido.length, 1);
      assert.equal(pedido[0].stream_options?.include_usage, true, "the server asks the model for its usage");
      const n = up.pedidos.length;

      // Over it now (150 of 100): on this tab and on a new one, into the conversation or a new one.
      const outraAba = await ctx.abrir(sa);
      for (const [s, aba] of [[ana, "the first tab"], [outraAba, "a new tab"]]) {
        recusaDeCota(await emitAck(s, "mensagem_enviada", { conversa_id: c, conteudo: "e metade de três?" }), `${aba}, same conversation`);
        recusaDeCota(await emitAck(s, "mensagem_enviada", { conteudo: "uma conversa nova", id_cliente: novoId() }), `${aba}, new conversation`);
      }
      // A retry of the send stored before the budget ran out gets its message back.
      const deNovo = await sucesso(ana, "mensagem_enviada", { conteudo: "quanto é metade de dois?", id_cliente });
      assert.equal(deNovo.mensagem.id, r.mensagem.id);

      // Nothing was stored and nothing reached the model.
      const lista = await sucesso(outraAba, "listar_conversas", {});
      assert.deepEqual(lista.conversas.map((x) => x.id), [c], "only the conversation that was answered");
      const h = await sucesso(outraAba, "entrar_conversa", { conversa_id: c });
      assert.deepEqual(h.mensagens.map((m) => [m.papel, m.conteudo, m.status]),
        [["aluno", "quanto é metade de dois?", "completa"], ["tutor", "Metade de um.", "completa"]]);

      // The professor sees the day's use against the budget.
      const prof = await ctx.abrir(usuario("prof"), PROFESSOR);
      const turma = await sucesso(prof, "listar_turma", {});
      assert.equal(turma.tokens_por_dia, 100);
      const linha = turma.conversas.find((x) => x.id === c);
      assert.equal(linha?.tokens_hoje, 150, `what the upstream reported: ${JSON.stringify(linha)}`);
      assert.equal(linha.mensagens, 2);

      // Another student's budget is their own; theirs is the only request since.
      const bia = await ctx.abrir(usuario("bia"));
      await conversaRespondida(bia, "e eu, posso perguntar?");
      assert.deepEqual(up.pedidos.slice(n).map(ultimaDoAluno), ["e eu, posso perguntar?"], "ana's refused sends never reached the model");
    });
  });
}
