// The wire types of PROTOCOL.md, defined once for the whole app.

export type Papel = "aluno" | "tutor";
export type Status = "completa" | "gerando" | "erro" | "cancelada";

export interface Mensagem {
  id: string;
  conversa_id: string;
  papel: Papel;
  conteudo: string;
  status: Status;
  criada_em: string;
  id_cliente?: string;
}

export interface Conversa {
  id: string;
  titulo: string;
  criada_em: string;
  atualizada_em: string;
}

export type CodigoErro =
  | "entrada_invalida"
  | "nao_encontrada"
  | "proibido"
  | "limite_excedido"
  | "indisponivel"
  | "interno"
  | "modelo_indisponivel"
  | "interrompida";

export interface Erro {
  codigo: CodigoErro;
  mensagem: string;
  tentar_em_ms?: number;
}

export type Ack<T> = ({ ok: true } & T) | { ok: false; erro: Erro };

export interface AckEnviada {
  conversa_id: string;
  mensagem: Mensagem;
}
export interface AckEntrar {
  conversa: Conversa;
  mensagens: Mensagem[];
  resposta_em_andamento?: { mensagem_id: string; conteudo: string };
}
export interface AckListar {
  conversas: Conversa[];
}
export interface AckCancelar {
  cancelada: boolean;
}

export interface EvMensagem {
  conversa_id: string;
  mensagem: Mensagem;
}
export interface EvRespostaIniciada {
  conversa_id: string;
  mensagem_id: string;
}
export interface EvRespostaParcial {
  conversa_id: string;
  mensagem_id: string;
  indice: number;
  delta: string;
}
export interface EvErroResposta {
  conversa_id: string;
  mensagem_id: string;
  erro: Erro;
}
export interface EvConversaCriada {
  conversa: Conversa;
}

export interface ServidorParaCliente {
  mensagem_recebida: (e: EvMensagem) => void;
  resposta_iniciada: (e: EvRespostaIniciada) => void;
  resposta_parcial: (e: EvRespostaParcial) => void;
  mensagem_respondida: (e: EvMensagem) => void;
  erro_resposta: (e: EvErroResposta) => void;
  conversa_criada: (e: EvConversaCriada) => void;
}

export interface ClienteParaServidor {
  mensagem_enviada: (
    p: { conversa_id?: string; conteudo: string; id_cliente?: string },
    ack: (r: Ack<AckEnviada>) => void,
  ) => void;
  entrar_conversa: (p: { conversa_id: string; apos?: string }, ack: (r: Ack<AckEntrar>) => void) => void;
  sair_conversa: (p: { conversa_id: string }, ack: (r: Ack<object>) => void) => void;
  listar_conversas: (p: { usuario?: string }, ack: (r: Ack<AckListar>) => void) => void;
  cancelar_resposta: (p: { conversa_id: string }, ack: (r: Ack<AckCancelar>) => void) => void;
}
