// Who may connect, and who sees what, with the stock client.
import assert from "node:assert/strict";
import { after, before, test } from "node:test";

import { ack, connect, fakeUpstream, fimDaResposta, startServer, token, TRANSPORTES } from "./harness.mjs";

let upstream, server;
before(async () => {
  upstream = await fakeUpstream();
  server = await startServer(upstream);
});
after(async () => {
  await server?.stop();
  await upstream?.close();
});

test("bad tokens get connect_error nao_autorizado on every transport", async () => {
  const agora = Math.floor(Date.now() / 1000);
  const ruins = {
    "no token": undefined,
    garbage: "isto-nao-e-jwt",
    "wrong secret": token("outro-segredo", { sub: "ana" }),
    expired: token(server.segredo, { sub: "ana", exp: agora - 60 }),
    HS512: token(server.segredo, { sub: "ana" }, { alg: "HS512" }),
    "alg none": token(server.segredo, { sub: "ana" }, { alg: "none" }),
    "papel admin": token(server.segredo, { sub: "ana", papel: "admin" }),
  };
  for (const [nome, transporte] of Object.entries(TRANSPORTES)) {
    for (const [caso, t] of Object.entries(ruins)) {
      await assert.rejects(connect(server.url, t, transporte), (e) => e.message === "nao_autorizado", `${nome}: ${caso}`);
    }
  }
});

test("another student's conversation does not exist; a professor reads it but cannot write", async () => {
  const ana = await connect(server.url, server.token("ana"));
  const bia = await connect(server.url, server.token("bia"));
  const prof = await connect(server.url, server.token("prof", { papel: "professor" }));
  const r = await ack(ana, "mensagem_enviada", { conteudo: "só minha" });
  await fimDaResposta(ana, r.conversa_id);
  const c = { conversa_id: r.conversa_id };
  for (const [ev, p] of [
    ["entrar_conversa", c], ["mensagem_enviada", { ...c, conteudo: "x" }], ["cancelar_resposta", c], ["sair_conversa", c],
  ]) {
    const x = await ack(bia, ev, p);
    assert.equal(x.erro?.codigo, "nao_encontrada", ev);
  }
  const lista = await ack(prof, "listar_conversas", { usuario: "ana" });
  assert.equal(lista.conversas[0].id, r.conversa_id);
  const h = await ack(prof, "entrar_conversa", c);
  assert.equal(h.mensagens[0].conteudo, "só minha");
  assert.equal((await ack(prof, "mensagem_enviada", { ...c, conteudo: "x" })).erro.codigo, "proibido");
  assert.equal((await ack(prof, "cancelar_resposta", c)).erro.codigo, "proibido");
  ana.close(); bia.close(); prof.close();
});

test("the handshake Origin is checked: foreign refused, allowed and absent accepted", async () => {
  await assert.rejects(
    connect(server.url, server.token("ana"), { transports: ["polling"], extraHeaders: { Origin: "http://evil.example" } }),
  );
  const bom = await connect(server.url, server.token("ana"), { transports: ["polling"], extraHeaders: { Origin: "http://localhost:5173" } });
  bom.close();
  const sem = await connect(server.url, server.token("ana"), { transports: ["websocket"] });
  sem.close();
});
