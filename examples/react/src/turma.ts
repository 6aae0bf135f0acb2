// The pure part of the class view's state: the rows in order, and how a page, a refresh or a
// live event changes them.
import type { EvConversaAtualizada, ResumoConversa } from "./protocol";

/** Most recently active first (`atualizada_em`, then id, descending), as the server pages. */
export function ordenar(linhas: ResumoConversa[]): ResumoConversa[] {
  return [...linhas].sort((a, b) => {
    const d = Date.parse(b.atualizada_em) - Date.parse(a.atualizada_em);
    return d !== 0 ? d : b.id < a.id ? -1 : b.id > a.id ? 1 : 0;
  });
}

/** The rows with `novas` in them: a row already there is replaced when `substituir` (a
 * refresh, fresher than what is on screen), kept otherwise (a later page, older than the
 * live updates the row got). */
export function incluir(linhas: ResumoConversa[], novas: ResumoConversa[], substituir: boolean): ResumoConversa[] {
  const porId = new Map(linhas.map((l) => [l.id, l]));
  for (const n of novas) if (substituir || !porId.has(n.id)) porId.set(n.id, n);
  return ordenar([...porId.values()]);
}

/** A live event applied at once to its row (if on screen): whether it is answering, and
 * its last activity, which moves it up. The counts come with the refresh that follows. */
export function aplicarEvento(linhas: ResumoConversa[], e: EvConversaAtualizada): ResumoConversa[] {
  const linha = linhas.find((l) => l.id === e.conversa_id);
  if (!linha) return linhas;
  const maisRecente = Date.parse(e.atualizada_em) > Date.parse(linha.atualizada_em);
  const nova = { ...linha, gerando: e.gerando, atualizada_em: maisRecente ? e.atualizada_em : linha.atualizada_em };
  return ordenar(linhas.map((l) => (l === linha ? nova : l)));
}

/** `ids` in groups the server takes in one `listar_turma` (at most 100). */
export function emGrupos(ids: string[], tamanho = 100): string[][] {
  const grupos: string[][] = [];
  for (let i = 0; i < ids.length; i += tamanho) grupos.push(ids.slice(i, i + tamanho));
  return grupos;
}
