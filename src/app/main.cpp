#include "app/commands.hpp"

int main(int argc, char** argv, char** envp) {
  return wattos::app::run_cli(argc, argv, envp);
}
