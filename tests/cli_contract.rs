//! The clap definitions are consistent (unique argument ids and the like):
//! clap checks this only when a command is parsed in a debug build, as a panic.

use clap::CommandFactory;

#[test]
fn the_command_line_definition_is_valid() {
    reach::cli::Cli::command().debug_assert();
}
