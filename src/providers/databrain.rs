//! DataBrain datasource API v2. Facts and sources: `shared/reference/vendor-apis.md` §4 and
//! seed 003.
//!
//! - Auth: `Authorization: Bearer <service token>` (Settings → Service Tokens).

use super::{ConfigError, Env, EnvVar, Provider, ProviderSpec};
use crate::operation::OperationSpec;
use crate::secret::SecretString;
use crate::upstream::auth::{AuthHeader, Credential, Scheme};

pub static SPEC: ProviderSpec = ProviderSpec {
    provider: Provider::DataBrain,
    id: "databrain",
    title: "DataBrain",
    base_url_var: "DATABRAIN_BASE_URL",
    default_base_url: Some("https://api.usedatabrain.com"),
    env: &[
        EnvVar {
            name: "DATABRAIN_BASE_URL",
            help: "API base (default https://api.usedatabrain.com; self-hosted: your URL)",
            secret: false,
        },
        EnvVar {
            name: "DATABRAIN_SERVICE_TOKEN",
            help: "service token from Settings → Service Tokens (not a data-app API key)",
            secret: true,
        },
    ],
    credential,
    setup: "DATABRAIN_SERVICE_TOKEN (DATABRAIN_BASE_URL defaults to https://api.usedatabrain.com)",
    credential_hint: "check DATABRAIN_SERVICE_TOKEN (a service token, not a data-app API key)",
    code_hint: |_| None,
    operations: OPERATIONS,
};

fn credential(env: &dyn Env) -> Result<Option<Credential>, ConfigError> {
    Ok(env
        .var("DATABRAIN_SERVICE_TOKEN")
        .map(|token| Credential::Static {
            header: AuthHeader::authorization(Scheme::Bearer),
            value: SecretString::new(token),
        }))
}

static OPERATIONS: &[OperationSpec] = &[];
