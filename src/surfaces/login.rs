//! `datasource-mcp login <provider> [VARIABLE]` and `datasource-mcp secrets [forget NAME]`: the
//! OS keychain from a terminal.
//!
//! `login` stores one provider credential variable in the keychain, where the server reads it
//! at start-up when the variable is not set, so a client configuration holds no token. The
//! value is asked with a masked prompt on a terminal, or on the one-time intake page otherwise
//! (its link on stderr). `secrets` lists the names held (never a value); `secrets forget NAME`
//! removes one. Nothing here prints a value; stdout carries only the list.

use std::io::IsTerminal;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Instant;

use tokio_util::sync::CancellationToken;

use crate::intake::{About, Binding, Intake, IntakeSettings, Purpose, Serving};
use crate::keychain::{self, Keychain, Scope};
use crate::providers::VENDORS;
use crate::secret::SecretString;
use crate::spec::ProviderSpec;

/// What `secrets` does besides listing.
#[derive(clap::Subcommand, Debug)]
pub enum SecretsAction {
    /// Remove NAME from the keychain (its credential and its remembered value).
    Forget { name: String },
}

/// Exit code of a command that could not run (usage, no keychain).
const EXIT_USAGE: u8 = 2;

fn fail(code: u8, message: &str) -> ExitCode {
    eprintln!("datasource-mcp: {message}");
    ExitCode::from(code)
}

/// The provider `id`, or what the ids are.
fn provider(id: &str) -> Result<&'static ProviderSpec, String> {
    VENDORS.iter().copied().find(|s| s.id == id).ok_or_else(|| {
        let ids: Vec<&str> = VENDORS.iter().map(|s| s.id).collect();
        format!("unknown provider `{id}` ({})", ids.join(", "))
    })
}

/// The credential variables of a provider (its secret ones), in the order its spec lists them.
pub fn credential_variables(spec: &ProviderSpec) -> Vec<&'static str> {
    spec.env
        .iter()
        .filter(|v| v.secret)
        .map(|v| v.name)
        .collect()
}

/// Runs a blocking keychain call off the runtime's workers.
async fn blocking<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> T {
    tokio::task::spawn_blocking(f)
        .await
        .expect("the keychain call ran")
}

/// `login`: asks for one credential variable and stores it in the keychain.
pub async fn login(
    provider_id: &str,
    variable: Option<&str>,
    keychain: Arc<Keychain>,
    settings: IntakeSettings,
) -> ExitCode {
    let spec = match provider(provider_id) {
        Ok(s) => s,
        Err(e) => return fail(EXIT_USAGE, &e),
    };
    let variables = credential_variables(spec);
    let variable = match variable {
        None => variables[0],
        Some(v) => match variables.iter().find(|c| **c == v) {
            Some(c) => c,
            None => {
                return fail(
                    EXIT_USAGE,
                    &format!(
                        "{v} is not a {} credential variable ({})",
                        spec.title,
                        variables.join(", ")
                    ),
                );
            }
        },
    };
    let probe = keychain.clone();
    if let Err(e) = blocking(move || probe.present().and_then(|()| probe.index())).await {
        return fail(
            EXIT_USAGE,
            &format!(
                "cannot store {variable}: {e}. Set {variable} (or {variable}_FILE) in the server's environment instead"
            ),
        );
    }
    let value = if std::io::stdin().is_terminal() {
        let prompt = format!("{variable} ({} credential, input hidden): ", spec.title);
        match blocking(move || rpassword::prompt_password(prompt)).await {
            Ok(v) => v,
            Err(e) => return fail(EXIT_USAGE, &format!("no value was read: {e}")),
        }
    } else {
        match on_the_page(spec, variable, settings).await {
            Ok(v) => v.expose().to_string(),
            Err(e) => return fail(EXIT_USAGE, &e),
        }
    };
    let value = value.trim_end_matches(['\n', '\r']).to_string();
    if value.is_empty() {
        return fail(
            EXIT_USAGE,
            &format!("nothing was entered; {variable} is unchanged"),
        );
    }
    crate::redact::register_secret(&value);
    let store = keychain.clone();
    let name = variable.to_string();
    let stored = blocking(move || store.store_credential(&name, &value)).await;
    if let Err(e) = stored {
        return fail(1, &format!("{variable} could not be stored: {e}"));
    }
    let mut check = "datasource-mcp doctor".to_string();
    if spec.default_base_url.is_none() {
        check = format!("{check} (with {} set)", spec.base_url_var);
    }
    eprintln!(
        "datasource-mcp: stored {variable} in {} as {}/{}; the server reads it from there when {variable} is not set. Check it: {check}",
        keychain::place(),
        keychain::SERVICE,
        keychain::credential_account(variable)
    );
    if std::env::var_os(variable).is_some_and(|v| !v.is_empty()) {
        eprintln!(
            "datasource-mcp: note: {variable} is set in this environment, and a variable that is set wins over the keychain"
        );
    }
    ExitCode::SUCCESS
}

/// Asks for `variable` on the one-time intake page of a loopback listener of this process: the
/// link on stderr, then the wait.
async fn on_the_page(
    spec: &ProviderSpec,
    variable: &str,
    settings: IntakeSettings,
) -> Result<SecretString, String> {
    let intake = Intake::new(settings, Serving::Loopback);
    let binding = Binding {
        caller: "login".into(),
        provider: spec.id.into(),
        hosts: Vec::new(),
    };
    let about = About {
        name: variable.to_string(),
        tool: "login".into(),
        provider: spec.title.into(),
        target: None,
        binding: binding.clone(),
        scope: Scope {
            provider: spec.id.into(),
            hosts: Vec::new(),
        },
        purpose: Purpose::Login,
    };
    let offered = intake
        .offer(about)
        .await
        .map_err(|e| format!("no terminal to ask on, and {e}"))?;
    let minutes = offered
        .expires
        .saturating_duration_since(Instant::now())
        .as_secs()
        .div_ceil(60);
    eprintln!(
        "datasource-mcp: open {} in a browser and enter {variable} there (the link works once, for {minutes} min; Ctrl-C to stop)",
        offered.url
    );
    let cancel = CancellationToken::new();
    let stop = cancel.clone();
    tokio::spawn(async move {
        if tokio::signal::ctrl_c().await.is_ok() {
            stop.cancel();
        }
    });
    if !intake
        .wait(variable, &binding, offered.expires, &cancel)
        .await
    {
        return Err(format!(
            "no value for {variable} was entered (the link expired or the wait was stopped); nothing was stored"
        ));
    }
    intake
        .value(variable, &binding)
        .await
        .ok_or_else(|| format!("no value for {variable} was entered; nothing was stored"))
}

/// `secrets`: the names held, or `forget NAME`.
pub async fn secrets(action: Option<SecretsAction>, keychain: Arc<Keychain>) -> ExitCode {
    match action {
        None => {
            let kc = keychain.clone();
            let index = match blocking(move || kc.present().and_then(|()| kc.index())).await {
                Ok(i) => i,
                Err(e) => return fail(EXIT_USAGE, &format!("cannot list the secrets held: {e}")),
            };
            if index.credentials.is_empty() && index.secrets.is_empty() {
                eprintln!(
                    "datasource-mcp: {} holds nothing of datasource-mcp",
                    keychain::place()
                );
                return ExitCode::SUCCESS;
            }
            print!("{}", list(&index));
            ExitCode::SUCCESS
        }
        Some(SecretsAction::Forget { name }) => {
            let kc = keychain.clone();
            let target = name.clone();
            match blocking(move || kc.present().and_then(|()| kc.forget(&target))).await {
                Ok(gone) if gone.is_empty() => fail(
                    1,
                    &format!("{} holds no {name} of datasource-mcp", keychain::place()),
                ),
                Ok(gone) => {
                    let what: Vec<&str> = gone
                        .iter()
                        .map(|k| match *k {
                            "credential" => "its credential",
                            _ => "its remembered value",
                        })
                        .collect();
                    eprintln!(
                        "datasource-mcp: forgot {name} ({}) in {}",
                        what.join(" and "),
                        keychain::place()
                    );
                    ExitCode::SUCCESS
                }
                Err(e) => fail(1, &format!("{name} could not be forgotten: {e}")),
            }
        }
    }
}

/// The list `secrets` prints: one line per name, what it is, and who it is for.
pub fn list(index: &keychain::Index) -> String {
    let mut rows: Vec<(String, &str, String)> = Vec::new();
    for name in &index.credentials {
        let of = VENDORS
            .iter()
            .find(|s| s.env.iter().any(|v| v.name == name))
            .map_or("", |s| s.id);
        rows.push((name.clone(), "credential", format!("{of} (login)")));
    }
    for (name, scope) in &index.secrets {
        rows.push((
            name.clone(),
            "remembered",
            format!("{} → {}", scope.provider, scope.hosts.join(", ")),
        ));
    }
    let width = rows.iter().map(|r| r.0.len()).max().unwrap_or(4).max(4);
    let mut out = format!("{:<width$}  {:<10}  FOR\n", "NAME", "KIND");
    for (name, kind, of) in rows {
        out.push_str(&format!("{name:<width$}  {kind:<10}  {of}\n"));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::{BTreeMap, BTreeSet};

    #[test]
    fn the_list_names_and_never_shows_values() {
        let index = keychain::Index {
            credentials: BTreeSet::from(["BIGID_USER_TOKEN".to_string()]),
            secrets: BTreeMap::from([(
                "SF_PASSWORD".to_string(),
                Scope {
                    provider: "databrain".into(),
                    hosts: vec!["acme.snowflakecomputing.com".into()],
                },
            )]),
        };
        assert_eq!(
            list(&index),
            "NAME              KIND        FOR\n\
             BIGID_USER_TOKEN  credential  bigid (login)\n\
             SF_PASSWORD       remembered  databrain → acme.snowflakecomputing.com\n"
        );
        assert_eq!(
            credential_variables(&crate::providers::bigid::SPEC),
            ["BIGID_USER_TOKEN", "BIGID_PASSWORD", "BIGID_ACCESS_TOKEN"]
        );
    }
}
