//! Command line: flags, subcommands, configuration from the environment.
//!
//! Credentials come only from the environment, never from flags (argv is visible in `ps`).

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use clap::{Args, Parser, Subcommand};

use crate::engine::audit::AuditLog;
use crate::engine::state::apply::OnFailure;
use crate::engine::{Engine, EngineSettings};
use crate::intake::{Intake, IntakeSettings, Serving};
use crate::keychain::Keychain;
use crate::mounted::SecretsDir;
use crate::providers::environment::{self, Loaded, Origin};
use crate::providers::{self, ProviderConfig};
use crate::redact;
use crate::sandbox::users::{Record, Users};
use crate::sandbox::{Options as SandboxOptions, Sandbox, Seed};
use crate::spec::Env;
use crate::surfaces::server::{DataSourceServer, Selection};
use crate::surfaces::{call, doctor, generated, login, registry, skill, state, verify};
use crate::transport::http::{self, HttpOptions};
use crate::transport::oauth::{self, OAuthConfig};
use crate::transport::shutdown;
use crate::upstream::{RetryPolicy, UpstreamSettings};

#[derive(Parser, Debug)]
#[command(
    name = "datasource-mcp",
    version,
    about,
    long_about = concat!(
        env!("CARGO_PKG_DESCRIPTION"),
        ".\n\nWith no command it serves MCP over stdio. Providers are configured from environment \
variables, each of which may instead name a file (NAME_FILE), and credentials stored in the OS \
keychain by `login` (see the README); credentials are never taken from flags."
    )
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Option<Command>,
    /// Serve against the built-in simulated vendor APIs (no vendor account needed); the
    /// providers in the environment are ignored.
    #[arg(long, global = true)]
    pub sandbox: bool,
    #[command(flatten)]
    pub selection: SelectionArgs,
    #[command(flatten)]
    pub upstream: UpstreamArgs,
    #[command(flatten)]
    pub http: HttpArgs,
    #[command(flatten)]
    pub intake: IntakeArgs,
    #[command(flatten)]
    pub state: StateArgs,
    #[command(flatten)]
    pub secrets: SecretSourceArgs,
}

/// Where secrets live besides the environment (see the README's Safety section).
#[derive(Args, Debug, Clone)]
pub struct SecretSourceArgs {
    /// A directory of files named after secrets (as Docker and Kubernetes mount them):
    /// `${secret:NAME}` reads the file NAME (trailing newlines trimmed) when
    /// DATASOURCE_MCP_SECRET_NAME is not set. Keep the server's own credentials elsewhere.
    #[arg(
        long,
        global = true,
        env = "DATASOURCE_MCP_SECRETS_DIR",
        value_name = "DIR"
    )]
    pub secrets_dir: Option<PathBuf>,
    /// Never read or write the OS keychain: no credentials stored by `login`, no remembered
    /// values, no "remember" box on the intake page.
    #[arg(long, global = true, env = "DATASOURCE_MCP_NO_KEYCHAIN", value_parser = clap::builder::BoolishValueParser::new())]
    pub no_keychain: bool,
}

impl SecretSourceArgs {
    /// The keychain of this process (off with --no-keychain).
    pub fn keychain(&self) -> Arc<Keychain> {
        if self.no_keychain {
            Keychain::off()
        } else {
            Keychain::system()
        }
    }

    /// The secrets directory, which must not hold a file the server reads its own
    /// configuration from (a reference could then read the server's credentials).
    pub fn dir(&self, loaded: &Loaded) -> Result<Option<SecretsDir>, String> {
        let Some(path) = self
            .secrets_dir
            .as_deref()
            .filter(|p| !p.as_os_str().is_empty())
        else {
            return Ok(None);
        };
        let dir = SecretsDir::open(path).map_err(|e| format!("--secrets-dir {e}"))?;
        let root = std::fs::canonicalize(path)
            .map_err(|e| format!("--secrets-dir {}: {e}", path.display()))?;
        for (name, origin) in &loaded.origins {
            if let Origin::File(file) = origin
                && std::fs::canonicalize(file).is_ok_and(|f| f.starts_with(&root))
            {
                return Err(format!(
                    "--secrets-dir {} holds {file}, the file of {name}: a reference could read it; keep the server's own configuration out of the secrets directory",
                    path.display()
                ));
            }
        }
        Ok(Some(dir))
    }
}

/// Where state that outlives a request lives (MCP tasks), and for how long.
#[derive(Args, Debug, Clone)]
pub struct StateArgs {
    /// `memory` (one process), or a Redis URL (`redis://host:6379/0`, `redis+unix:///path`)
    /// that every replica shares: a task started on one replica is then answered, and taken
    /// over when its replica stops, by any other.
    #[arg(
        long,
        global = true,
        env = "DATASOURCE_MCP_STORE",
        default_value = "memory",
        value_name = "memory|URL"
    )]
    pub store: String,
    /// Seconds an MCP task lives: how long the server follows a vendor job for a client that
    /// takes tasks (its result is kept as long again).
    #[arg(
        long,
        global = true,
        env = "DATASOURCE_MCP_TASK_TTL",
        default_value_t = 3600,
        value_name = "SECONDS"
    )]
    pub task_ttl: u64,
    /// With OAuth: each signed-in user's calls act at the vendor with their own credential,
    /// given once on the intake page. A user without one for a provider is refused with a
    /// link to the page (`refuse`), acts with the service credential (`fallback`), or with it
    /// only in tools that change nothing (`read-only`). Unset: everyone acts with the service
    /// credential.
    #[arg(
        long,
        global = true,
        env = "DATASOURCE_MCP_PER_USER_CREDENTIALS",
        value_name = "refuse|fallback|read-only",
        num_args = 0..=1,
        default_missing_value = "refuse"
    )]
    pub per_user_credentials: Option<crate::engine::credentials::WithoutOwn>,
    /// Seconds a user's own credential is kept after it was given (default 30 days).
    #[arg(
        long,
        global = true,
        env = "DATASOURCE_MCP_CREDENTIAL_TTL",
        default_value_t = 30 * 86_400,
        value_name = "SECONDS"
    )]
    pub credential_ttl: u64,
}

impl StateArgs {
    /// Per-user mode, when it is on: its credentials kept in `store`, sealed with the key of
    /// `DATASOURCE_MCP_STORE_KEY` (and read with `DATASOURCE_MCP_STORE_KEY_PREVIOUS` during a
    /// rotation).
    pub fn per_user(
        &self,
        store: Arc<dyn crate::store::Store>,
        sealer: Arc<crate::store::sealed::Sealer>,
    ) -> anyhow::Result<Option<crate::engine::credentials::PerUser>> {
        let Some(without) = self.per_user_credentials else {
            return Ok(None);
        };
        if self.credential_ttl == 0 || self.credential_ttl > 366 * 86_400 {
            anyhow::bail!("--credential-ttl must be between 1 and 31622400 seconds");
        }
        if !sealer.seals() && self.shared() {
            anyhow::bail!(
                "--per-user-credentials with a shared --store needs DATASOURCE_MCP_STORE_KEY (32 bytes, e.g. `openssl rand -base64 32`): users' credentials are sealed with it there"
            );
        }
        Ok(Some(crate::engine::credentials::PerUser::new(
            without,
            store,
            sealer,
            Duration::from_secs(self.credential_ttl),
        )))
    }

    /// What secrets in the store are sealed with: the key of `DATASOURCE_MCP_STORE_KEY` (and,
    /// during a rotation, the previous one of `DATASOURCE_MCP_STORE_KEY_PREVIOUS`).
    pub fn sealer(
        &self,
        env: &dyn crate::spec::Env,
    ) -> anyhow::Result<Arc<crate::store::sealed::Sealer>> {
        crate::store::sealed::Sealer::new(
            env.var("DATASOURCE_MCP_STORE_KEY").as_deref(),
            env.var("DATASOURCE_MCP_STORE_KEY_PREVIOUS").as_deref(),
        )
        .map(Arc::new)
        .map_err(|e| anyhow::anyhow!(e))
    }

    /// Whether the store is one other processes read (not this process's memory).
    pub fn shared(&self) -> bool {
        !matches!(self.store.trim(), "" | "memory")
    }

    /// The store, connected (a Redis that does not answer stops start-up with its reason).
    pub async fn open(&self) -> anyhow::Result<Arc<dyn crate::store::Store>> {
        if self.task_ttl == 0 || self.task_ttl > 7 * 86_400 {
            anyhow::bail!("--task-ttl must be between 1 and 604800 seconds");
        }
        crate::store::open(&self.store)
            .await
            .map_err(|e| anyhow::anyhow!("--store {}: {e}", crate::store::shown(&self.store)))
    }

    pub fn tasks(&self) -> crate::surfaces::tasks::TaskSettings {
        crate::surfaces::tasks::TaskSettings {
            ttl: Duration::from_secs(self.task_ttl),
            ..Default::default()
        }
    }
}

/// The secret intake page: where a user enters a secret that a call references but that has
/// no value (see the README's Safety section).
#[derive(Args, Debug, Clone)]
pub struct IntakeArgs {
    /// Never offer the secret intake page: a reference without a value is an error naming the
    /// variable to set.
    #[arg(long, global = true, env = "DATASOURCE_MCP_NO_SECRET_INTAKE", value_parser = clap::builder::BoolishValueParser::new())]
    pub no_secret_intake: bool,
    /// Seconds an intake link works.
    #[arg(
        long,
        global = true,
        env = "DATASOURCE_MCP_SECRET_LINK_TTL",
        default_value_t = 600,
        value_name = "SECONDS"
    )]
    pub secret_link_ttl: u64,
    /// Seconds an entered secret is kept (default: for the life of the process).
    #[arg(
        long,
        global = true,
        env = "DATASOURCE_MCP_ENTERED_SECRET_TTL",
        value_name = "SECONDS"
    )]
    pub entered_secret_ttl: Option<u64>,
    /// The address users reach this HTTP server at (over TLS), e.g. https://mcp.example.com
    /// (behind a proxy or load balancer): intake links start with it (needed for the intake
    /// page on a non-loopback address); with OAuth, the resource its metadata names and the
    /// tokens' default audience (`/mcp` appended). Its host is accepted as Host, its origin as
    /// Origin.
    #[arg(long, env = "DATASOURCE_MCP_PUBLIC_URL", value_name = "URL")]
    pub public_url: Option<String>,
}

impl IntakeArgs {
    fn settings(&self) -> Result<IntakeSettings, String> {
        if self.secret_link_ttl == 0 || self.secret_link_ttl > 86_400 {
            return Err("--secret-link-ttl must be between 1 and 86400 seconds".into());
        }
        if self.entered_secret_ttl == Some(0) {
            return Err("--entered-secret-ttl must be at least 1 second".into());
        }
        Ok(IntakeSettings {
            link_ttl: Duration::from_secs(self.secret_link_ttl),
            value_ttl: self.entered_secret_ttl.map(Duration::from_secs),
            ..IntakeSettings::default()
        })
    }

    /// The intake of a process that serves the page itself on loopback (stdio, `call`): its
    /// page offers to remember a value in `keychain` when one is there.
    pub fn loopback(&self, keychain: Arc<Keychain>) -> Result<Option<Arc<Intake>>, String> {
        let settings = self.settings()?;
        Ok((!self.no_secret_intake).then(|| Intake::remembering(settings, keychain)))
    }

    /// The intake of the HTTP server listening on `listen`, and why it is off when it is:
    /// served under the server's own address, on a non-loopback one only with --public-url.
    pub fn http(
        &self,
        listen: &std::net::SocketAddr,
    ) -> Result<(Option<Arc<Intake>>, Option<&'static str>), String> {
        let settings = self.settings()?;
        let public = match &self.public_url {
            None => None,
            Some(text) => {
                let url = url::Url::parse(text).map_err(|e| format!("--public-url {text}: {e}"))?;
                let loopback = matches!(url.host_str(), Some("localhost" | "127.0.0.1" | "[::1]"));
                if url.scheme() != "https" && !(url.scheme() == "http" && loopback) {
                    return Err(format!(
                        "--public-url {text}: must be https (users type secrets into the page)"
                    ));
                }
                if url.query().is_some() || url.fragment().is_some() || url.cannot_be_a_base() {
                    return Err(format!(
                        "--public-url {text}: give a base URL, without query or fragment"
                    ));
                }
                Some(url)
            }
        };
        if self.no_secret_intake {
            return Ok((None, Some("--no-secret-intake")));
        }
        match public {
            Some(url) => Ok((
                Some(Intake::new(settings, Serving::Mounted(Some(url)))),
                None,
            )),
            None if listen.ip().is_loopback() => {
                Ok((Some(Intake::new(settings, Serving::Mounted(None))), None))
            }
            None => Ok((
                None,
                Some("the server listens on a non-loopback address without --public-url"),
            )),
        }
    }
}

#[derive(clap::ValueEnum, Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transport {
    Stdio,
    Http,
}

/// Serving MCP over streamable HTTP. The bearer token comes from DATASOURCE_MCP_HTTP_TOKEN
/// (never a flag: argv is visible in `ps`).
#[derive(Args, Debug, Clone)]
pub struct HttpArgs {
    /// How MCP is served.
    #[arg(
        long,
        value_enum,
        default_value = "stdio",
        env = "DATASOURCE_MCP_TRANSPORT"
    )]
    pub transport: Transport,
    /// Address for --transport http (MCP at /mcp, probes at /healthz).
    #[arg(
        long,
        default_value = "127.0.0.1:8080",
        env = "DATASOURCE_MCP_LISTEN",
        value_name = "ADDR"
    )]
    pub listen: std::net::SocketAddr,
    /// Serve HTTP without authentication (loopback addresses only).
    #[arg(long)]
    pub no_auth: bool,
    /// Serve /metrics without authentication (e.g. to a scraper on a private network);
    /// by default it takes the same bearer token as /mcp.
    #[arg(long, env = "DATASOURCE_MCP_METRICS_PUBLIC", value_parser = clap::builder::BoolishValueParser::new())]
    pub metrics_public: bool,
    /// Also accept this Host header (repeatable; `*` accepts any, e.g. behind a proxy that checks it).
    #[arg(
        long = "allowed-host",
        value_name = "HOST",
        value_delimiter = ',',
        env = "DATASOURCE_MCP_ALLOWED_HOSTS"
    )]
    pub allowed_hosts: Vec<String>,
    /// Also accept this Origin, e.g. https://ide.example.com (repeatable).
    #[arg(
        long = "allowed-origin",
        value_name = "ORIGIN",
        value_delimiter = ',',
        env = "DATASOURCE_MCP_ALLOWED_ORIGINS"
    )]
    pub allowed_origins: Vec<String>,
    /// Largest HTTP request body, in bytes.
    #[arg(long, default_value_t = 1024 * 1024, env = "DATASOURCE_MCP_MAX_BODY_BYTES", value_name = "BYTES")]
    pub max_body_bytes: usize,
    /// HTTP requests handled at once; more get 503.
    #[arg(
        long,
        default_value_t = 64,
        env = "DATASOURCE_MCP_MAX_HTTP_REQUESTS",
        value_name = "N"
    )]
    pub max_http_requests: usize,
    /// Seconds calls in flight may take to finish after SIGTERM/SIGINT.
    #[arg(
        long,
        default_value_t = 10,
        env = "DATASOURCE_MCP_SHUTDOWN_GRACE",
        value_name = "SECONDS"
    )]
    pub shutdown_grace: u64,
    /// Seconds a connection may take to send a request's headers; then it is closed (slowloris).
    #[arg(
        long,
        default_value_t = 10,
        env = "DATASOURCE_MCP_HEADER_TIMEOUT",
        value_name = "SECONDS"
    )]
    pub header_timeout: u64,
    /// Seconds a request's body may take to arrive; then 408.
    #[arg(
        long,
        default_value_t = 30,
        env = "DATASOURCE_MCP_BODY_TIMEOUT",
        value_name = "SECONDS"
    )]
    pub body_timeout: u64,
    /// HTTP connections open at once; past it the oldest one still sending headers is closed.
    /// Keep it well below the file-descriptor limit (`ulimit -n`).
    #[arg(
        long,
        default_value_t = 512,
        env = "DATASOURCE_MCP_MAX_CONNECTIONS",
        value_name = "N"
    )]
    pub max_connections: usize,
}

impl HttpArgs {
    /// The HTTP options, and a generated token to show once (loopback without a configured one).
    /// `public_url`: the URL clients reach the server at (`--public-url`, shared with the
    /// intake page).
    pub fn options(
        &self,
        env: &dyn Env,
        public_url: Option<&str>,
    ) -> Result<(HttpOptions, Option<String>), String> {
        let oauth = OAuthConfig::from_env(env, &self.listen, public_url)?;
        let (auth, generated) = http::resolve_auth(
            &self.listen,
            env.var("DATASOURCE_MCP_HTTP_TOKEN"),
            self.no_auth,
            oauth,
        )?;
        let mut opts = HttpOptions::new(self.listen, auth);
        if let Some(public) = public_url {
            let url = oauth::parse_public_url(public)?;
            if let Some(host) = url.host_str() {
                opts.allowed_hosts.push(host.to_string());
            }
            // Its own pages (the intake page's form) come from there.
            opts.allowed_origins
                .push(url.origin().ascii_serialization());
        }
        opts.allowed_hosts
            .extend(self.allowed_hosts.iter().cloned());
        for origin in &self.allowed_origins {
            if !origin.contains("://") {
                return Err(format!(
                    "--allowed-origin {origin}: write it with its scheme, e.g. https://{origin}"
                ));
            }
            opts.allowed_origins.push(origin.clone());
        }
        if self.max_body_bytes < 1024 {
            return Err("--max-body-bytes must be at least 1024".into());
        }
        opts.max_body_bytes = self.max_body_bytes;
        opts.max_in_flight = self.max_http_requests.max(1);
        opts.shutdown_grace = Duration::from_secs(self.shutdown_grace);
        if self.header_timeout == 0 {
            return Err("--header-timeout must be at least 1 second".into());
        }
        opts.header_timeout = Duration::from_secs(self.header_timeout);
        if self.body_timeout == 0 {
            return Err("--body-timeout must be at least 1 second".into());
        }
        opts.body_timeout = Duration::from_secs(self.body_timeout);
        if self.max_connections == 0 {
            return Err("--max-connections must be at least 1".into());
        }
        opts.max_connections = self.max_connections;
        opts.metrics_public = self.metrics_public;
        Ok((opts, generated))
    }
}

/// Which tools are offered. Read-only wins over the lists.
#[derive(Args, Debug, Clone)]
pub struct SelectionArgs {
    /// Offer (and accept) only tools that change nothing.
    #[arg(long, global = true, env = "DATASOURCE_MCP_READ_ONLY", value_parser = clap::builder::BoolishValueParser::new())]
    pub read_only: bool,
    /// Only these providers' tools, comma-separated: bigid, pdc, bigdata, databrain.
    #[arg(
        long,
        global = true,
        env = "DATASOURCE_MCP_TOOLSETS",
        value_name = "LIST"
    )]
    pub toolsets: Option<String>,
    /// Only these tools, comma-separated.
    #[arg(long, global = true, env = "DATASOURCE_MCP_TOOLS", value_name = "LIST")]
    pub tools: Option<String>,
}

impl SelectionArgs {
    pub fn selection(&self) -> Result<Selection, String> {
        Selection::parse(
            self.read_only,
            self.toolsets.as_deref(),
            self.tools.as_deref(),
        )
    }
}

/// Limits of requests to the vendors.
#[derive(Args, Debug, Clone)]
pub struct UpstreamArgs {
    /// Seconds to wait for a connection to a vendor.
    #[arg(
        long,
        global = true,
        env = "DATASOURCE_MCP_CONNECT_TIMEOUT",
        default_value_t = 10.0,
        value_name = "SECONDS"
    )]
    pub connect_timeout: f64,
    /// Seconds a whole vendor request may take.
    #[arg(
        long,
        global = true,
        env = "DATASOURCE_MCP_REQUEST_TIMEOUT",
        default_value_t = 60.0,
        value_name = "SECONDS"
    )]
    pub request_timeout: f64,
    /// Largest vendor response read, in bytes.
    #[arg(long, global = true, env = "DATASOURCE_MCP_MAX_RESPONSE_BYTES", default_value_t = 16 * 1024 * 1024, value_name = "BYTES")]
    pub max_response_bytes: usize,
    /// Vendor requests in flight at once; more wait their turn.
    #[arg(
        long,
        global = true,
        env = "DATASOURCE_MCP_MAX_CONCURRENT_REQUESTS",
        default_value_t = 16,
        value_name = "N"
    )]
    pub max_concurrent_requests: usize,
    /// Attempts after the first for requests that change nothing (never for writes).
    #[arg(
        long,
        global = true,
        env = "DATASOURCE_MCP_MAX_RETRIES",
        default_value_t = 3,
        value_name = "N"
    )]
    pub max_retries: usize,
    /// Largest result sent to a client, in bytes of compact JSON; past it a list keeps whole
    /// items and says it was truncated.
    #[arg(long, global = true, env = "DATASOURCE_MCP_MAX_RESULT_BYTES", default_value_t = 64 * 1024, value_name = "BYTES")]
    pub max_result_bytes: usize,
    /// Append every vendor request and answer, masked, as JSON lines to this file (for a bug
    /// report when a vendor answers differently than expected).
    #[arg(
        long,
        global = true,
        env = "DATASOURCE_MCP_TRACE_VENDOR",
        value_name = "FILE"
    )]
    pub trace_vendor: Option<PathBuf>,
    /// Append one JSON line per call that changes something or is refused (who, tool, target,
    /// outcome; never a secret) to this file, or `-` for stderr.
    #[arg(
        long,
        global = true,
        env = "DATASOURCE_MCP_AUDIT_LOG",
        value_name = "FILE"
    )]
    pub audit_log: Option<String>,
    /// Longest JSON-RPC line read on stdin, in bytes.
    #[arg(long, global = true, env = "DATASOURCE_MCP_MAX_LINE_BYTES", default_value_t = 4 * 1024 * 1024, value_name = "BYTES")]
    pub max_line_bytes: usize,
}

impl UpstreamArgs {
    pub fn settings(&self) -> Result<EngineSettings, String> {
        let secs = |name: &str, v: f64| {
            if v.is_finite() && v > 0.0 && v <= 3600.0 {
                Ok(Duration::from_secs_f64(v))
            } else {
                Err(format!("{name} must be between 0 and 3600 seconds"))
            }
        };
        if self.max_response_bytes < 1024 {
            return Err("--max-response-bytes must be at least 1024".into());
        }
        if !(1..=1024).contains(&self.max_concurrent_requests) {
            return Err("--max-concurrent-requests must be between 1 and 1024".into());
        }
        if self.max_retries > 10 {
            return Err("--max-retries must be at most 10".into());
        }
        if self.max_line_bytes < 1024 {
            return Err("--max-line-bytes must be at least 1024".into());
        }
        if self.max_result_bytes < 1024 {
            return Err("--max-result-bytes must be at least 1024".into());
        }
        let upstream = UpstreamSettings {
            connect_timeout: secs("--connect-timeout", self.connect_timeout)?,
            request_timeout: secs("--request-timeout", self.request_timeout)?,
            max_response_bytes: self.max_response_bytes,
            max_concurrent: self.max_concurrent_requests,
            retry: RetryPolicy {
                max_retries: self.max_retries,
                ..RetryPolicy::default()
            },
            trace: match &self.trace_vendor {
                Some(path) => Some(std::sync::Arc::new(
                    crate::upstream::Trace::open(path)
                        .map_err(|e| format!("--trace-vendor {}: {e}", path.display()))?,
                )),
                None => None,
            },
            ..UpstreamSettings::default()
        };
        let audit = match self.audit_log.as_deref() {
            None | Some("") => None,
            Some(target) => Some(Arc::new(
                AuditLog::open(target).map_err(|e| format!("--audit-log {target}: {e}"))?,
            )),
        };
        Ok(EngineSettings {
            upstream,
            max_result_bytes: self.max_result_bytes,
            audit,
        })
    }
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Serve MCP over stdio (what happens with no command).
    Serve,
    /// Print the tools the current environment enables.
    Tools,
    /// Run only the simulated vendor APIs, printing each provider's base URL and credentials.
    Sandbox {
        /// Address to listen on.
        #[arg(long, default_value = "127.0.0.1:8900")]
        listen: std::net::SocketAddr,
        /// Start with no source at any vendor (a new tenant), instead of the samples.
        #[arg(long)]
        empty: bool,
        /// Comma-separated user names (a-z, 0-9, _ and -, at most 32 each): where the vendor's
        /// credential is one static key (Bigdata.com, DataBrain), each gets one of their own,
        /// printed as SANDBOX_USER_<NAME>_<VARIABLE>.
        #[arg(long, value_name = "NAMES", value_parser = Users::parse)]
        users: Option<Users>,
        /// Append one JSON line per request Bigdata.com and DataBrain answer: vendor, method,
        /// path, status and whose credential it carried (a user's name, "service" or null).
        #[arg(long, value_name = "FILE")]
        record: Option<std::path::PathBuf>,
    },
    /// Call one tool and print its result as JSON (exit 1 on an error result, 2 on bad usage).
    Call(call::CallArgs),
    /// Check each configured provider: reachable, credential accepted (exit 1 if any fails).
    Doctor,
    /// Store a provider's credential in the OS keychain, so no client configuration holds it:
    /// asked with a masked prompt on a terminal, on a one-time local page otherwise.
    Login {
        /// bigid, pdc, bigdata or databrain.
        provider: String,
        /// The credential variable to store (default: the provider's first, e.g.
        /// BIGID_USER_TOKEN).
        variable: Option<String>,
    },
    /// List the names held in the OS keychain (credentials stored by `login`, values
    /// remembered from the intake page; never a value), or forget one.
    Secrets {
        #[command(subcommand)]
        action: Option<login::SecretsAction>,
    },
    /// Check every vendor fact the ledger marks assumed against the configured tenants and
    /// report, per provider, what the vendor answered (statuses and shapes, never a value).
    /// Read-only unless --write. Exit 0 when nothing differs, 1 when a fact differs, 2 when it
    /// could not run (or was interrupted, or left a throwaway behind).
    Verify {
        /// Also make a throwaway source `datasource-mcp-verify-<random>` at each configured
        /// vendor that can delete it, test and change it, and delete it (asks to confirm).
        #[arg(long)]
        write: bool,
        /// With --write: do not ask to confirm (for scripts).
        #[arg(long, requires = "write")]
        yes: bool,
        /// Print the report as JSON.
        #[arg(long)]
        json: bool,
        /// Also write the report to this file.
        #[arg(long, value_name = "FILE")]
        out: Option<PathBuf>,
    },
    /// Write what the configured vendors hold as a desired-state file (credentials as
    /// `${secret:NAME}` references): applied to another tenant it reproduces the sources,
    /// applied to this one it changes nothing. --toolsets narrows the platforms.
    State {
        /// The file to write (`.json` for JSON, else YAML); stdout without it.
        #[arg(long, value_name = "FILE")]
        out: Option<PathBuf>,
    },
    /// Print the plan of a desired-state file against what the vendors hold now (exit 0 when
    /// nothing would change, 3 when something would, 1 when a platform could not be read,
    /// 2 when the file is refused).
    Plan {
        /// The desired-state file (YAML or JSON).
        file: PathBuf,
        /// Keep the plan here, for `apply` (within the hour, before the vendors' state changes).
        #[arg(long, value_name = "PLAN")]
        out: Option<PathBuf>,
    },
    /// Make the changes of a plan kept by `plan --out` (refused when it expired or what the
    /// vendors hold changed since; exit 1 when a change failed).
    Apply {
        /// The plan file.
        plan: PathBuf,
        /// Go on with the other changes after one fails (default: stop).
        #[arg(long = "continue")]
        keep_going: bool,
        /// When a secret reference has no value, exit 2 at once instead of waiting for it to be
        /// entered on the intake page.
        #[arg(long)]
        no_wait: bool,
    },
    /// Write an Agent Skill folder (SKILL.md and a generated reference/) for the enabled tools.
    Skill {
        /// Directory to write the skill to.
        #[arg(long, value_name = "DIR")]
        out: PathBuf,
    },
    /// Rewrite the files generated from the table (tool-schemas/, the README's tool table,
    /// deploy/mcpb/manifest.json, deploy/registry/server.json), run from the repository's root.
    Generate {
        /// Compare with the files instead of writing; exit 1 on any difference.
        #[arg(long)]
        check: bool,
    },
    /// Print the MCP Registry entry of a release: deploy/registry/server.json plus one MCP
    /// Bundle package per .mcpb listed in the release's checksums (the release pipeline's step).
    #[command(hide = true)]
    ServerJson {
        /// The release's SHA256SUMS (`sha256sum` output) naming the bundles.
        #[arg(long, value_name = "SHA256SUMS")]
        bundles: PathBuf,
    },
}

pub fn main() -> ExitCode {
    let cli = Cli::parse();
    // A one-shot command's stderr is for its own summary; a server's for its log.
    let one_shot = matches!(
        cli.command,
        Some(
            Command::Call(_)
                | Command::Doctor
                | Command::Login { .. }
                | Command::Secrets { .. }
                | Command::Verify { .. }
                | Command::State { .. }
                | Command::Plan { .. }
                | Command::Apply { .. }
                | Command::Skill { .. }
                | Command::Generate { .. }
                | Command::ServerJson { .. }
        )
    );
    crate::logging::init(if one_shot {
        "warn,rmcp=warn"
    } else {
        "info,rmcp=warn"
    });
    let settings = match cli.upstream.settings() {
        Ok(s) => s,
        Err(e) => return fail(&e),
    };
    let selection = match cli.selection.selection() {
        Ok(s) => s,
        Err(e) => return fail(&e),
    };
    let max_line = cli.upstream.max_line_bytes;
    let keychain = cli.secrets.keychain();
    // The configuration every command that serves or calls runs with: the environment, `_FILE`
    // forms, and (outside the sandbox) provider credentials stored in the keychain by `login`.
    let configured = matches!(
        cli.command,
        None | Some(
            Command::Serve
                | Command::Tools
                | Command::Call(_)
                | Command::Doctor
                | Command::Verify { .. }
                | Command::State { .. }
                | Command::Plan { .. }
                | Command::Apply { .. }
        )
    );
    let (env, dir): (Arc<dyn Env + Send + Sync>, Option<SecretsDir>) = if configured {
        let from_keychain = (!cli.sandbox).then_some(&*keychain);
        let loaded = match environment::load(environment::process_vars(), from_keychain) {
            Ok(l) => l,
            Err(e) => return fail(&e.0),
        };
        let dir = match cli.secrets.dir(&loaded) {
            Ok(d) => d,
            Err(e) => return fail(&e),
        };
        for (name, origin) in &loaded.origins {
            match origin {
                Origin::File(path) => tracing::info!("{name} read from the file {path}"),
                Origin::Keychain => tracing::info!(
                    "{name} read from {} (stored by `datasource-mcp login`)",
                    crate::keychain::place()
                ),
            }
        }
        (Arc::new(loaded.vars), dir)
    } else {
        (Arc::new(std::collections::HashMap::new()), None)
    };
    if configured {
        // Found out once, before serving: a machine without a keychain then costs no call.
        // Remembered values are masked from start-up, like the environment's.
        if keychain.available() {
            keychain.register_remembered();
        }
    }
    let sources = Sources {
        env: env.clone(),
        dir,
        keychain: keychain.clone(),
    };
    match cli.command {
        None | Some(Command::Serve) if cli.http.transport == Transport::Http => {
            let (opts, generated) = match cli.http.options(&*env, cli.intake.public_url.as_deref())
            {
                Ok(o) => o,
                Err(e) => return fail(&e),
            };
            let (intake, intake_off) = match cli.intake.http(&opts.listen) {
                Ok(i) => i,
                Err(e) => return fail(&e),
            };
            if let Some(token) = &generated {
                redact::register_secret(token);
            }
            if matches!(opts.auth, http::Auth::None) {
                eprintln!(
                    "datasource-mcp: WARNING: --no-auth: any local process can call every tool"
                );
            }
            let oauth_shown = opts.auth.clone();
            run_multi_thread(async move {
                let (configs, sandbox) = provider_configs(cli.sandbox, true, &*env).await?;
                let store = cli.state.open().await?;
                let sealer = cli.state.sealer(&*env)?;
                let per_user = cli
                    .state
                    .per_user(store.clone(), sealer.clone())?
                    .map(|p| p.with_audit(settings.audit.clone()));
                // Replicas share the intake's links and values, sealed: a link one replica
                // offers opens on another, and its value serves a call on a third.
                if let Some(intake) = &intake
                    && cli.state.shared()
                {
                    if sealer.seals() {
                        intake.share(store.clone(), sealer.clone());
                    } else {
                        eprintln!(
                            "datasource-mcp: values typed on the intake page stay in this process (set DATASOURCE_MCP_STORE_KEY to share them, sealed, with the other replicas of --store)"
                        );
                    }
                }
                if per_user.is_some() && !matches!(oauth_shown, http::Auth::OAuth(_)) {
                    anyhow::bail!(
                        "--per-user-credentials needs OAuth (DATASOURCE_MCP_OAUTH_ISSUER): users are told apart by their token's subject"
                    );
                }
                // Tasks, plans and users' own credentials live in the store every replica
                // shares.
                let mut engine = sources
                    .engine(configs, settings, intake.clone())
                    .with_store(store.clone());
                if let Some(per_user) = per_user {
                    let per_user = Arc::new(per_user);
                    if let Some(intake) = &intake {
                        intake.keep_personal(per_user.clone());
                    }
                    engine = engine.with_per_user(per_user);
                }
                let server = DataSourceServer::new(Arc::new(engine), &selection)
                    .with_tasks(store, cli.state.tasks());
                let tools = server.catalog().operations().len();
                if let Some(sb) = &sandbox {
                    eprintln!("{}", sandbox_banner(sb, tools));
                }
                if let Some(why) = intake_off {
                    eprintln!(
                        "datasource-mcp: the secret intake page is off ({why}): a ${{secret:NAME}} without a value is an error naming DATASOURCE_MCP_SECRET_NAME"
                    );
                }
                let result = http::serve(server, opts, |addr| {
                    // One write: whoever reads the address also finds the token next to it.
                    let mut ready = format!(
                        "datasource-mcp {}: {tools} tools over MCP streamable HTTP at http://{addr}/mcp (stateless; probes at /healthz, Prometheus figures at /metrics)",
                        env!("CARGO_PKG_VERSION")
                    );
                    if let http::Auth::OAuth(cfg) = &oauth_shown {
                        let public = cfg.public_url.clone().or_else(|| format!("http://{addr}").parse().ok());
                        let metadata = public.as_ref().map(oauth::metadata_url).unwrap_or_default();
                        ready.push_str(&format!(
                            "\ndatasource-mcp: clients authenticate with OAuth access tokens from {} (scopes {} and {}); protected resource metadata at {metadata}",
                            cfg.issuer, cfg.read_scope, cfg.write_scope
                        ));
                    }
                    if let Some(token) = &generated {
                        ready.push_str(&format!(
                            "\ndatasource-mcp: clients authenticate with \"Authorization: Bearer {token}\" (generated for this run; set DATASOURCE_MCP_HTTP_TOKEN to choose one)"
                        ));
                    }
                    eprintln!("{ready}");
                }, shutdown::signal())
                .await;
                drop(sandbox);
                result
            })
        }
        None | Some(Command::Serve) => run_async(async move {
            let intake = cli
                .intake
                .loopback(keychain.clone())
                .map_err(|e| anyhow::anyhow!(e))?;
            let (configs, sandbox) = provider_configs(cli.sandbox, true, &*env).await?;
            let store = cli.state.open().await?;
            let engine = Arc::new(
                sources
                    .engine(configs, settings, intake)
                    .with_store(store.clone()),
            );
            let server = DataSourceServer::for_session(engine, &selection)
                .with_tasks(store, cli.state.tasks());
            serve_stdio(server, max_line, sandbox).await
        }),
        Some(Command::Tools) => run_async(async move {
            let (configs, _sandbox) = provider_configs(cli.sandbox, true, &*env).await?;
            let server = build_server(configs, settings, &selection, None, &sources, None);
            print_tools(&server);
            Ok(())
        }),
        Some(Command::Sandbox {
            listen,
            empty,
            users,
            record,
        }) => run_async(run_sandbox(
            listen,
            empty,
            users.unwrap_or_default(),
            record,
        )),
        Some(Command::Generate { check }) => generate(check),
        Some(Command::ServerJson { bundles }) => server_json(&bundles),
        Some(Command::Call(args)) => run_async_code(async move {
            let intake = cli
                .intake
                .loopback(keychain.clone())
                .map_err(|e| anyhow::anyhow!(e))?;
            let (configs, _sandbox) = provider_configs(cli.sandbox, false, &*env).await?;
            let engine = sources.engine(configs, settings, intake.clone());
            Ok(call::run(&args, engine, &selection, intake).await)
        }),
        Some(Command::Doctor) => run_async_code(async move {
            let (configs, _sandbox) = provider_configs(cli.sandbox, false, &*env).await?;
            Ok(run_doctor(sources.engine(configs, settings, None)).await)
        }),
        Some(Command::Login { provider, variable }) => {
            let settings = match cli.intake.settings() {
                Ok(s) => s,
                Err(e) => return fail(&e),
            };
            run_async_code(async move {
                Ok(login::login(&provider, variable.as_deref(), keychain, settings).await)
            })
        }
        Some(Command::Secrets { action }) => {
            run_async_code(async move { Ok(login::secrets(action, keychain).await) })
        }
        Some(Command::Verify {
            write,
            yes,
            json,
            out,
        }) => run_async_code(async move {
            if write && selection.read_only {
                return Ok(fail("verify --write makes changes: not with --read-only"));
            }
            let (configs, _sandbox) = provider_configs(cli.sandbox, false, &*env).await?;
            if configs.is_empty() {
                eprintln!("{}", self::setup_help());
                return Ok(ExitCode::from(2));
            }
            if write && !yes && !confirm_write(&configs).await {
                eprintln!("datasource-mcp: nothing was written");
                return Ok(ExitCode::from(2));
            }
            let engine = sources.engine(configs, settings, None);
            Ok(run_verify(engine, write, json, out.as_deref()).await)
        }),
        Some(Command::Skill { out }) => write_skill(&out, &selection),
        Some(Command::State { out }) => run_async_code(async move {
            let (configs, _sandbox) = provider_configs(cli.sandbox, false, &*env).await?;
            let engine = sources.engine(configs, settings, None);
            let only = selection.toolsets.clone();
            let cx = state::context(&selection);
            Ok(state::export(&engine, out.as_deref(), only.as_deref(), &cx).await)
        }),
        Some(Command::Plan { file, out }) => run_async_code(async move {
            let (configs, _sandbox) = provider_configs(cli.sandbox, false, &*env).await?;
            let engine = sources.engine(configs, settings, None);
            let cx = state::context(&selection);
            // `apply` asks on the intake page for a secret found nowhere, unless it is off.
            let asks = !cli.intake.no_secret_intake;
            Ok(state::plan(&engine, &file, out.as_deref(), asks, &cx).await)
        }),
        Some(Command::Apply {
            plan,
            keep_going,
            no_wait,
        }) => run_async_code(async move {
            if selection.read_only {
                return Ok(state::refuse_read_only(&settings));
            }
            let intake = cli
                .intake
                .loopback(keychain.clone())
                .map_err(|e| anyhow::anyhow!(e))?
                .filter(|_| !no_wait);
            let (configs, _sandbox) = provider_configs(cli.sandbox, false, &*env).await?;
            let engine = sources.engine(configs, settings, intake.clone());
            let on_failure = if keep_going {
                OnFailure::Continue
            } else {
                OnFailure::Stop
            };
            let cx = state::context(&selection);
            Ok(state::apply(&engine, &plan, on_failure, intake.as_ref(), &cx).await)
        }),
    }
}

async fn run_doctor(engine: Engine) -> ExitCode {
    let configured = engine.providers().len();
    let checks = doctor::check_all(&engine).await;
    print!("{}", doctor::render(&checks));
    let failed = checks.iter().filter(|c| c.failed()).count();
    if configured == 0 {
        eprintln!("datasource-mcp: no provider is configured");
        return ExitCode::from(1);
    }
    if failed > 0 {
        eprintln!("datasource-mcp: {failed} of {configured} configured providers failed");
        return ExitCode::from(1);
    }
    eprintln!(
        "datasource-mcp: run `datasource-mcp verify` for the full check of the vendor facts this server assumes"
    );
    ExitCode::SUCCESS
}

/// Asks on the terminal before `verify --write` makes anything: the answer must be `yes`.
async fn confirm_write(configs: &[ProviderConfig]) -> bool {
    let mut text = String::from(
        "verify --write makes a throwaway source named datasource-mcp-verify-<random> at each of these, tests it, changes it and deletes it:\n",
    );
    for c in configs {
        let spec = c.provider.spec();
        let what = match providers::write_script(c.provider) {
            Ok(_) => doctor::display_url(&c.base_url),
            Err(why) => format!("nothing is written ({why})"),
        };
        text.push_str(&format!("  {}: {what}\n", spec.title));
    }
    text.push_str("Type yes to go on: ");
    eprint!("{text}");
    let _ = std::io::Write::flush(&mut std::io::stderr());
    let line = tokio::task::spawn_blocking(|| {
        let mut line = String::new();
        std::io::stdin().read_line(&mut line).map(|_| line)
    })
    .await;
    let yes = matches!(&line, Ok(Ok(l)) if l.trim() == "yes");
    if !matches!(&line, Ok(Ok(l)) if l.ends_with('\n')) {
        eprintln!();
    }
    yes
}

/// Runs `verify`, Ctrl-C (or SIGTERM) stopping it and deleting what it made.
async fn run_verify(engine: Engine, write: bool, json: bool, out: Option<&Path>) -> ExitCode {
    let cancel = tokio_util::sync::CancellationToken::new();
    let stop = cancel.clone();
    let signals = tokio::spawn(async move {
        shutdown::signal().await;
        eprintln!("datasource-mcp: interrupted: deleting what verify made, then stopping");
        stop.cancel();
    });
    let report = verify::run(&engine, write, &cancel).await;
    signals.abort();
    let text = match json {
        true => format!("{:#}\n", report.to_json()),
        false => report.render(),
    };
    print!("{text}");
    if let Some(path) = out
        && let Err(e) = std::fs::write(path, &text)
    {
        eprintln!("datasource-mcp: {}: {e}", path.display());
        return ExitCode::from(2);
    }
    ExitCode::from(report.exit_code())
}

/// Writes the skill for every tool of the table the selection allows (configuration does not
/// matter: the skill is usually exported on another machine than the one it runs on).
fn write_skill(out: &Path, selection: &Selection) -> ExitCode {
    let ops: Vec<&'static crate::operation::OperationSpec> = providers::operations()
        .filter(|op| selection.allows(op))
        .collect();
    if ops.is_empty() {
        return fail("the selection leaves no tool to export");
    }
    let files = skill::files(&ops, selection.read_only);
    for (path, text) in &files {
        let path = out.join(path);
        let written = path
            .parent()
            .map_or(Ok(()), std::fs::create_dir_all)
            .and_then(|()| std::fs::write(&path, text));
        if let Err(e) = written {
            return fail(&format!("{}: {e}", path.display()));
        }
    }
    eprintln!(
        "wrote the {} skill ({} tools, {} files) to {}",
        skill::NAME,
        ops.len(),
        files.len(),
        out.display()
    );
    ExitCode::SUCCESS
}

/// An error that was already reported on stderr; exit 2 without repeating it.
#[derive(Debug, thiserror::Error)]
#[error("")]
struct Reported;

/// The providers to serve: from the environment, or every simulated one of a sandbox started
/// here (the sandbox lives as long as the returned handle). `setup_help`: say on stderr what to
/// set when nothing is configured (servers; one-shot commands say it themselves).
async fn provider_configs(
    sandbox: bool,
    setup_help: bool,
    env: &dyn Env,
) -> anyhow::Result<(Vec<ProviderConfig>, Option<Sandbox>)> {
    if sandbox {
        let sb = Sandbox::start(([127, 0, 0, 1], 0).into()).await?;
        let configs = providers::configure_all(&sb.env()).map_err(|e| anyhow::anyhow!(e.0))?;
        return Ok((configs, Some(sb)));
    }
    let configs = providers::configure_all(env).map_err(|e| {
        eprintln!("datasource-mcp: {}", e.0);
        Reported
    })?;
    if configs.is_empty() && setup_help {
        eprintln!("{}", self::setup_help());
    }
    Ok((configs, None))
}

async fn run_sandbox(
    listen: std::net::SocketAddr,
    empty: bool,
    users: Users,
    record: Option<std::path::PathBuf>,
) -> anyhow::Result<()> {
    let record = match &record {
        Some(path) => Some(
            Record::open(path).map_err(|e| anyhow::anyhow!("--record {}: {e}", path.display()))?,
        ),
        None => None,
    };
    let options = SandboxOptions {
        seed: if empty { Seed::Empty } else { Seed::Sample },
        users,
        record,
    };
    let sb = Sandbox::start_options(listen, options).await?;
    // Written at once: a script waiting for the last line finds every line before it.
    let mut out = format!(
        "# datasource-mcp sandbox: simulated vendor APIs at {} (in memory{}; Ctrl-C to stop)\n",
        sb.url(),
        if empty { ", no sources" } else { "" }
    );
    for vendor in &sb.vendors {
        out.push_str(&format!("# {}\n", vendor.provider.spec().title));
        for (k, v) in &vendor.env {
            out.push_str(&format!("export {k}={v}\n"));
        }
        if !vendor.alternatives.is_empty() {
            let alt: Vec<String> = vendor
                .alternatives
                .iter()
                .map(|(k, v)| format!("{k}={v}"))
                .collect();
            out.push_str(&format!("#   also accepted: {}\n", alt.join(" ")));
        }
        if !vendor.users.is_empty() {
            out.push_str("#   users' own, accepted like the service's:\n");
        }
        for (k, v) in &vendor.users {
            out.push_str(&format!("export {k}={v}\n"));
        }
    }
    use std::io::Write;
    let mut stdout = std::io::stdout().lock();
    let _ = stdout.write_all(out.as_bytes());
    let _ = stdout.flush();
    drop(stdout);
    shutdown::signal().await;
    Ok(())
}

fn fail(message: &str) -> ExitCode {
    eprintln!("datasource-mcp: {message}");
    ExitCode::from(2)
}

/// What to set when nothing is configured.
pub fn setup_help() -> String {
    let mut text = String::from(
        "datasource-mcp: no provider is configured, so no tools are listed. Set, for any of:\n",
    );
    for spec in providers::VENDORS {
        text.push_str(&format!("  {:<10} {}\n", spec.title, spec.setup));
    }
    text.push_str(
        "Each variable may be a file instead (NAME_FILE=/path), and a credential may be kept in the OS keychain: datasource-mcp login <provider>",
    );
    text
}

/// One runtime per process. stdio serves one client, so a single thread is enough and
/// starts faster.
fn run_async(fut: impl Future<Output = anyhow::Result<()>>) -> ExitCode {
    run_async_code(async { fut.await.map(|()| ExitCode::SUCCESS) })
}

/// Same, for a command that chooses its exit code.
fn run_async_code(fut: impl Future<Output = anyhow::Result<ExitCode>>) -> ExitCode {
    block_on(tokio::runtime::Builder::new_current_thread(), fut)
}

/// HTTP serves many clients at once: a thread per core.
fn run_multi_thread(fut: impl Future<Output = anyhow::Result<()>>) -> ExitCode {
    block_on(tokio::runtime::Builder::new_multi_thread(), async {
        fut.await.map(|()| ExitCode::SUCCESS)
    })
}

fn block_on(
    mut builder: tokio::runtime::Builder,
    fut: impl Future<Output = anyhow::Result<ExitCode>>,
) -> ExitCode {
    let runtime = match builder.enable_all().build() {
        Ok(rt) => rt,
        Err(e) => return fail(&format!("cannot start the runtime: {e}")),
    };
    match runtime.block_on(fut) {
        Ok(code) => code,
        Err(e) if e.is::<Reported>() => ExitCode::from(2),
        Err(e) => fail(&e.to_string()),
    }
}

/// Where `${secret:NAME}` references read values, in order: the configuration (environment
/// and `_FILE` forms), the secrets directory, the keychain (then the intake page, when on).
pub struct Sources {
    pub env: Arc<dyn Env + Send + Sync>,
    pub dir: Option<SecretsDir>,
    pub keychain: Arc<Keychain>,
}

impl Sources {
    /// The engine for the configured providers, its references reading these sources and the
    /// values entered on `intake`'s page when it is on.
    pub fn engine(
        &self,
        configs: Vec<ProviderConfig>,
        settings: EngineSettings,
        intake: Option<Arc<Intake>>,
    ) -> Engine {
        let mut engine =
            Engine::new(configs, settings, self.env.clone()).with_keychain(self.keychain.clone());
        if let Some(dir) = &self.dir {
            engine = engine.with_secrets_dir(dir.clone());
        }
        if let Some(intake) = intake {
            engine = engine.with_intake(intake);
        }
        engine
    }
}

/// The MCP server every surface uses: the engine for the configured providers, the tools
/// the selection allows. `${secret:NAME}` references read `sources`, and the values entered
/// on `intake`'s page when it is on; plans are kept in `store` (default: this process's
/// memory).
pub fn build_server(
    configs: Vec<ProviderConfig>,
    settings: EngineSettings,
    selection: &Selection,
    intake: Option<Arc<Intake>>,
    sources: &Sources,
    store: Option<Arc<dyn crate::store::Store>>,
) -> DataSourceServer {
    let mut engine = sources.engine(configs, settings, intake);
    if let Some(store) = store {
        engine = engine.with_store(store);
    }
    DataSourceServer::new(Arc::new(engine), selection)
}

async fn serve_stdio(
    server: DataSourceServer,
    max_line_bytes: usize,
    sandbox: Option<Sandbox>,
) -> anyhow::Result<()> {
    let tools = server.catalog().operations().len();
    if let Some(sb) = &sandbox {
        eprintln!("{}", sandbox_banner(sb, tools));
    }
    tracing::info!(
        tools,
        "datasource-mcp {} serving MCP over stdio",
        env!("CARGO_PKG_VERSION")
    );
    let result = crate::transport::stdio::serve(server, max_line_bytes).await;
    drop(sandbox);
    result
}

/// What `--sandbox` says on stderr: what it serves and how to connect a client.
fn sandbox_banner(sb: &Sandbox, tools: usize) -> String {
    let providers: Vec<&str> = sb.vendors.iter().map(|v| v.provider.id()).collect();
    let exe = std::env::current_exe()
        .map(|p| p.display().to_string())
        .unwrap_or_else(|_| "datasource-mcp".into());
    format!(
        "datasource-mcp {}: sandbox mode, {tools} tools ({}) against simulated vendor APIs at {}\n  \
         state is in memory and starts from the same seed each run; nothing reaches a real vendor\n  \
         try it in the MCP Inspector: npx @modelcontextprotocol/inspector {exe} --sandbox",
        env!("CARGO_PKG_VERSION"),
        providers.join(", "),
        sb.url()
    )
}

fn print_tools(server: &DataSourceServer) {
    let mut rows = Vec::new();
    for op in server.catalog().operations() {
        let access = if op.hints.read_only {
            "read-only"
        } else if op.hints.destructive {
            "destructive"
        } else {
            "write"
        };
        rows.push((op.name, access, op.title));
    }
    let width = rows.iter().map(|r| r.0.len()).max().unwrap_or(4).max(4);
    println!("{:<width$}  {:<11}  TITLE", "TOOL", "ACCESS");
    for (name, access, title) in &rows {
        println!("{name:<width$}  {access:<11}  {title}");
    }
}

fn server_json(sums: &Path) -> ExitCode {
    let sums = match std::fs::read_to_string(sums) {
        Ok(s) => s,
        Err(e) => return fail(&format!("{}: {e}", sums.display())),
    };
    match registry::bundles_from_sums(&sums) {
        Ok(bundles) => {
            print!("{}", registry::text(&registry::server_json(&bundles)));
            ExitCode::SUCCESS
        }
        Err(e) => fail(&e),
    }
}

fn generate(check: bool) -> ExitCode {
    let root = Path::new(".");
    let diffs = match generated::sync(root, !check) {
        Ok(d) => d,
        Err(e) => return fail(&e),
    };
    for d in &diffs {
        eprintln!("{d}");
    }
    if !check {
        eprintln!("generated files are up to date ({} rewritten)", diffs.len());
        return ExitCode::SUCCESS;
    }
    if diffs.is_empty() {
        return ExitCode::SUCCESS;
    }
    eprintln!("generated files are stale: run `datasource-mcp generate`");
    ExitCode::from(1)
}
