// One student, several tabs: a new conversation shows up everywhere, a message from one tab
// reaches the others, a tab that joins mid-answer gets exactly the rest, a tab that leaves
// stops hearing, and closing every tab does not stop an answer. Once per transport.
import assert from "node:assert/strict";
import { describe, test } from "node:test";

import {
  RFC3339_MS, TRANSPORTES, barreira, comServidor, emitAck, fimDaResposta, parciais, posicao, respostasIniciadas,
  sucesso, textoTransmitido, ultimaDoAluno, usuario, waitFor,
} from "./harness.mjs";

const sobre = (s, c) => s.recebidos.filter(([e, d]) => !e.startsWith("ack:") && !e.startsWith("#") && d?.conversa_id === c);

for (const [nome, transporte] of Object.entries(TRANSPORTES)) {
  describe(`varias abas over ${nome}`, () => {
    const ctx = comServidor(transporte);

    test("two tabs: the other sees the new conversation, the message and the same answer", async () => {
      const sub = usuario("bia");
      const a = await ctx.abrir(sub);
      const b = await ctx.abrir(sub);
      const estranho = await ctx.abrir(usuario("caio"));
      const r = await sucesso(a, "mensagem_enviada", { conteudo: "primeira pergunta" });
      const c = r.conversa_id;
      const criada = await waitFor(b, "conversa_criada", (d) => d.conversa?.id === c);
      assert.equal(criada.conversa.titulo, "primeira pergunta");
      assert.match(criada.conversa.criada_em, RFC3339_MS);
      assert.match(criada.conversa.atualizada_em, RFC3339_MS);
      await fimDaResposta(a, c);
      await Promise.all([barreira(a), barreira(estranho)]);
      assert.ok(!a.recebidos.some(([e]) => e === "conversa_criada"), "the creating tab learns it from its ack, not an event");
      assert.deepEqual(estranho.recebidos.filter(([e]) => !e.startsWith("ack:")), [], "another user hears nothing");
      assert.deepEqual(sobre(b, c), [], "before joining, the other tab gets nothing of the conversation");

      const h = await sucesso(b, "entrar_conversa", { conversa_id: c });
      assert.equal(h.mensagens.length, 2);
      const r2 = await sucesso(a, "mensagem_enviada", { conversa_id: c, conteudo: "segunda" });
      const recebida = await waitFor(b, "mensagem_recebida", (d) => d.mensagem.id === r2.mensagem.id);
      assert.deepEqual(recebida, { conversa_id: c, mensagem: r2.mensagem });
      await waitFor(a, "resposta_iniciada", () => respostasIniciadas(a, c).length === 2);
      const id = respostasIniciadas(a, c)[1];
      const [, fimA] = await fimDaResposta(a, c, id);
      const [, fimB] = await fimDaResposta(b, c, id);
      assert.deepEqual(fimB, fimA, "both tabs get the same final message");
      assert.equal(textoTransmitido(a, id), fimA.mensagem.conteudo);
      assert.equal(textoTransmitido(b, id), fimB.mensagem.conteudo);
      assert.deepEqual(parciais(b, id), parciais(a, id), "the same pieces, the same indices");
      assert.ok(!a.recebidos.some(([e]) => e === "mensagem_recebida"), "the sender does not get its own message back");

      // And the other way round.
      const r3 = await sucesso(b, "mensagem_enviada", { conversa_id: c, conteudo: "da outra aba" });
      assert.deepEqual(await waitFor(a, "mensagem_recebida", (d) => d.mensagem.id === r3.mensagem.id), { conversa_id: c, mensagem: r3.mensagem });
      await waitFor(b, "resposta_iniciada", () => respostasIniciadas(b, c).length === 2);
      await fimDaResposta(b, c, respostasIniciadas(b, c)[1]);
      await barreira(estranho);
      assert.deepEqual(estranho.recebidos.filter(([e]) => !e.startsWith("ack:")), [], "another user still hears nothing");
    });

    test("tabs joining mid-answer get the text so far, then exactly the rest", async () => {
      const partes = Array.from({ length: 20 }, (_, i) => `parte${i}🙂 `);
      ctx.upstream.roteiro({ partes, atraso: 70 });
      const sub = usuario("davi");
      const a = await ctx.abrir(sub);
      const r = await sucesso(a, "mensagem_enviada", { conteudo: "explique devagar" });
      const c = r.conversa_id;
      const tabs = [];
      for (const ponto of [1, 6]) {
        await waitFor(a, "resposta_parcial", (d) => d.conversa_id === c && d.indice >= ponto);
        const t = await ctx.abrir(sub);
        const h = await sucesso(t, "entrar_conversa", { conversa_id: c });
        tabs.push([t, h]);
      }
      const [, fimA] = await fimDaResposta(a, c);
      const final = partes.join("");
      assert.equal(fimA.mensagem.conteudo, final);
      for (const [t, h] of tabs) {
        assert.ok(h.resposta_em_andamento, `an answer is streaming when the tab joins: ${JSON.stringify(h)}`);
        const { mensagem_id, conteudo } = h.resposta_em_andamento;
        assert.equal(mensagem_id, fimA.mensagem.id);
        const listada = h.mensagens.find((m) => m.id === mensagem_id);
        assert.equal(listada?.status, "gerando", "the streaming answer is listed as gerando");
        assert.equal(listada.conteudo, conteudo, "with the same text as resposta_em_andamento");
        assert.ok(conteudo.length > 0, "the snapshot was taken mid-answer");
        const [, fim] = await fimDaResposta(t, c, mensagem_id);
        assert.deepEqual(fim, fimA);
        const pAck = posicao(t, (e) => e === "ack:entrar_conversa");
        const antes = t.recebidos.slice(0, pAck).filter(([e]) => e === "resposta_parcial");
        assert.deepEqual(antes, [], "no piece before the ack");
        const depois = parciais(t, mensagem_id);
        assert.equal(conteudo + depois.map((p) => p.delta).join(""), final, "nothing twice, nothing missing");
        depois.forEach((p, i) => assert.equal(p.indice, depois[0].indice + i, "no gap in indice"));
        const k = depois.length ? depois[0].indice : parciais(a, mensagem_id).length;
        assert.equal(parciais(a, mensagem_id).slice(0, k).map((p) => p.delta).join(""), conteudo,
          "the snapshot is exactly the pieces before the first one the tab gets");
      }
    });

    test("a tab that leaves the conversation stops hearing it; the others do not", async () => {
      const sub = usuario("eli");
      const a = await ctx.abrir(sub);
      const b = await ctx.abrir(sub);
      const r = await sucesso(a, "mensagem_enviada", { conteudo: "sala" });
      const c = r.conversa_id;
      await fimDaResposta(a, c);
      await sucesso(b, "entrar_conversa", { conversa_id: c });
      assert.deepEqual(await emitAck(b, "sair_conversa", { conversa_id: c }), { ok: true });
      const n = b.recebidos.length;
      await sucesso(a, "mensagem_enviada", { conversa_id: c, conteudo: "ainda aí?" });
      await waitFor(a, "resposta_iniciada", () => respostasIniciadas(a, c).length === 2);
      await fimDaResposta(a, c, respostasIniciadas(a, c)[1]);
      await barreira(b);
      assert.deepEqual(sobre({ recebidos: b.recebidos.slice(n) }, c), [], "nothing after sair_conversa");
      // Leaving is not forgetting: the history is still there.
      const h = await sucesso(b, "entrar_conversa", { conversa_id: c });
      assert.equal(h.mensagens.length, 4);
    });

    test("any tab of the conversation can stop the answer; every tab sees it stopped", async () => {
      ctx.upstream.roteiro({ partes: Array.from({ length: 60 }, (_, i) => `${i} `), atraso: 60 });
      const sub = usuario("gui");
      const a = await ctx.abrir(sub);
      const b = await ctx.abrir(sub);
      const r = await sucesso(a, "mensagem_enviada", { conteudo: "longa demais" });
      const c = r.conversa_id;
      await waitFor(a, "resposta_parcial", (d) => d.conversa_id === c);
      const h = await sucesso(b, "entrar_conversa", { conversa_id: c });
      assert.ok(h.resposta_em_andamento);
      assert.deepEqual(await emitAck(b, "cancelar_resposta", { conversa_id: c }), { ok: true, cancelada: true });
      const [evA, fimA] = await fimDaResposta(a, c);
      const [, fimB] = await fimDaResposta(b, c);
      assert.equal(evA, "mensagem_respondida");
      assert.equal(fimA.mensagem.status, "cancelada");
      assert.deepEqual(fimB, fimA);
      assert.equal(textoTransmitido(a, fimA.mensagem.id), fimA.mensagem.conteudo);
    });

    test("closing every tab does not stop the answer; a new tab catches up with apos", async () => {
      const partes = Array.from({ length: 12 }, (_, i) => `${i}. `);
      ctx.upstream.roteiro({ partes, atraso: 80 });
      const sub = usuario("fabi");
      const a = await ctx.abrir(sub);
      const r = await sucesso(a, "mensagem_enviada", { conteudo: "vou fechar a aba" });
      const c = r.conversa_id;
      await waitFor(a, "resposta_parcial", (d) => d.conversa_id === c);
      a.close();
      const n = ctx.upstream.pedidos.findIndex((x) => ultimaDoAluno(x) === "vou fechar a aba");
      const nova = await ctx.abrir(sub);
      const h = await sucesso(nova, "entrar_conversa", { conversa_id: c, apos: r.mensagem.id });
      assert.equal(h.mensagens.length, 1, `only what came after the message the tab held: ${JSON.stringify(h.mensagens)}`);
      const [tutor] = h.mensagens;
      assert.equal(tutor.papel, "tutor");
      let final;
      if (tutor.status === "gerando") {
        assert.equal(h.resposta_em_andamento?.mensagem_id, tutor.id);
        const [ev, fim] = await fimDaResposta(nova, c, tutor.id);
        assert.equal(ev, "mensagem_respondida");
        assert.equal(h.resposta_em_andamento.conteudo + parciais(nova, tutor.id).map((p) => p.delta).join(""), fim.mensagem.conteudo);
        final = fim.mensagem;
      } else {
        final = tutor;
      }
      assert.equal(final.status, "completa");
      assert.equal(final.conteudo, partes.join(""), "the whole answer, as if the tab had stayed");
      await ctx.upstream.ate(() => ctx.upstream.desfechos[n] !== "andamento");
      assert.equal(ctx.upstream.desfechos[n], "fim", "the model's stream was read to its end");
    });
  });
}
