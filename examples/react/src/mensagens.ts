// The pure part of a conversation's state: merging messages by id, where a reconnecting tab
// resumes, and putting an answer's pieces in order.
import type { Mensagem } from "./protocol";

/** Where the stream of one answer is: the next `indice` expected (null: take the first
 * piece that comes, as after joining mid-answer) and pieces that came early. */
export interface Fluxo {
  proximo: number | null;
  adiantados: Map<number, string>;
}

/** Adds or replaces messages by id, keeping conversation order. */
export function mesclar(atuais: Mensagem[], novas: Mensagem[]): Mensagem[] {
  const resultado = [...atuais];
  for (const m of novas) {
    const i = resultado.findIndex((x) => x.id === m.id);
    if (i >= 0) resultado[i] = m;
    else resultado.push(m);
  }
  return resultado;
}

/** The `apos` of a reconnecting tab: the last message before the first one still
 * `gerando`. (A student message stored while an answer streamed comes after that answer: a
 * later final message would skip the answer's end.) */
export function ultimoFinal(ms: Mensagem[]): string | undefined {
  const i = ms.findIndex((m) => m.status === "gerando");
  const finais = i < 0 ? ms : ms.slice(0, i);
  return finais.at(-1)?.id;
}

/** Takes piece `indice` of a stream; returns the text now ready to append, in `indice`
 * order (empty while a piece before it is missing). */
export function receberParte(f: Fluxo, indice: number, delta: string): string {
  f.adiantados.set(indice, delta);
  if (f.proximo === null) f.proximo = indice;
  let pronto = "";
  while (f.adiantados.has(f.proximo)) {
    pronto += f.adiantados.get(f.proximo);
    f.adiantados.delete(f.proximo);
    f.proximo += 1;
  }
  return pronto;
}

/** The tutor's answer as it begins, before its first piece. */
export function respostaNova(id: string, conversa_id: string): Mensagem {
  return {
    id, conversa_id, papel: "tutor", conteudo: "", status: "gerando",
    criada_em: new Date().toISOString(),
  };
}

/** Appends `texto` to answer `id`, adding the answer when this tab had not seen it begin. */
export function acrescentar(ms: Mensagem[], id: string, conversa_id: string, texto: string): Mensagem[] {
  const base = ms.some((m) => m.id === id) ? ms : [...ms, respostaNova(id, conversa_id)];
  return base.map((m) => (m.id === id ? { ...m, conteudo: m.conteudo + texto } : m));
}

/** The history of an `entrar_conversa` ack, the streaming answer holding the text so far. */
export function comAndamento(
  ms: Mensagem[],
  andamento?: { mensagem_id: string; conteudo: string },
): Mensagem[] {
  if (!andamento) return ms;
  return ms.map((m) => (m.id === andamento.mensagem_id ? { ...m, conteudo: andamento.conteudo } : m));
}
