//! Which tools are listed for which configuration, and the one-line errors of a half-configured
//! provider.

use crate::support::*;
use datasource_mcp::{operation::Provider, providers};

const ALL_VARS: &[(&str, &str)] = &[
    ("BIGID_BASE_URL", "https://bigid.example/api/v1"),
    ("BIGID_USER_TOKEN", "u"),
    ("PDC_BASE_URL", "https://pdc.example/api/public/v1"),
    ("PDC_USERNAME", "a"),
    ("PDC_PASSWORD", "b"),
    ("BIGDATA_API_KEY", "k"),
    ("DATABRAIN_SERVICE_TOKEN", "t"),
];

#[tokio::test]
async fn every_tool_with_every_provider_configured() {
    let client = client(ALL_VARS).await;
    let tools = client.list_all_tools().await.unwrap();
    assert_eq!(tools.len(), tool_count(|_| true));
    for (prefix, provider) in [
        ("bigid_", Provider::BigId),
        ("pdc_", Provider::Pdc),
        ("bigdata_", Provider::Bigdata),
        ("databrain_", Provider::DataBrain),
    ] {
        assert_eq!(
            tools.iter().filter(|t| t.name.starts_with(prefix)).count(),
            tool_count(|op| op.provider == provider),
            "{prefix}"
        );
    }
}

#[tokio::test]
async fn only_a_providers_tools_when_only_it_is_configured() {
    for (vars, prefix, provider) in [
        (
            &[
                ("PDC_BASE_URL", "https://pdc.example/api/public/v1"),
                ("PDC_ACCESS_TOKEN", "t"),
            ][..],
            "pdc_",
            Provider::Pdc,
        ),
        (
            &[("BIGDATA_API_KEY", "k")][..],
            "bigdata_",
            Provider::Bigdata,
        ),
        (
            &[("DATABRAIN_SERVICE_TOKEN", "t")][..],
            "databrain_",
            Provider::DataBrain,
        ),
    ] {
        let client = client(vars).await;
        let tools = client.list_all_tools().await.unwrap();
        assert_eq!(
            tools.len(),
            tool_count(offered_with_only(provider)),
            "{prefix}"
        );
        assert!(
            tools
                .iter()
                .all(|t| t.name.starts_with(prefix) || t.name.starts_with("inventory_")),
            "{prefix}"
        );
    }
}

#[test]
fn cloud_vendors_default_their_base_url() {
    let configs = providers::configure_all(&env(&[
        ("BIGDATA_API_KEY", "k"),
        ("DATABRAIN_SERVICE_TOKEN", "t"),
    ]))
    .unwrap();
    let base = |p: Provider| {
        configs
            .iter()
            .find(|c| c.provider == p)
            .unwrap()
            .base_url
            .clone()
    };
    assert_eq!(base(Provider::Bigdata), "https://api.bigdata.com");
    assert_eq!(base(Provider::DataBrain), "https://api.usedatabrain.com");
}

/// A desktop host passes an MCP Bundle setting the user left empty as the literal
/// `${user_config.KEY}`: that is unset, not a base URL or a credential.
#[test]
fn bundle_placeholders_of_empty_settings_are_unset() {
    let configs = providers::configure_all(&env(&[
        ("BIGID_BASE_URL", "${user_config.bigid_base_url}"),
        ("BIGID_USER_TOKEN", "${user_config.bigid_user_token}"),
        ("BIGDATA_BASE_URL", "${user_config.bigdata_base_url}"),
        ("BIGDATA_API_KEY", "k"),
    ]))
    .unwrap();
    assert_eq!(configs.len(), 1);
    assert_eq!(configs[0].provider, Provider::Bigdata);
    assert_eq!(configs[0].base_url, "https://api.bigdata.com");
}

#[test]
fn half_configured_providers_name_the_missing_variable() {
    let cases: &[(&[(&str, &str)], &str)] = &[
        (
            &[("PDC_BASE_URL", "https://p.example"), ("PDC_USERNAME", "a")],
            "PDC_USERNAME is set but PDC_PASSWORD is missing",
        ),
        (
            &[("PDC_BASE_URL", "https://p.example"), ("PDC_PASSWORD", "a")],
            "PDC_PASSWORD is set but PDC_USERNAME is missing",
        ),
        (
            &[("PDC_BASE_URL", "https://p.example")],
            "PDC_BASE_URL is set but no Pentaho Data Catalog credential is: check PDC_USERNAME/PDC_PASSWORD (or PDC_ACCESS_TOKEN)",
        ),
        (
            &[("PDC_ACCESS_TOKEN", "t")],
            "Pentaho Data Catalog credentials are set but PDC_BASE_URL is not",
        ),
        (
            &[("BIGID_USER_TOKEN", "t")],
            "BigID credentials are set but BIGID_BASE_URL is not",
        ),
        (
            &[
                ("BIGID_BASE_URL", "https://b.example"),
                ("BIGID_PASSWORD", "p"),
            ],
            "BIGID_PASSWORD is set but BIGID_USERNAME is missing",
        ),
        (
            &[
                ("BIGID_BASE_URL", "https://b.example"),
                ("BIGID_ACCESS_TOKEN", "t"),
                ("BIGID_AUTH_SCHEME", "basic"),
            ],
            "BIGID_AUTH_SCHEME must be `raw` or `bearer`",
        ),
        (
            &[("BIGDATA_BASE_URL", "https://bd.example")],
            "BIGDATA_BASE_URL is set but no Bigdata.com credential is: check BIGDATA_API_KEY",
        ),
        (
            &[("DATABRAIN_BASE_URL", "https://db.example")],
            "DATABRAIN_BASE_URL is set but no DataBrain credential is: check DATABRAIN_SERVICE_TOKEN (a service token, not a data-app API key)",
        ),
        (
            &[
                ("DATABRAIN_BASE_URL", "http://db.example"),
                ("DATABRAIN_SERVICE_TOKEN", "t"),
            ],
            "DATABRAIN_BASE_URL uses http:// on a non-loopback host; use https:// (or set DATASOURCE_MCP_ALLOW_HTTP=1)",
        ),
    ];
    for (vars, message) in cases {
        let err = providers::configure_all(&env(vars)).unwrap_err();
        assert_eq!(err.0, *message, "{vars:?}");
    }
}

#[test]
fn the_binary_stops_with_one_line() {
    let out = std::process::Command::new(binary())
        .env_clear()
        .env("PDC_BASE_URL", "https://pdc.example/api/public/v1")
        .env("PDC_USERNAME", "admin")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(
        String::from_utf8_lossy(&out.stderr),
        "datasource-mcp: PDC_USERNAME is set but PDC_PASSWORD is missing\n"
    );
}
