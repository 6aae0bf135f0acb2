// The class view's live state: every student's conversations, a page at a time, kept up to
// date by `conversa_atualizada` while the socket follows the class (`acompanhar_turma`, again
// on every reconnect).
import { useCallback, useEffect, useRef, useState } from "react";

import type { TutorSocket } from "./conexao";
import type { Ack, AckListarTurma, EvConversaAtualizada, ResumoConversa } from "./protocol";
import { aplicarEvento, emGrupos, incluir } from "./turma";

const PRAZO_MS = 15_000;
/** Bursts of events (a whole class streaming) become at most one refresh this often. */
const INTERVALO_REFRESCO_MS = 300;

export interface Turma {
  linhas: ResumoConversa[];
  /** The server's daily budget per student; 0: none. */
  tokensPorDia: number;
  /** The first page has come. */
  carregada: boolean;
  /** There are older conversations to page in. */
  temMais: boolean;
  carregandoMais: boolean;
  erro: string | null;
  carregarMais: () => void;
  /** Fetch this conversation's row again, with the next coalesced refresh (a row not on
   * screen joins the list). */
  atualizar: (id: string) => void;
}

export function useTurma(socket: TutorSocket): Turma {
  const [linhas, setLinhas] = useState<ResumoConversa[]>([]);
  const [tokensPorDia, setTokensPorDia] = useState(0);
  const [carregada, setCarregada] = useState(false);
  const [cursor, setCursor] = useState<string | undefined>();
  const [carregandoMais, setCarregandoMais] = useState(false);
  const [erro, setErro] = useState<string | null>(null);

  const linhasRef = useRef(linhas);
  linhasRef.current = linhas;
  const carregadaRef = useRef(false);
  // The ids waiting for the next refresh, and when the last one went out.
  const pendentes = useRef(new Set<string>());
  const espera = useRef<ReturnType<typeof setTimeout> | null>(null);
  const ultimoRefresco = useRef(0);
  // The latest refresh asked for each id: an older answer that arrives later is dropped.
  const pedidoDe = useRef(new Map<string, number>());
  const pedidos = useRef(0);

  const listar = useCallback(
    async (p: { cursor?: string; conversa_ids?: string[] }): Promise<Ack<AckListarTurma> | null> => {
      try {
        const r = await socket.timeout(PRAZO_MS).emitWithAck("listar_turma", p);
        if (!r.ok) setErro(r.erro.mensagem);
        return r;
      } catch {
        setErro("O servidor não respondeu a tempo.");
        return null;
      }
    },
    [socket],
  );

  const refrescar = useCallback(
    async (ids: string[]) => {
      const n = ++pedidos.current;
      for (const id of ids) pedidoDe.current.set(id, n);
      const r = await listar({ conversa_ids: ids });
      if (!r?.ok) return;
      const frescas = r.conversas.filter((c) => pedidoDe.current.get(c.id) === n);
      setTokensPorDia(r.tokens_por_dia);
      setLinhas((ls) => incluir(ls, frescas, true));
    },
    [listar],
  );

  const descarregar = useCallback(() => {
    espera.current = null;
    ultimoRefresco.current = Date.now();
    const ids = [...pendentes.current];
    pendentes.current.clear();
    for (const grupo of emGrupos(ids)) void refrescar(grupo);
  }, [refrescar]);

  const atualizar = useCallback(
    (id: string) => {
      pendentes.current.add(id);
      if (espera.current) return;
      const falta = Math.max(0, ultimoRefresco.current + INTERVALO_REFRESCO_MS - Date.now());
      espera.current = setTimeout(descarregar, falta);
    },
    [descarregar],
  );

  useEffect(() => {
    const aoConectar = async () => {
      // Follow first, then list: nothing that happens in between is missed.
      try {
        const r = await socket.timeout(PRAZO_MS).emitWithAck("acompanhar_turma", {});
        setErro(r.ok ? null : r.erro.mensagem);
        if (!r.ok) return;
      } catch {
        setErro("O servidor não respondeu a tempo.");
        return;
      }
      const r = await listar({});
      if (!r?.ok) return;
      setTokensPorDia(r.tokens_por_dia);
      if (!carregadaRef.current) {
        carregadaRef.current = true;
        setCarregada(true);
        setCursor(r.proximo_cursor);
        setLinhas((ls) => incluir(ls, r.conversas, true));
        return;
      }
      // A reconnect: the first page again, and the rows further down that were on screen
      // (events were missed while away).
      const primeira = new Set(r.conversas.map((c) => c.id));
      setLinhas((ls) => incluir(ls, r.conversas, true));
      for (const l of linhasRef.current) if (!primeira.has(l.id)) atualizar(l.id);
    };
    const aoAtualizar = (e: EvConversaAtualizada) => {
      setLinhas((ls) => aplicarEvento(ls, e));
      atualizar(e.conversa_id);
    };
    socket.on("connect", aoConectar);
    socket.on("conversa_atualizada", aoAtualizar);
    if (socket.connected) void aoConectar();
    return () => {
      socket.off("connect", aoConectar);
      socket.off("conversa_atualizada", aoAtualizar);
      if (espera.current) clearTimeout(espera.current);
      espera.current = null;
      if (socket.connected) socket.emit("deixar_turma", {}, () => {});
    };
  }, [socket, listar, atualizar]);

  const carregarMais = useCallback(async () => {
    if (!cursor) return;
    setCarregandoMais(true);
    const r = await listar({ cursor });
    setCarregandoMais(false);
    if (!r?.ok) return;
    setCursor(r.proximo_cursor);
    setTokensPorDia(r.tokens_por_dia);
    // Rows already on screen are kept: the live events made them fresher than the page.
    setLinhas((ls) => incluir(ls, r.conversas, false));
  }, [cursor, listar]);

  return {
    linhas, tokensPorDia, carregada, temMais: cursor !== undefined, carregandoMais, erro,
    carregarMais: () => void carregarMais(), atualizar,
  };
}
