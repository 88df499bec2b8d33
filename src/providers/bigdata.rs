//! Bigdata.com Content API, connectors. Facts and sources: `shared/reference/vendor-apis.md` §3
//! and seed 002.
//!
//! - Auth: `X-API-KEY: <key>` on every request.

use super::{ConfigError, Env, EnvVar, Provider, ProviderSpec};
use crate::operation::OperationSpec;
use crate::secret::SecretString;
use crate::upstream::auth::{AuthHeader, Credential, Scheme};

pub static SPEC: ProviderSpec = ProviderSpec {
    provider: Provider::Bigdata,
    id: "bigdata",
    title: "Bigdata.com",
    base_url_var: "BIGDATA_BASE_URL",
    default_base_url: Some("https://api.bigdata.com"),
    env: &[
        EnvVar {
            name: "BIGDATA_BASE_URL",
            help: "API base (default https://api.bigdata.com)",
            secret: false,
        },
        EnvVar {
            name: "BIGDATA_API_KEY",
            help: "API key from the Developer Platform, sent as X-API-KEY",
            secret: true,
        },
    ],
    credential,
    setup: "BIGDATA_API_KEY (BIGDATA_BASE_URL defaults to https://api.bigdata.com)",
    credential_hint: "check BIGDATA_API_KEY",
    code_hint: |_| None,
    operations: OPERATIONS,
};

fn credential(env: &dyn Env) -> Result<Option<Credential>, ConfigError> {
    Ok(env.var("BIGDATA_API_KEY").map(|key| Credential::Static {
        header: AuthHeader {
            name: "x-api-key",
            scheme: Scheme::Raw,
        },
        value: SecretString::new(key),
    }))
}

static OPERATIONS: &[OperationSpec] = &[];
