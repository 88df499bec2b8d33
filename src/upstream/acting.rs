//! Which credential acts in a call (per-user mode): set by the engine for the call's task, read
//! by the provider client's send, which sends nothing in per-user mode when no call set it.

use std::sync::Arc;

use super::auth::Authenticator;
use crate::operation::Provider;

/// Which credential acts in a call, per provider: the caller's own, or the service's.
#[derive(Default)]
pub struct Acting {
    own: Vec<(Provider, Arc<Authenticator>)>,
    /// Providers the service credential may act for in this call.
    service: Vec<Provider>,
}

tokio::task_local! {
    /// The credentials of the call this task runs, when per-user mode is on.
    pub static ACTING: Arc<Acting>;
}

impl Acting {
    /// `Some(Some(own))`, `Some(None)`: the service credential, `None`: nothing may act.
    pub fn for_provider(&self, provider: Provider) -> Option<Option<Arc<Authenticator>>> {
        if let Some((_, a)) = self.own.iter().find(|(p, _)| *p == provider) {
            return Some(Some(a.clone()));
        }
        self.service.contains(&provider).then_some(None)
    }

    /// What the audit line says acted: `own`, `service`, or `own+service` (a call across
    /// platforms where only some are the caller's own).
    pub fn label(&self) -> &'static str {
        match (self.own.is_empty(), self.service.is_empty()) {
            (false, true) => "own",
            (false, false) => "own+service",
            _ => "service",
        }
    }
}

impl Acting {
    /// `provider` acts with this caller's own credential.
    pub fn own(&mut self, provider: Provider, auth: Arc<Authenticator>) {
        self.own.push((provider, auth));
    }

    /// The service credential may act for `provider`.
    pub fn service(&mut self, provider: Provider) {
        self.service.push(provider);
    }
}

/// The service credential for every provider: what acts for callers that are not OAuth
/// subjects (stdio, the static token) when per-user mode is on.
pub fn service(providers: &[Provider]) -> Acting {
    Acting {
        own: Vec::new(),
        service: providers.to_vec(),
    }
}
