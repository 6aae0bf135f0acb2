// Who may connect, and who sees what: bad tokens are refused at the handshake, another
// student's conversation does not exist, a professor reads but does not write, a foreign
// Origin is refused, an expiring token ends the connection.
import assert from "node:assert/strict";
import { describe, test } from "node:test";

import {
  PRAZO, TRANSPORTES, barreira, comServidor, connect, emitAck, fimDaResposta, respostasIniciadas, sucesso, token,
  usuario, waitDisconnect, waitFor,
} from "./harness.mjs";

const agora = () => Math.floor(Date.now() / 1000);

for (const [nome, transporte] of Object.entries(TRANSPORTES)) {
  describe(`autorizacao over ${nome}`, () => {
    const ctx = comServidor(transporte);

    test("bad tokens get connect_error nao_autorizado; a good one connects", async () => {
      const s = ctx.server.secret;
      const ruins = {
        "no token": undefined,
        "empty token": "",
        garbage: "isto-nao-e-jwt",
        "three garbage parts": "a.b.c",
        "wrong secret": token(`${s}x`, { sub: "ana" }),
        expired: token(s, { sub: "ana", exp: agora() - 3600 }),
        "no exp": token(s, { sub: "ana", exp: undefined }),
        "no sub": token(s, { name: "Ana" }),
        "alg none": token(s, { sub: "ana" }, { alg: "none" }),
        HS512: token(s, { sub: "ana" }, { alg: "HS512" }),
        'papel "admin"': token(s, { sub: "ana", papel: "admin" }),
      };
      for (const [caso, t] of Object.entries(ruins)) {
        await assert.rejects(connect(ctx.server.url, t, transporte), (e) => {
          assert.equal(e.message, "nao_autorizado", `${caso}: connect_error says ${e.message}`);
          return true;
        }, caso);
      }
      const bom = await ctx.abrir("ana", { name: "Ana", papel: "aluno" });
      assert.ok(bom.connected);
      const prof = await ctx.abrir("prof", { papel: "professor" });
      assert.ok(prof.connected);
    });

    test("another student's conversation does not exist for them; a professor reads it but cannot write", async () => {
      const sa = usuario("ana");
      const ana = await ctx.abrir(sa);
      const bia = await ctx.abrir(usuario("bia"));
      const prof = await ctx.abrir(usuario("prof"), { papel: "professor" });
      const r = await sucesso(ana, "mensagem_enviada", { conteudo: "só minha" });
      const c = r.conversa_id;
      await fimDaResposta(ana, c);
      const alvo = { conversa_id: c };
      for (const [ev, p] of [
        ["entrar_conversa", alvo], ["entrar_conversa", { ...alvo, apos: r.mensagem.id }],
        ["mensagem_enviada", { ...alvo, conteudo: "intrusa" }], ["cancelar_resposta", alvo], ["sair_conversa", alvo],
      ]) {
        const x = await emitAck(bia, ev, p);
        assert.equal(x.ok, false, `${ev}: ${JSON.stringify(x)}`);
        assert.equal(x.erro?.codigo, "nao_encontrada", `${ev}: ${JSON.stringify(x)}`);
      }
      const listaBia = await emitAck(bia, "listar_conversas", { usuario: sa });
      assert.ok(!listaBia.ok || !listaBia.conversas.some((x) => x.id === c), "a student cannot list another's conversations");
      assert.deepEqual((await sucesso(bia, "listar_conversas", {})).conversas, []);

      const lista = await sucesso(prof, "listar_conversas", { usuario: sa });
      assert.deepEqual(lista.conversas.map((x) => x.id), [c]);
      assert.deepEqual((await sucesso(prof, "listar_conversas", {})).conversas, [], "without usuario: the professor's own");
      const h = await sucesso(prof, "entrar_conversa", alvo);
      assert.deepEqual(h.mensagens[0], r.mensagem);
      assert.equal(h.mensagens.length, 2);
      for (const [ev, p] of [["mensagem_enviada", { ...alvo, conteudo: "do professor" }], ["cancelar_resposta", alvo]]) {
        const x = await emitAck(prof, ev, p);
        assert.equal(x.erro?.codigo, "proibido", `${ev}: ${JSON.stringify(x)}`);
        assert.ok(x.erro.mensagem.length > 0);
      }

      // The professor, in the room, watches the student's next message; the other student does not.
      const r2 = await sucesso(ana, "mensagem_enviada", { ...alvo, conteudo: "segunda" });
      await waitFor(prof, "mensagem_recebida", (d) => d.mensagem.id === r2.mensagem.id);
      await waitFor(ana, "resposta_iniciada", () => respostasIniciadas(ana, c).length === 2);
      const [, fim] = await fimDaResposta(ana, c, respostasIniciadas(ana, c)[1]);
      assert.deepEqual((await fimDaResposta(prof, c, fim.mensagem.id))[1], fim);
      await barreira(bia);
      assert.ok(!bia.recebidos.some(([, d]) => d?.conversa_id === c || d?.conversa?.id === c), "bia never hears of it");
      // In a conversation of their own, a professor is like anyone else.
      const propria = await sucesso(prof, "mensagem_enviada", { conteudo: "do professor, na dele" });
      await fimDaResposta(prof, propria.conversa_id);
      assert.deepEqual(await emitAck(prof, "cancelar_resposta", { conversa_id: propria.conversa_id }), { ok: true, cancelada: false });
      const depois = await sucesso(ana, "entrar_conversa", alvo);
      assert.ok(!depois.mensagens.some((m) => ["intrusa", "do professor"].includes(m.conteudo)), "refused sends stored nothing");
    });

    test("a token that expires while connected ends the connection", async () => {
      const curto = token(ctx.server.secret, { sub: usuario("gil"), exp: agora() + 2 });
      const s = await connect(ctx.server.url, curto, transporte);
      try {
        const motivo = await waitDisconnect(s, PRAZO);
        assert.equal(motivo, "io server disconnect", `disconnected by the server: ${motivo}`);
      } finally {
        s.close();
      }
    });
  });
}

describe("origin", () => {
  const ctx = comServidor();

  for (const [nome, transporte] of Object.entries({ polling: TRANSPORTES.polling, websocket: TRANSPORTES.websocket })) {
    test(`over ${nome}: a foreign Origin is refused, an allowed one and none at all connect`, async () => {
      const tok = ctx.server.token(usuario("ana"));
      await assert.rejects(connect(ctx.server.url, tok, { ...transporte, extraHeaders: { Origin: "http://evil.example" } }),
        "a handshake from http://evil.example");
      const bom = await ctx.abrir(usuario("ana"), {}, { ...transporte, extraHeaders: { Origin: "http://localhost:5173" } });
      assert.ok(bom.connected);
      const r = await sucesso(bom, "mensagem_enviada", { conteudo: "de um navegador permitido" });
      await fimDaResposta(bom, r.conversa_id);
      const sem = await ctx.abrir(usuario("ana"), {}, transporte);
      assert.ok(sem.connected);
    });
  }
});

describe("the log", () => {
  const ctx = comServidor();

  test("never shows the secret, a token or what a student wrote", async () => {
    const sub = usuario("sigilo");
    const tok = ctx.server.token(sub);
    const s = await connect(ctx.server.url, tok);
    try {
      const segredoDoAluno = "meu-segredo-pessoal-7731";
      const r = await sucesso(s, "mensagem_enviada", { conteudo: `minha dúvida ${segredoDoAluno}` });
      await fimDaResposta(s, r.conversa_id);
      await assert.rejects(connect(ctx.server.url, token("outro", { sub })));
      await barreira(s);
      const logs = ctx.server.logs;
      assert.ok(logs.length > 0);
      assert.ok(!logs.includes(ctx.server.secret), "the JWT secret");
      assert.ok(!logs.includes(tok.split(".")[2]), "a token");
      assert.ok(!logs.includes(segredoDoAluno), "the student's text");
    } finally {
      s.close();
    }
  });
});
