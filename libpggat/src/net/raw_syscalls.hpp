// recv and sendmsg as bare system calls, for the relay's reads and writes.
#pragma once

#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <unistd.h>

#include <cstddef>

namespace pggat::net::raw {

// glibc's recv() and sendmsg() are cancellation points: around the call
// they enable and then disable asynchronous cancellation, which in the relay
// cost about 40 instructions per call, as much as the rest of the wrapper.
// pggat never cancels its threads. Same results and errno as the wrappers.
inline ssize_t recv(int fd, void* data, std::size_t size, int flags) {
  return ::syscall(SYS_recvfrom, fd, data, size, flags, nullptr, nullptr);
}

inline ssize_t sendmsg(int fd, const msghdr* message, int flags) {
  return ::syscall(SYS_sendmsg, fd, message, flags);
}

}  // namespace pggat::net::raw
