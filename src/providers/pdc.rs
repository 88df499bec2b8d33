//! Pentaho Data Catalog public API v1, data sources and jobs. Facts and sources:
//! `shared/reference/vendor-apis.md` §2 and seed 001.
//!
//! - Auth: `POST /auth`, form-encoded `username`, `password`, `client_id=pdc-client`,
//!   `grant_type=password`, `scope=openid profile email` → `data.accessToken`, sent as Bearer;
//!   or `PDC_ACCESS_TOKEN` as is.

use super::{ConfigError, Env, EnvVar, Provider, ProviderSpec, pair};
use crate::operation::{Method, OperationSpec};
use crate::secret::SecretString;
use crate::upstream::auth::{AuthHeader, Credential, ExchangeSend, Scheme, TokenExchange};

pub static SPEC: ProviderSpec = ProviderSpec {
    provider: Provider::Pdc,
    id: "pdc",
    title: "Pentaho Data Catalog",
    base_url_var: "PDC_BASE_URL",
    default_base_url: None,
    env: &[
        EnvVar {
            name: "PDC_BASE_URL",
            help: "public API base, e.g. https://pdc.acme.com/api/public/v1 (required)",
            secret: false,
        },
        EnvVar {
            name: "PDC_USERNAME",
            help: "with PDC_PASSWORD: password grant at POST /auth",
            secret: false,
        },
        EnvVar {
            name: "PDC_PASSWORD",
            help: "with PDC_USERNAME",
            secret: true,
        },
        EnvVar {
            name: "PDC_ACCESS_TOKEN",
            help: "or: an access token used as is",
            secret: true,
        },
    ],
    credential,
    setup: "PDC_BASE_URL + PDC_USERNAME + PDC_PASSWORD (or PDC_ACCESS_TOKEN)",
    credential_hint: "check PDC_USERNAME/PDC_PASSWORD (or PDC_ACCESS_TOKEN)",
    code_hint: |_| None,
    operations: OPERATIONS,
};

fn credential(env: &dyn Env) -> Result<Option<Credential>, ConfigError> {
    let header = AuthHeader::authorization(Scheme::Bearer);
    if let Some((username, password)) = pair(env, "PDC_USERNAME", "PDC_PASSWORD")? {
        return Ok(Some(Credential::Exchange {
            exchange: TokenExchange {
                method: Method::Post,
                path: "/auth",
                send: ExchangeSend::Form(vec![
                    ("username", SecretString::new(username)),
                    ("password", SecretString::new(password)),
                    ("client_id", SecretString::new("pdc-client")),
                    ("grant_type", SecretString::new("password")),
                    ("scope", SecretString::new("openid profile email")),
                ]),
                token_pointer: "/data/accessToken",
            },
            header,
        }));
    }
    Ok(env.var("PDC_ACCESS_TOKEN").map(|token| Credential::Static {
        header,
        value: SecretString::new(token),
    }))
}

static OPERATIONS: &[OperationSpec] = &[];
