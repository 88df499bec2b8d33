//! Guided workflows as MCP prompts (slash commands in desktop assistants), built from the tools
//! this server offers: a prompt never names a tool that is not enabled.
//!
//! - `onboard_data_source`: template → test → create (dry run first) → verify, per provider.
//! - `audit_data_sources`: list across providers, flag disabled, failing or archived sources;
//!   read-only tools only.

use rmcp::model::{GetPromptResult, Prompt, PromptArgument, PromptMessage, Role};

use crate::operation::{OperationSpec, Provider};

pub const ONBOARD: &str = "onboard_data_source";
pub const AUDIT: &str = "audit_data_sources";

/// The tools a prompt may use: the server's enabled tools.
pub struct Tools<'a>(pub &'a [&'static OperationSpec]);

impl Tools<'_> {
    fn has(&self, name: &str) -> bool {
        self.0.iter().any(|op| op.name == name)
    }

    /// Toolsets (vendors and the inventory) with at least one enabled tool, in table order.
    pub fn toolsets(&self) -> Vec<Provider> {
        let mut out: Vec<Provider> = Vec::new();
        for op in self.0 {
            if !out.contains(&op.provider) {
                out.push(op.provider);
            }
        }
        out
    }

    /// Vendors with at least one enabled tool, in table order.
    pub fn providers(&self) -> Vec<Provider> {
        let mut out: Vec<Provider> = Vec::new();
        for op in self.0 {
            if op.provider.is_vendor() && !out.contains(&op.provider) {
                out.push(op.provider);
            }
        }
        out
    }

    /// Providers whose onboarding tools are all enabled (not in read-only mode).
    fn onboardable(&self) -> Vec<Provider> {
        self.providers()
            .into_iter()
            .filter(|p| p.spec().guide.onboard_tools.iter().all(|t| self.has(t)))
            .collect()
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
    let spec = provider.spec();
    format!(
        "Help me onboard {what}{called} in {}.\n\n{}\n\n{SECRETS} Stop and ask me whenever a step fails or a value is missing.",
        spec.title, spec.guide.onboard_steps
    )
}

fn audit_text(tools: &Tools, providers: &[Provider]) -> String {
    // The inventory first, where it is enabled: every platform's rows in one call; then each
    // platform's own list for what the inventory's rows do not say.
    let inventory = Provider::Inventory.spec();
    let mut steps: Vec<String> = Vec::new();
    if tools.has(inventory.guide.audit_tool) && providers.len() > 1 {
        steps.push(format!("- {}", inventory.guide.audit_step));
    } else if let [one] = providers
        && tools.has(inventory.guide.audit_tool)
    {
        steps.push(format!(
            "- Call {} with providers: [\"{}\"] for its rows with a status.",
            inventory.guide.audit_tool,
            one.id()
        ));
    }
    steps.extend(
        providers
            .iter()
            .map(|p| &p.spec().guide)
            .filter(|guide| tools.has(guide.audit_tool))
            .map(|guide| format!("- {}", guide.audit_step)),
    );
    format!(
        "Audit my data sources. Use read-only tools only and change nothing.\n\n{}\n\nThen show one table: provider, name, type, status (ok, disabled, failing, archived or unknown) and the reason, problems first, and suggest what to look at next.",
        steps.join("\n")
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::providers;

    fn all() -> Vec<&'static OperationSpec> {
        providers::operations().collect()
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
            let is_tool_name = providers::ALL
                .iter()
                .any(|p| word.starts_with(&format!("{}_", p.id)));
            if is_tool_name {
                assert!(providers::operation(word).is_some(), "{word} is not a tool");
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

    /// The audit starts from the inventory where it is enabled, then each platform's list.
    #[test]
    fn the_audit_starts_from_the_inventory() {
        let ops = all();
        let tools = Tools(&ops);
        let text = audit_text(&tools, &tools.providers());
        let inventory = text
            .find("inventory_list_data_sources")
            .expect("inventory step");
        let bigid = text.find("bigid_list_data_sources").expect("bigid step");
        assert!(inventory < bigid, "{text}");
        let one = audit_text(&tools, &[Provider::Pdc]);
        assert!(
            one.contains(r#"inventory_list_data_sources with providers: ["pdc"]"#),
            "{one}"
        );
        assert!(!one.contains("bigid_"), "{one}");
        // Without the inventory tool (left out by --tools), the per-platform steps alone.
        let without: Vec<&'static OperationSpec> = all()
            .into_iter()
            .filter(|op| op.provider.is_vendor())
            .collect();
        let text = audit_text(&Tools(&without), &[Provider::BigId, Provider::Pdc]);
        assert!(!text.contains("inventory_"), "{text}");
        assert!(text.contains("bigid_list_data_sources"), "{text}");
    }
}
