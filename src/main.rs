use std::process::ExitCode;

fn main() -> ExitCode {
    datasource_mcp::cli::main()
}
