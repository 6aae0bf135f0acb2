//! The demo tutor: answers without any model, so the server runs everything else with no key
//! and no network. Every answer says that it is a demo.
use std::time::Duration;

use futures::StreamExt;

use super::{ErroModelo, Fluxo, LinhaPrompt, ModeloChat, Papel, Parte};

pub struct TutorDemo {
    atraso: Duration,
}

impl TutorDemo {
    pub fn new(atraso: Duration) -> Self {
        Self { atraso }
    }
}

/// The reply, built from how many questions the student has asked (never echoing their text,
/// which might be long or private).
fn resposta(perguntas: usize) -> String {
    format!(
        "Olá! Eu sou o tutor de demonstração: este servidor ainda não está ligado a um modelo \
         de IA, por isso esta resposta é um exemplo. Esta é a sua pergunta número {perguntas} \
         nesta conversa. Para respostas de verdade, configure OPENAI_API_KEY ou \
         OPENAI_BASE_URL (por exemplo, um Ollama local) e reinicie o servidor."
    )
}

#[async_trait::async_trait]
impl ModeloChat for TutorDemo {
    async fn gerar(&self, prompt: Vec<LinhaPrompt>) -> Result<Fluxo, ErroModelo> {
        let perguntas = prompt.iter().filter(|l| l.papel == Papel::Usuario).count();
        let texto = resposta(perguntas);
        // Word by word, keeping the spaces, so the pieces concatenate to the whole text.
        let pedacos: Vec<String> = texto.split_inclusive(' ').map(str::to_owned).collect();
        let atraso = self.atraso;
        Ok(futures::stream::iter(pedacos)
            .then(move |p| async move {
                tokio::time::sleep(atraso).await;
                Ok(Parte::Texto(p))
            })
            .boxed())
    }
}
