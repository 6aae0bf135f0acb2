// Benchmark, not a test: how a fast model's pieces reach a tab. A model that sends N pieces
// back to back must not become N packets to every socket (the 128/256-packet buffers of a
// slow tab would overflow); the server coalesces to at most one `resposta_parcial` per 30 ms.
//   node bench_coalescencia.mjs [pieces]          (needs target/debug/tutor or TUTOR_BIN)
import { ack, connect, fakeUpstream, fimDaResposta, startServer, textoTransmitido } from "./harness.mjs";

const n = Number(process.argv[2] ?? 5000);
const upstream = await fakeUpstream();
const server = await startServer({ upstream });
try {
  const a = await connect(server.url, server.token("bench"), { transports: ["websocket"] });
  // Back to back, then about one piece per event-loop tick, then a model as fast as a person reads.
  for (const [atraso, pecas] of [[0, n], [1, Math.min(n, 2000)], [20, 200]]) {
    upstream.roteiro({ partes: Array.from({ length: pecas }, (_, i) => `${i % 10}`), atraso });
    a.recebidos.length = 0;
    const t0 = performance.now();
    const r = await ack(a, "mensagem_enviada", { conteudo: `bench ${atraso}` });
    const [, fim] = await fimDaResposta(a, r.conversa_id);
    const ms = performance.now() - t0;
    const pacotes = a.recebidos.filter(([e]) => e === "resposta_parcial").length;
    const ok = textoTransmitido(a, fim.mensagem.id) === fim.mensagem.conteudo && fim.mensagem.conteudo.length === pecas;
    console.log(`${pecas} pieces, ${atraso} ms apart: ${pacotes} resposta_parcial packets in ${ms.toFixed(0)} ms (text intact: ${ok})`);
  }
  a.close();
} finally {
  await server.stop();
  await upstream.close();
}
