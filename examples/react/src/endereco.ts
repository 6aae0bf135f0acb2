// The open conversation lives in the address (#/c/ID), so a reload or a shared link opens it
// again, for a student as for a teacher.
import { useCallback, useEffect, useState } from "react";

function conversaDoEndereco(): string | null {
  const m = location.hash.match(/^#\/c\/([0-9a-f-]{36})$/i);
  return m ? m[1] : null;
}

/** The conversation in the address, and a setter that writes it there. */
export function useConversaNoEndereco(): [string | null, (id: string | null) => void] {
  const [atual, setAtualEstado] = useState<string | null>(() => conversaDoEndereco());
  const setAtual = useCallback((id: string | null) => {
    setAtualEstado(id);
    history.replaceState(null, "", id ? `#/c/${id}` : "#/");
  }, []);

  // A link to a conversation opened in this tab (or back/forward) switches to it.
  useEffect(() => {
    const aoMudar = () => setAtualEstado(conversaDoEndereco());
    window.addEventListener("hashchange", aoMudar);
    return () => window.removeEventListener("hashchange", aoMudar);
  }, []);

  return [atual, setAtual];
}
