//! The fixed words a message row holds, each defined once with its wire text (PROTOCOL.md
//! `Mensagem.papel`, `Mensagem.status`, `erro_resposta.codigo`): the database column, the
//! JSON and the code all use these types, so a misspelled word does not compile, and a
//! `match` on them is exhaustive. The text is each variant's `string_value`; serde's
//! `snake_case` of the variant's name gives the same (a test holds them together).
use schemars::JsonSchema;
use sea_orm::entity::prelude::*;
use serde::{Deserialize, Serialize};

/// Who wrote a message.
#[derive(
    Clone,
    Copy,
    Debug,
    PartialEq,
    Eq,
    Hash,
    EnumIter,
    DeriveActiveEnum,
    Serialize,
    Deserialize,
    JsonSchema,
)]
#[sea_orm(rs_type = "String", db_type = "String(StringLen::N(16))")]
#[serde(rename_all = "snake_case")]
pub enum Autor {
    #[sea_orm(string_value = "aluno")]
    Aluno,
    #[sea_orm(string_value = "tutor")]
    Tutor,
}

/// Where a message stands: a student's is always `completa`; an answer is `gerando` while
/// it streams, then ends in one of the other three.
#[derive(
    Clone,
    Copy,
    Debug,
    PartialEq,
    Eq,
    Hash,
    EnumIter,
    DeriveActiveEnum,
    Serialize,
    Deserialize,
    JsonSchema,
)]
#[sea_orm(rs_type = "String", db_type = "String(StringLen::N(16))")]
#[serde(rename_all = "snake_case")]
pub enum Status {
    #[sea_orm(string_value = "completa")]
    Completa,
    #[sea_orm(string_value = "gerando")]
    Gerando,
    #[sea_orm(string_value = "erro")]
    Erro,
    #[sea_orm(string_value = "cancelada")]
    Cancelada,
}

/// Why an answer ended as `erro` (its row's `erro`, and `erro_resposta.codigo`).
#[derive(
    Clone,
    Copy,
    Debug,
    PartialEq,
    Eq,
    Hash,
    EnumIter,
    DeriveActiveEnum,
    Serialize,
    Deserialize,
    JsonSchema,
)]
#[sea_orm(rs_type = "String", db_type = "String(StringLen::N(32))")]
#[serde(rename_all = "snake_case")]
pub enum CodigoResposta {
    /// The model could not be reached, or failed, after the retries.
    #[sea_orm(string_value = "modelo_indisponivel")]
    ModeloIndisponivel,
    /// The model refused for its own rate limit, after the retries.
    #[sea_orm(string_value = "limite_excedido")]
    LimiteExcedido,
    /// The server stopped (or the process answering died) while the answer streamed.
    #[sea_orm(string_value = "interrompida")]
    Interrompida,
    /// The answer could not be stored.
    #[sea_orm(string_value = "indisponivel")]
    Indisponivel,
}

/// Logs and messages show the wire text.
macro_rules! exibir_como_texto {
    ($($t:ty),*) => {$(
        impl std::fmt::Display for $t {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(&self.to_value())
            }
        }
    )*};
}
exibir_como_texto!(Autor, Status, CodigoResposta);

#[cfg(test)]
mod tests {
    use super::*;
    use sea_orm::Iterable;

    /// The database text, the JSON text and the logged text of every word are one string.
    #[test]
    fn each_word_has_one_text_in_the_database_and_on_the_wire() {
        fn iguais<T: ActiveEnum<Value = String> + Serialize + Iterable + std::fmt::Display>() {
            for v in T::iter() {
                let json = serde_json::to_value(&v).unwrap();
                assert_eq!(json.as_str(), Some(v.to_value().as_str()));
                assert_eq!(v.to_string(), v.to_value(), "what logs show");
                let volta: T = T::try_from_value(&v.to_value()).unwrap();
                assert_eq!(volta.to_value(), v.to_value());
            }
        }
        iguais::<Autor>();
        iguais::<Status>();
        iguais::<CodigoResposta>();
    }
}
