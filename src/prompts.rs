//! Guided workflows as MCP prompts (slash commands in desktop assistants), built from the tools
//! this server offers: a prompt never names a tool that is not enabled.
//!
//! - `onboard_data_source`: template → test → create (dry run first) → verify, per provider.
//! - `audit_data_sources`: list across providers, flag disabled, failing or archived sources;
//!   read-only tools only.

use rmcp::model::{GetPromptResult, Prompt, PromptArgument, PromptMessage, Role};

use crate::operation::OperationSpec;
use crate::providers::Provider;

pub const ONBOARD: &str = "onboard_data_source";
pub const AUDIT: &str = "audit_data_sources";

/// The tools a prompt may use: the server's enabled tools.
pub struct Tools<'a>(pub &'a [&'static OperationSpec]);

impl Tools<'_> {
    fn has(&self, name: &str) -> bool {
        self.0.iter().any(|op| op.name == name)
    }

    /// Providers with at least one enabled tool, in table order.
    pub fn providers(&self) -> Vec<Provider> {
        let mut out: Vec<Provider> = Vec::new();
        for op in self.0 {
            if !out.contains(&op.provider) {
                out.push(op.provider);
            }
        }
        out
    }

    /// Providers whose onboarding tools are all enabled (not in read-only mode).
    fn onboardable(&self) -> Vec<Provider> {
        self.providers()
            .into_iter()
            .filter(|p| onboarding_tools(*p).iter().all(|t| self.has(t)))
            .collect()
    }
}

fn onboarding_tools(provider: Provider) -> &'static [&'static str] {
    match provider {
        Provider::BigId => &[
            "bigid_list_connector_templates",
            "bigid_get_connector_template",
            "bigid_test_data_source_connection",
            "bigid_create_data_source",
            "bigid_get_data_source",
        ],
        Provider::Pdc => &[
            "pdc_filter_data_sources",
            "pdc_create_data_sources",
            "pdc_get_data_source",
        ],
        Provider::Bigdata => &[
            "bigdata_list_connectors",
            "bigdata_create_connector",
            "bigdata_get_connector",
        ],
        Provider::DataBrain => &["databrain_create_datasource", "databrain_list_datasources"],
    }
}

fn provider_argument(required: bool, ids: &[Provider]) -> PromptArgument {
    let ids: Vec<&str> = ids.iter().map(|p| p.id()).collect();
    PromptArgument::new("provider")
        .with_description(format!("One of: {}", ids.join(", ")))
        .with_required(required)
}

/// The prompts the enabled tools support.
pub fn list(tools: &Tools) -> Vec<Prompt> {
    let mut prompts = Vec::new();
    let onboardable = tools.onboardable();
    if !onboardable.is_empty() {
        prompts.push(
            Prompt::new(
                ONBOARD,
                Some("Add a data source or connector step by step: template, test, create (dry run first), verify."),
                Some(vec![
                    provider_argument(true, &onboardable),
                    PromptArgument::new("type")
                        .with_description("Connector or datasource type, if known (e.g. rdb-mysql, postgres, email)")
                        .with_required(false),
                    PromptArgument::new("name")
                        .with_description("Name for the new data source, if known")
                        .with_required(false),
                ]),
            )
            .with_title("Onboard a data source"),
        );
    }
    let providers = tools.providers();
    if !providers.is_empty() {
        prompts.push(
            Prompt::new(
                AUDIT,
                Some("Review the data sources of every configured provider and flag disabled, failing or archived ones. Changes nothing."),
                Some(vec![provider_argument(false, &providers)]),
            )
            .with_title("Audit data sources"),
        );
    }
    prompts
}

/// Completion of a prompt's `provider` argument.
pub fn complete(tools: &Tools, prompt: &str, argument: &str, prefix: &str) -> Option<Vec<String>> {
    let candidates = match (prompt, argument) {
        (ONBOARD, "provider") => tools.onboardable(),
        (AUDIT, "provider") => tools.providers(),
        _ => return None,
    };
    Some(
        candidates
            .into_iter()
            .map(|p| p.id().to_string())
            .filter(|id| id.starts_with(prefix))
            .collect(),
    )
}

/// Renders a prompt; an error names what is wrong with the request.
pub fn get(
    tools: &Tools,
    name: &str,
    args: &serde_json::Map<String, serde_json::Value>,
) -> Result<GetPromptResult, String> {
    let arg = |k: &str| {
        args.get(k)
            .and_then(|v| v.as_str())
            .map(str::trim)
            .filter(|v| !v.is_empty())
    };
    let provider = match arg("provider") {
        None => None,
        Some(id) => Some(Provider::from_id(id).ok_or_else(|| {
            let known: Vec<&str> = tools.providers().iter().map(|p| p.id()).collect();
            format!("unknown provider `{id}` (configured: {})", known.join(", "))
        })?),
    };
    let text = match name {
        ONBOARD => {
            let provider = provider.ok_or("`provider` is required")?;
            if !tools.onboardable().contains(&provider) {
                return Err(format!(
                    "{} cannot be onboarded here: it is not configured, or the server is read-only",
                    provider.spec().title
                ));
            }
            onboard_text(provider, arg("type"), arg("name"))
        }
        AUDIT => {
            let providers = match provider {
                Some(p) if tools.providers().contains(&p) => vec![p],
                Some(p) => return Err(format!("{} is not configured here", p.spec().title)),
                None => tools.providers(),
            };
            audit_text(tools, &providers)
        }
        other => return Err(format!("unknown prompt `{other}`")),
    };
    let description = match name {
        ONBOARD => "Onboard a data source",
        _ => "Audit data sources",
    };
    Ok(
        GetPromptResult::new(vec![PromptMessage::new_text(Role::User, text)])
            .with_description(description),
    )
}

const SECRETS: &str = "For passwords, keys and tokens, use a secret reference such as ${secret:DB_PASSWORD} \
(the server reads it from its DATASOURCE_MCP_SECRET_DB_PASSWORD variable) instead of asking me to type the secret, \
and never repeat a secret back.";

fn onboard_text(provider: Provider, kind: Option<&str>, name: Option<&str>) -> String {
    let what = kind
        .map(|k| format!("a {k} data source"))
        .unwrap_or_else(|| "a data source".into());
    let called = name.map(|n| format!(" named \"{n}\"")).unwrap_or_default();
    let steps = match provider {
        Provider::BigId => "\
1. If the connector type is not settled, call bigid_list_connector_templates and agree on one with me.
2. Call bigid_get_connector_template for the type. Note every field with mandatory or mandatoryForTest and its validation.
3. Ask me for the values you do not have.
4. Call bigid_test_data_source_connection with the candidate configuration. If it fails, show me BigID's message and fix the configuration before going on.
5. Call bigid_create_data_source with dry_run: true, show me the request, and create it only after I confirm.
6. Verify with bigid_get_data_source and summarize what now exists.",
        Provider::Pdc => "\
1. Call pdc_filter_data_sources with resourceNames set to the intended name to check it is free.
2. Gather resourceName, databaseType and the connection fields (host, port as a string, databaseName, userName, password or keys); ask me for what you do not have.
3. Call pdc_create_data_sources with dry_run: true, show me the request, and create only after I confirm.
4. Verify with pdc_get_data_source on the returned _id. If it names a lastTestConnectionId or lastIngestId, follow that job with pdc_get_job_status and wait: true.",
        Provider::Bigdata => "\
1. Agree on the connector type: email (an inbox that ingests mail forwarded from allowed senders), investment_research (a broker feed, needs the broker login) or sharepoint (needs a session_id from support@bigdata.com).
2. Call bigdata_list_connectors to check the label is free.
3. Call bigdata_create_connector with dry_run: true, show me the request, and create only after I confirm.
4. Verify with bigdata_get_connector. For email, tell me the inbox address (config.email) to forward mail to; for investment_research or sharepoint, offer to start bigdata_sync_connector (investment_research needs a date_limit).",
        Provider::DataBrain => "\
1. Agree on the datasourceType and gather the credentials: name plus the type's fields; ask me for what you do not have.
2. Call databrain_create_datasource with dry_run: true, show me the request, and create only after I confirm. DataBrain tests the credentials itself: on CREDENTIAL_TEST_FAILED, fix host, port, user or password with me.
3. Verify with databrain_list_datasources that the name is listed.
4. If the schema needs a refresh later, databrain_sync_datasource takes the datasource's UUID, which I can copy from its page in DataBrain (the id= in the URL).",
    };
    format!(
        "Help me onboard {what}{called} in {}.\n\n{steps}\n\n{SECRETS} Stop and ask me whenever a step fails or a value is missing.",
        provider.spec().title
    )
}

fn audit_text(tools: &Tools, providers: &[Provider]) -> String {
    let mut steps = Vec::new();
    for provider in providers {
        let step = match provider {
            Provider::BigId if tools.has("bigid_list_data_sources") => {
                "BigID: call bigid_list_data_sources (page with skip/limit if there are many). Flag sources whose enabled is \"no\"."
            }
            Provider::Pdc if tools.has("pdc_filter_data_sources") => {
                "Pentaho Data Catalog: call pdc_filter_data_sources with resourceNames [\"*\"] (page with skip/limit). For each source with a lastTestConnectionId, call pdc_get_job_status and flag FAILED jobs with their error."
            }
            Provider::Bigdata if tools.has("bigdata_list_connectors") => {
                "Bigdata.com: call bigdata_list_connectors. Flag archived connectors and those whose last_sync_status is not SUCCESS, with last_sync_error_msg."
            }
            Provider::DataBrain if tools.has("databrain_list_datasources") => {
                "DataBrain: call databrain_list_datasources (all pages). Its API returns names only, so report them with status unknown."
            }
            _ => continue,
        };
        steps.push(format!("- {step}"));
    }
    format!(
        "Audit my data sources. Use read-only tools only and change nothing.\n\n{}\n\nThen show one table: provider, name, type, status (ok, disabled, failing, archived or unknown) and the reason, problems first, and suggest what to look at next.",
        steps.join("\n")
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::operation;

    fn all() -> Vec<&'static OperationSpec> {
        operation::all().collect()
    }

    #[test]
    fn prompts_follow_the_enabled_tools() {
        let ops = all();
        let names: Vec<String> = list(&Tools(&ops)).iter().map(|p| p.name.clone()).collect();
        assert_eq!(names, [ONBOARD, AUDIT]);
        let read_only: Vec<&'static OperationSpec> =
            all().into_iter().filter(|op| op.hints.read_only).collect();
        let names: Vec<String> = list(&Tools(&read_only))
            .iter()
            .map(|p| p.name.clone())
            .collect();
        assert_eq!(names, [AUDIT], "no onboarding without create tools");
        assert!(list(&Tools(&[])).is_empty());
    }

    #[test]
    fn every_tool_a_prompt_names_exists() {
        let ops = all();
        let tools = Tools(&ops);
        let mut text = audit_text(&tools, &tools.providers());
        for p in tools.providers() {
            text.push_str(&onboard_text(p, None, None));
        }
        for word in text.split(|c: char| !(c.is_ascii_alphanumeric() || c == '_')) {
            let is_tool_name = ["bigid_", "pdc_", "bigdata_", "databrain_"]
                .iter()
                .any(|p| word.starts_with(p));
            if is_tool_name {
                assert!(operation::find(word).is_some(), "{word} is not a tool");
            }
        }
    }

    #[test]
    fn arguments_are_checked_and_completed() {
        let ops = all();
        let tools = Tools(&ops);
        let args = |v: serde_json::Value| v.as_object().unwrap().clone();
        assert_eq!(
            get(&tools, ONBOARD, &args(serde_json::json!({}))).unwrap_err(),
            "`provider` is required"
        );
        assert!(
            get(
                &tools,
                ONBOARD,
                &args(serde_json::json!({"provider": "oracle"}))
            )
            .unwrap_err()
            .starts_with("unknown provider `oracle`")
        );
        let r = get(
            &tools,
            ONBOARD,
            &args(serde_json::json!({"provider": "bigid", "type": "rdb-mysql", "name": "Orders"})),
        )
        .unwrap();
        let text = serde_json::to_string(&r).unwrap();
        assert!(
            text.contains("Help me onboard a rdb-mysql data source named \\\"Orders\\\" in BigID"),
            "{text}"
        );
        assert_eq!(
            complete(&tools, ONBOARD, "provider", "b"),
            Some(vec!["bigid".to_string(), "bigdata".to_string()])
        );
        assert_eq!(
            complete(&tools, AUDIT, "provider", "d"),
            Some(vec!["databrain".to_string()])
        );
        assert_eq!(
            complete(&tools, "test_prompt_with_arguments", "arg1", ""),
            None
        );
    }
}
