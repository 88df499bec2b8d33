//! Everything that shows the operation table to someone: the MCP handler ([`server`]), the
//! `call` command ([`call`]), `doctor`, the Agent Skill export ([`skill`]), the MCP Bundle
//! manifest ([`bundle`]), the MCP Registry entry ([`registry`]), the prompts, the generated
//! reference and the checked-in generated files ([`generated`]). They read rows and provider
//! specs; none knows a vendor by name.

pub mod bundle;
pub mod call;
pub mod definition;
pub mod doctor;
pub mod generated;
pub mod login;
pub mod prompts;
pub mod reference;
pub mod registry;
pub mod server;
pub mod skill;
pub mod state;
pub mod tasks;
pub mod verify;
