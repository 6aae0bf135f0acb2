// The socket: one per login, to the page's own origin (the server serves the app; the Vite
// dev server proxies), with the connection state the UI shows.
import { useEffect, useRef, useState } from "react";
import { io, type Socket } from "socket.io-client";

import type { ClienteParaServidor, ServidorParaCliente } from "./protocol";

export type TutorSocket = Socket<ServidorParaCliente, ClienteParaServidor>;
export type EstadoConexao = "conectando" | "conectado" | "reconectando" | "recusado";

const PRAZO_ACK_MS = 15_000;
/** Pause before reconnecting a socket the server closed on purpose. */
const PAUSA_RECONEXAO_MS = 1_000;
/** Pause before trying again after the server refused the connection for another reason
 * than the token. */
const PAUSA_RECUSA_MS = 5_000;

/**
 * `renovar` may hand out a fresh token when the server refuses the current one (a demo
 * guest's token after the server restarted with a new random secret, or an expired one);
 * without it, or when it has none, the state becomes `recusado`.
 */
export function useConexao(token: string, renovar?: () => Promise<string | null>) {
  const [socket, setSocket] = useState<TutorSocket | null>(null);
  const [estado, setEstado] = useState<EstadoConexao>("conectando");
  const renovarRef = useRef(renovar);
  renovarRef.current = renovar;

  useEffect(() => {
    let atual = token;
    let encerrado = false;
    let espera: ReturnType<typeof setTimeout> | undefined;
    // One renewal per refusal: a fresh token refused again is final.
    let renovou = false;
    // `auth` as a function is asked again on every (re)connection attempt.
    const s: TutorSocket = io({ auth: (cb) => cb({ token: atual }), ackTimeout: PRAZO_ACK_MS });
    setEstado("conectando");
    s.on("connect", () => {
      renovou = false;
      setEstado("conectado");
    });
    s.on("disconnect", (motivo) => {
      if (encerrado) return;
      setEstado("reconectando");
      // socket.io-client retries by itself after a network failure, but not after the
      // server disconnected the socket (token expired, or the tab fell behind the stream):
      // reconnect, then the conversation view catches up.
      if (motivo === "io server disconnect") {
        espera = setTimeout(() => s.connect(), PAUSA_RECONEXAO_MS);
      }
    });
    s.on("connect_error", async (e) => {
      if (e.message !== "nao_autorizado") {
        setEstado("reconectando");
        // A network failure is retried by socket.io-client (`active`); a refusal by the
        // server (a limit, say) is not: try again in a while.
        if (!s.active) espera = setTimeout(() => s.connect(), PAUSA_RECUSA_MS);
        return;
      }
      const novo = renovou ? null : await renovarRef.current?.().catch(() => null);
      if (encerrado) return;
      if (novo) {
        renovou = true;
        atual = novo;
        s.connect();
      } else {
        setEstado("recusado");
        s.disconnect();
      }
    });
    setSocket(s);
    return () => {
      encerrado = true;
      clearTimeout(espera);
      s.close();
      setSocket(null);
    };
  }, [token]);

  return { socket, estado };
}
