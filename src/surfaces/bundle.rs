//! The MCP Bundle (`.mcpb`) manifest for desktop hosts, generated from the providers' table of
//! environment variables: one `user_config` setting per variable (credentials marked
//! `sensitive`, so the host masks them and keeps them in the OS keychain), each passed to the
//! server as that variable. A setting the user leaves empty reaches the server as the literal
//! `${user_config.KEY}`, which the server reads as unset ([`crate::spec::ProcessEnv`]).
//!
//! `deploy/mcpb/manifest.json` is the checked-in copy (`datasource-mcp manifest --out …`);
//! `.ci/mcpb` validates and packs it with the official CLI.

use serde_json::{Map, Value, json};

use crate::providers;
use crate::spec::{EnvVar, ProviderSpec};

/// The bundle format this manifest follows.
pub const MANIFEST_VERSION: &str = "0.3";

/// Where the binary sits inside the bundle.
pub const ENTRY_POINT: &str = "server/datasource-mcp";

/// The `user_config` key of a variable: `BIGID_USER_TOKEN` → `bigid_user_token`.
pub fn setting_key(var: &EnvVar) -> String {
    var.name.to_ascii_lowercase()
}

/// A title for people: `BIGID_USER_TOKEN` → `BigID user token`.
fn setting_title(spec: &ProviderSpec, var: &EnvVar) -> String {
    let rest = var
        .name
        .split('_')
        .skip(1)
        .map(|word| match word {
            "URL" | "API" => word.to_string(),
            _ => word.to_ascii_lowercase(),
        })
        .collect::<Vec<_>>()
        .join(" ");
    format!("{} {rest}", spec.title)
}

/// The manifest, as JSON.
pub fn manifest() -> Value {
    let mut env = Map::new();
    let mut settings = Map::new();
    for spec in providers::VENDORS {
        for var in spec.env {
            let key = setting_key(var);
            env.insert(var.name.into(), json!(format!("${{user_config.{key}}}")));
            let mut setting = json!({
                "type": "string",
                "title": setting_title(spec, var),
                "description": var.help,
                "required": false,
            });
            if var.secret {
                setting["sensitive"] = json!(true);
            }
            settings.insert(key, setting);
        }
    }
    env.insert(
        "DATASOURCE_MCP_READ_ONLY".into(),
        json!("${user_config.read_only}"),
    );
    settings.insert(
        "read_only".into(),
        json!({
            "type": "boolean",
            "title": "Read-only",
            "description": "Offer only tools that change nothing (no create, update, delete or sync).",
            "default": false,
            "required": false,
        }),
    );
    let providers: Vec<&str> = providers::VENDORS.iter().map(|p| p.title).collect();
    let mut keywords = vec!["data sources", "connectors"];
    keywords.extend(providers::VENDORS.iter().map(|p| p.id));
    json!({
        "manifest_version": MANIFEST_VERSION,
        "name": "datasource-mcp",
        "display_name": format!("Data sources ({})", providers.join(", ")),
        "version": env!("CARGO_PKG_VERSION"),
        "description": env!("CARGO_PKG_DESCRIPTION"),
        "long_description": format!(
            "Typed, validated tools to list, inspect, test, create, update, delete and sync data \
    sources and connectors on {}. Configure any of the providers below; a provider left empty \
    offers no tools. Every tool that changes something takes dry_run; credentials never appear in \
    results or logs.",
            providers.join(", ")
        ),
        "author": {"name": "datasource-mcp authors"},
        "license": env!("CARGO_PKG_LICENSE"),
        "keywords": keywords,
        "server": {
            "type": "binary",
            "entry_point": ENTRY_POINT,
            "mcp_config": {
                "command": format!("${{__dirname}}/{ENTRY_POINT}"),
                "args": [],
                "env": env,
            },
        },
        "user_config": settings,
        "tools_generated": true,
        "prompts_generated": true,
        "compatibility": {"platforms": ["darwin", "linux", "win32"]},
    })
}

/// The checked-in form.
pub fn manifest_text() -> String {
    let mut text = serde_json::to_string_pretty(&manifest()).unwrap_or_default();
    text.push('\n');
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every variable a provider reads is a setting passed as that variable; every credential
    /// is sensitive.
    #[test]
    fn every_provider_variable_is_a_setting_and_every_credential_is_sensitive() {
        let m = manifest();
        let env = m["server"]["mcp_config"]["env"].as_object().unwrap();
        let settings = m["user_config"].as_object().unwrap();
        let mut count = 0;
        for spec in providers::VENDORS {
            for var in spec.env {
                let key = setting_key(var);
                assert_eq!(env[var.name], format!("${{user_config.{key}}}"));
                assert_eq!(
                    settings[&key].get("sensitive") == Some(&json!(true)),
                    var.secret,
                    "{key}"
                );
                count += 1;
            }
        }
        assert_eq!(settings.len(), count + 1, "plus read_only");
        assert_eq!(
            m["user_config"]["bigid_user_token"]["title"],
            "BigID user token"
        );
        assert_eq!(
            m["user_config"]["pdc_base_url"]["title"],
            "Pentaho Data Catalog base URL"
        );
        assert_eq!(
            m["user_config"]["bigdata_api_key"]["sensitive"],
            json!(true)
        );
    }
}
