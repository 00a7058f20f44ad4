// File: app/commands.hpp
//
// The `wattos` command line:
//   wattos serve   [--config FILE] [--service NAME] [--port N]   run the platform (default: all services)
//   wattos migrate [--config FILE]                                apply pending database migrations
//   wattos config  [--config FILE]                                print the effective configuration
//   wattos audit verify [--config FILE]                           check the audit log's hash chain (exit 3: broken)
//   wattos version
// The config file defaults to $WATTOS_CONFIG; without either, built-in defaults apply.
#pragma once

namespace wattos::app {

// Returns the process exit code: 0 success, 1 runtime failure, 2 bad usage or config.
int run_cli(int argc, char** argv, char** envp);

}  // namespace wattos::app
