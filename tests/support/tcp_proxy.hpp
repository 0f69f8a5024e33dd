// A TCP proxy on loopback whose connections a test can cut, to make a server vanish.
#pragma once

#include <atomic>
#include <cstdint>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace pggat::test {

// Forwards every connection made to 127.0.0.1:port() to the target address,
// one thread per connection pair. cut_all() closes every open pair at once,
// without a word to either side: to pggat, its server just vanished.
class TcpProxy {
 public:
  // listen_port 0: one the kernel picks.
  TcpProxy(std::string target_host, std::uint16_t target_port, std::uint16_t listen_port = 0);
  ~TcpProxy();
  TcpProxy(const TcpProxy&) = delete;
  TcpProxy& operator=(const TcpProxy&) = delete;

  [[nodiscard]] std::uint16_t port() const { return port_; }
  [[nodiscard]] std::string address() const { return "127.0.0.1:" + std::to_string(port_); }
  // Connections forwarded so far.
  [[nodiscard]] int accepted() const { return accepted_.load(); }
  // Messages of `type` the clients of this proxy sent (after their startup packet).
  [[nodiscard]] long sent(char type) const {
    return sent_[static_cast<unsigned char>(type)].load();
  }
  void cut_all();

 private:
  void accept_loop();
  void pump(int client_fd, int server_fd);

  std::string target_host_;
  std::uint16_t target_port_;
  int listen_fd_ = -1;
  std::uint16_t port_ = 0;
  std::atomic<bool> stopping_{false};
  std::atomic<int> accepted_{0};
  std::atomic<long> sent_[256] = {};
  std::mutex mu_;
  std::vector<int> open_fds_;
  std::vector<std::thread> threads_;
  std::thread acceptor_;
};

}  // namespace pggat::test
