//! How many sockets each user has open, so one user cannot hold an unbounded number.
use std::{
    collections::HashMap,
    sync::{Arc, Mutex},
};

pub struct Conexoes {
    max_por_usuario: usize,
    por_usuario: Mutex<HashMap<String, usize>>,
}

/// One open socket's place; giving it back (dropping it) frees the place.
pub struct Vaga {
    conexoes: Arc<Conexoes>,
    usuario: String,
}

impl Conexoes {
    pub fn new(max_por_usuario: usize) -> Arc<Self> {
        Arc::new(Self {
            max_por_usuario,
            por_usuario: Mutex::new(HashMap::new()),
        })
    }

    pub fn reservar(self: &Arc<Self>, usuario: &str) -> Option<Arc<Vaga>> {
        let mut m = self.por_usuario.lock().unwrap_or_else(|e| e.into_inner());
        let n = m.entry(usuario.to_owned()).or_insert(0);
        if *n >= self.max_por_usuario {
            return None;
        }
        *n += 1;
        Some(Arc::new(Vaga {
            conexoes: Arc::clone(self),
            usuario: usuario.to_owned(),
        }))
    }
}

impl Drop for Vaga {
    fn drop(&mut self) {
        let mut m = self
            .conexoes
            .por_usuario
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        if let Some(n) = m.get_mut(&self.usuario) {
            *n -= 1;
            if *n == 0 {
                m.remove(&self.usuario);
            }
        }
    }
}
