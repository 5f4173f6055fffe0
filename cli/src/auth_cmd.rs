//! `mcpstore auth login|logout|status SERVICE`: OAuth authorization of an
//! HTTP service. Login goes through the browser (the library's loopback
//! authorizer prints the URL and waits for the redirect on 127.0.0.1);
//! credentials are kept in the default token store, so later commands use them.

use std::process::ExitCode;

use mcpstore::{Error, Store};

use crate::feature_args::AuthCommand;

/// Runs one `auth` action; status and login print the service's status as JSON.
pub fn run(store: &Store, action: &AuthCommand) -> Result<ExitCode, Error> {
    match action {
        AuthCommand::Login { service } => {
            let status = store.auth_login(service)?;
            println!("{}", status.to_json());
        }
        AuthCommand::Logout { service } => {
            store.auth_logout(service)?;
            eprintln!("mcpstore: logged out of {service}");
        }
        AuthCommand::Status { service } => println!("{}", store.auth_status(service)?.to_json()),
    }
    Ok(ExitCode::SUCCESS)
}
