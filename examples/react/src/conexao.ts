// The socket: one per logged-in token, to the page's own origin (the server serves the app;
// the Vite dev server proxies), with the connection state the UI shows.
import { useEffect, useState } from "react";
import { io, type Socket } from "socket.io-client";

import type { ClienteParaServidor, ServidorParaCliente } from "./protocol";

export type TutorSocket = Socket<ServidorParaCliente, ClienteParaServidor>;
export type EstadoConexao = "conectando" | "conectado" | "reconectando" | "recusado";

const PRAZO_ACK_MS = 15_000;

export function useConexao(token: string) {
  const [socket, setSocket] = useState<TutorSocket | null>(null);
  const [estado, setEstado] = useState<EstadoConexao>("conectando");

  useEffect(() => {
    const s: TutorSocket = io({ auth: { token }, ackTimeout: PRAZO_ACK_MS });
    setEstado("conectando");
    s.on("connect", () => setEstado("conectado"));
    s.on("disconnect", (motivo) => {
      setEstado("reconectando");
      // The server closed this socket (a tab that fell behind, an expired token, a
      // shutdown): socket.io does not retry that by itself. Reconnect and catch up; an
      // expired token then ends on `nao_autorizado`.
      if (motivo === "io server disconnect") s.connect();
    });
    s.on("connect_error", (e) => {
      if (e.message === "nao_autorizado") {
        setEstado("recusado");
        s.close();
      } else {
        setEstado("reconectando");
      }
    });
    setSocket(s);
    return () => {
      s.close();
      setSocket(null);
    };
  }, [token]);

  return { socket, estado };
}

/** Emits with an ack and a timeout; a timeout reads as a readable error. */
export async function pedir<R>(
  socket: TutorSocket,
  emitir: (s: TutorSocket) => Promise<R>,
): Promise<R | { ok: false; erro: { codigo: "interno"; mensagem: string } }> {
  try {
    return await emitir(socket);
  } catch {
    return { ok: false, erro: { codigo: "interno", mensagem: "O servidor não respondeu a tempo." } };
  }
}
