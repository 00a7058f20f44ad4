// Runs the real `wattos` binary as a child process with a fresh data directory and
// port 0, learns its port from the "listening" log line, and collects its output.
#pragma once

#include <boost/json/parse.hpp>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>

#include "../unit/net/test_client.hpp"

extern char** environ;

namespace wattos::testing {

using namespace wattos::net::testing;

struct child_process {
  pid_t pid = -1;
  int stderr_fd = -1;
  std::string captured;

  // Reads stderr until a line contains `needle` (or the process exits, or 20 s pass).
  std::string wait_for_line(std::string_view needle) {
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
    std::size_t searched = 0;
    while (std::chrono::steady_clock::now() < deadline) {
      auto pos = captured.find(needle, searched);
      if (pos != std::string::npos) {
        auto start = captured.rfind('\n', pos);
        auto end = captured.find('\n', pos);
        if (end != std::string::npos) return captured.substr(start == std::string::npos ? 0 : start + 1, end - start);
      }
      pollfd p{stderr_fd, POLLIN, 0};
      if (::poll(&p, 1, 200) > 0) {
        char buf[4096];
        ssize_t n = ::read(stderr_fd, buf, sizeof buf);
        if (n <= 0) break;
        captured.append(buf, static_cast<std::size_t>(n));
      }
    }
    return {};
  }

  int wait_exit() {
    int status = 0;
    ::waitpid(pid, &status, 0);
    pid = -1;
    // Drain what is left for assertions on the log.
    char buf[4096];
    ssize_t n;
    while ((n = ::read(stderr_fd, buf, sizeof buf)) > 0) captured.append(buf, static_cast<std::size_t>(n));
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  }

  ~child_process() {
    if (pid > 0) {
      ::kill(pid, SIGKILL);
      ::waitpid(pid, nullptr, 0);
    }
    if (stderr_fd >= 0) ::close(stderr_fd);
  }
};

class wattos_binary : public ::testing::Test {
 protected:
  void SetUp() override {
    data_dir =
        std::filesystem::temp_directory_path() / ("wattos-it-" + std::to_string(::getpid()) + "-" +
                                                  ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::remove_all(data_dir);
  }
  void TearDown() override { std::filesystem::remove_all(data_dir); }

  std::unique_ptr<child_process> start(std::vector<std::string> args, std::vector<std::string> extra_env = {}) {
    auto child = std::make_unique<child_process>();
    int fds[2];
    if (::pipe(fds) != 0) throw std::runtime_error("pipe");
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_adddup2(&actions, fds[1], 1);
    posix_spawn_file_actions_adddup2(&actions, fds[1], 2);
    posix_spawn_file_actions_addclose(&actions, fds[0]);
    std::vector<std::string> env_strings = {"WATTOS_DATA_DIR=" + data_dir.string(), "WATTOS_SERVER_PORT=0"};
    for (char** e = environ; *e; ++e) {
      std::string_view entry(*e);
      if (entry.starts_with("ASAN_") || entry.starts_with("UBSAN_") || entry.starts_with("PATH="))
        env_strings.emplace_back(entry);
    }
    for (auto& e : extra_env) env_strings.push_back(e);
    std::vector<char*> envp;
    for (auto& e : env_strings) envp.push_back(e.data());
    envp.push_back(nullptr);
    args.insert(args.begin(), WATTOS_BINARY);
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    int rc = posix_spawn(&child->pid, WATTOS_BINARY, &actions, nullptr, argv.data(), envp.data());
    posix_spawn_file_actions_destroy(&actions);
    ::close(fds[1]);
    child->stderr_fd = fds[0];
    if (rc != 0) throw std::runtime_error("posix_spawn failed");
    return child;
  }

  static std::uint16_t port_from(const std::string& listening_line) {
    auto v = boost::json::parse(listening_line);
    return static_cast<std::uint16_t>(v.at("port").as_int64());
  }

  std::filesystem::path data_dir;
};

}  // namespace wattos::testing
