//! `vigil`: the single binary.

use clap::Parser;
use server::cli::{
    self, ApikeyCommand, ChangesCommand, Cli, Command, RollupCommand, RoutingCommand, RulesCommand,
    UserCommand,
};
use server::Config;
use std::process::ExitCode;

#[tokio::main]
async fn main() -> ExitCode {
    let args = Cli::parse();
    let config = match Config::load(args.config.clone()) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(2);
        }
    };
    cli::init_tracing(&config);
    tracing::debug!(?config, "configuration");
    let result = match args.command.unwrap_or(Command::Serve) {
        Command::Serve => cli::serve(config).await,
        Command::Migrate => match server::wiring::open_services(&config).await {
            Ok(services) => {
                services.close().await;
                println!("migrations applied");
                Ok(())
            }
            Err(e) => Err(e),
        },
        Command::Demo { seed, scale, days, force } => {
            cli::demo(config, seed, scale, days, force).await
        }
        Command::Rollup { command: RollupCommand::Rebuild { from } } => {
            cli::rollup_rebuild(config, from).await
        }
        Command::User { command: UserCommand::Add { email, name, role, password } } => {
            cli::user_add(config, email, name, role, password).await
        }
        Command::Apikey { command: ApikeyCommand::Add { name, scope } } => {
            cli::apikey_add(config, name, scope).await
        }
        Command::Rules { command: RulesCommand::Import { file } } => {
            cli::rules_import(config, file).await
        }
        Command::Rules { command: RulesCommand::Export } => cli::rules_export(config).await,
        Command::Routing { command: RoutingCommand::Import { file } } => {
            cli::routing_import(config, file).await
        }
        Command::Routing { command: RoutingCommand::Export } => cli::routing_export(config).await,
        Command::Changes { command: ChangesCommand::Add(args) } => {
            cli::changes_add(config, args).await
        }
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}
