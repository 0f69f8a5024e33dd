// forwarder: a bare TCP byte forwarder, the floor any pooler's cost is measured against.
//
//   forwarder LISTEN_PORT UPSTREAM_PORT [THREADS]
//
// Every client connection on 127.0.0.1:LISTEN_PORT gets a connection of its
// own to 127.0.0.1:UPSTREAM_PORT, and bytes are copied both ways as they come:
// no parsing, no pooling, one epoll loop per thread (connections spread round
// robin), non-blocking recv/send with a buffer per direction. bench/run.py runs
// pgbench through it to show what one more hop costs on this machine: a
// pooler does all of this and more, so the forwarder's throughput and CPU per
// transaction bound what any pooler can reach here.
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <thread>
#include <vector>

namespace {

constexpr std::size_t buffer_size = 16 * 1024;

struct Pipe;

// One direction's end: the socket it reads, the bytes read and not yet
// written to the other end.
struct End {
  int fd = -1;
  Pipe* pipe = nullptr;
  End* peer = nullptr;
  char buf[buffer_size];
  std::size_t begin = 0, end = 0;  // pending bytes for peer->fd
  bool want_out = false;           // peer->fd is registered for EPOLLOUT on our behalf
};

struct Pipe {
  End client, server;
  int open = 2;
};

[[noreturn]] void die(const char* what) {
  std::perror(what);
  std::exit(1);
}

void set_nonblocking(int fd) {
  if (fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK) < 0) die("fcntl");
  int one = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
}

class Loop {
 public:
  explicit Loop(int upstream_port) : upstream_port_(upstream_port) {
    ep_ = epoll_create1(0);
    if (ep_ < 0) die("epoll_create1");
  }

  void adopt(int client_fd) {
    const int server_fd = socket(AF_INET, SOCK_STREAM, 0);
    if (server_fd < 0) {
      close(client_fd);
      return;
    }
    sockaddr_in to{};
    to.sin_family = AF_INET;
    to.sin_port = htons(static_cast<std::uint16_t>(upstream_port_));
    to.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (connect(server_fd, reinterpret_cast<sockaddr*>(&to), sizeof to) < 0) {
      close(server_fd);
      close(client_fd);
      return;
    }
    set_nonblocking(client_fd);
    set_nonblocking(server_fd);
    auto* p = new Pipe;
    p->client.fd = client_fd;
    p->server.fd = server_fd;
    p->client.pipe = p->server.pipe = p;
    p->client.peer = &p->server;
    p->server.peer = &p->client;
    watch(EPOLL_CTL_ADD, p->client, EPOLLIN);
    watch(EPOLL_CTL_ADD, p->server, EPOLLIN);
  }

  void run() {
    epoll_event events[256];
    for (;;) {
      const int n = epoll_wait(ep_, events, 256, -1);
      if (n < 0) {
        if (errno == EINTR) continue;
        die("epoll_wait");
      }
      for (int i = 0; i < n; ++i) {
        End* e = static_cast<End*>(events[i].data.ptr);
        if (e->fd < 0) continue;  // closed earlier in this batch
        if (events[i].events & EPOLLOUT) flush(*e->peer);
        if (e->fd >= 0 && (events[i].events & (EPOLLIN | EPOLLHUP | EPOLLERR))) pump(*e);
      }
      for (Pipe* p : dead_) delete p;
      dead_.clear();
    }
  }

 private:
  void watch(int op, End& e, std::uint32_t events) {
    epoll_event ev{};
    ev.events = events;
    ev.data.ptr = &e;
    epoll_ctl(ep_, op, e.fd, &ev);
  }

  // What x's socket is watched for: input while x's buffer has room, output
  // while its peer has bytes waiting for it.
  void rearm(End& x) {
    std::uint32_t events = 0;
    if (x.end < buffer_size) events |= EPOLLIN;
    if (x.peer->want_out) events |= EPOLLOUT;
    watch(EPOLL_CTL_MOD, x, events);
  }

  // Reads what e's socket has while its buffer has room, sending as it goes.
  void pump(End& e) {
    while (e.end < buffer_size) {
      const ssize_t n = recv(e.fd, e.buf + e.end, buffer_size - e.end, 0);
      if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR)) {
        shut(*e.pipe);
        return;
      }
      if (n < 0) {
        if (errno == EINTR) continue;
        return;
      }
      e.end += static_cast<std::size_t>(n);
      if (!flush(e)) return;
    }
    rearm(e);  // full: no more input until the peer drained it
  }

  // Sends e's pending bytes to its peer; false when the pipe was closed.
  bool flush(End& e) {
    while (e.begin < e.end) {
      const ssize_t n = send(e.peer->fd, e.buf + e.begin, e.end - e.begin, MSG_NOSIGNAL);
      if (n < 0) {
        if (errno == EINTR) continue;
        if (errno != EAGAIN) {
          shut(*e.pipe);
          return false;
        }
        if (!e.want_out) {
          e.want_out = true;
          rearm(*e.peer);
        }
        return true;
      }
      e.begin += static_cast<std::size_t>(n);
    }
    const bool was_full = e.end == buffer_size;
    e.begin = e.end = 0;
    if (e.want_out) {
      e.want_out = false;
      rearm(*e.peer);
    }
    if (was_full) rearm(e);
    return true;
  }

  void shut(Pipe& p) {
    if (p.client.fd < 0) return;
    close(p.client.fd);
    close(p.server.fd);
    p.client.fd = p.server.fd = -1;
    dead_.push_back(&p);
  }

  int ep_ = -1;
  int upstream_port_;
  std::vector<Pipe*> dead_;
};

}  // namespace

int main(int argc, char** argv) {
  if (argc < 3) {
    std::fprintf(stderr, "usage: forwarder LISTEN_PORT UPSTREAM_PORT [THREADS]\n");
    return 2;
  }
  const int listen_port = std::atoi(argv[1]);
  const int upstream_port = std::atoi(argv[2]);
  const int threads = argc > 3 ? std::max(1, std::atoi(argv[3])) : 1;

  const int lfd = socket(AF_INET, SOCK_STREAM, 0);
  if (lfd < 0) die("socket");
  int one = 1;
  setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  sockaddr_in at{};
  at.sin_family = AF_INET;
  at.sin_port = htons(static_cast<std::uint16_t>(listen_port));
  at.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (bind(lfd, reinterpret_cast<sockaddr*>(&at), sizeof at) < 0) die("bind");
  if (listen(lfd, 4096) < 0) die("listen");

  std::vector<Loop*> loops;
  for (int i = 0; i < threads; ++i) loops.push_back(new Loop(upstream_port));
  std::vector<std::thread> running;
  // adopt() runs on the accepting thread; epoll_ctl is safe across threads and
  // each End is touched afterwards only by its own loop.
  for (Loop* l : loops) running.emplace_back([l] { l->run(); });
  for (std::size_t next = 0;; ++next) {
    const int cfd = accept(lfd, nullptr, nullptr);
    if (cfd < 0) {
      if (errno == EINTR || errno == ECONNABORTED || errno == EMFILE) continue;
      die("accept");
    }
    loops[next % loops.size()]->adopt(cfd);
  }
}
