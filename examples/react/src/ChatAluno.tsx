// A student's side: their conversations beside the open one, where they ask the tutor.
import { useCallback, useEffect, useState } from "react";

import type { TutorSocket } from "./conexao";
import { ConversaView } from "./ConversaView";
import { useConversaNoEndereco } from "./endereco";
import { ListaConversas } from "./ListaConversas";
import type { Conversa } from "./protocol";

export function ChatAluno({ socket }: { socket: TutorSocket }) {
  const [conversas, setConversas] = useState<Conversa[]>([]);
  const [atual, setAtual] = useConversaNoEndereco();

  const carregarLista = useCallback(async () => {
    try {
      const r = await socket.timeout(15_000).emitWithAck("listar_conversas", {});
      if (r.ok) setConversas(r.conversas);
    } catch {
      // The list comes back on the next connect.
    }
  }, [socket]);

  useEffect(() => {
    const aoConectar = () => void carregarLista();
    const aoCriar = ({ conversa }: { conversa: Conversa }) =>
      setConversas((cs) => [conversa, ...cs.filter((c) => c.id !== conversa.id)]);
    socket.on("connect", aoConectar);
    socket.on("conversa_criada", aoCriar);
    if (socket.connected) aoConectar();
    return () => {
      socket.off("connect", aoConectar);
      socket.off("conversa_criada", aoCriar);
    };
  }, [socket, carregarLista]);

  // After a send of this tab: a conversation it created is selected (the server tells only
  // the user's other tabs with `conversa_criada`), and the list is fetched again so the most
  // recently active conversation comes first.
  const enviada = useCallback(
    (id: string, nova: boolean) => {
      if (nova) setAtual(id);
      void carregarLista();
    },
    [carregarLista, setAtual],
  );

  return (
    <div className="corpo">
      <ListaConversas conversas={conversas} atual={atual} onEscolher={setAtual} onNova={() => setAtual(null)} />
      <ConversaView socket={socket} conversaId={atual} modo="aluno" onEnviada={enviada} />
    </div>
  );
}
