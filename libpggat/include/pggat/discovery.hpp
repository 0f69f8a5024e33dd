// Discovery: finds PostgreSQL clusters at run time and feeds their nodes to pools.
#pragma once

#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "pggat/context.hpp"
#include "pggat/export.hpp"

namespace pggat {

struct DiscoveredNode {
  std::string address{};
  int priority = 0;
};

struct DiscoveredUser {
  std::string username{};
  std::string password{};
};

// One primary with its replicas, the databases on it and the users that may log in.
struct DiscoveredCluster {
  std::string id{};
  DiscoveredNode primary{};
  std::map<std::string, DiscoveredNode> replicas{};  // by replica id
  std::vector<std::string> databases{};
  std::vector<DiscoveredUser> users{};
};

// Where a discoverer reports what it finds; the discovery handler implements it.
class PGGAT_API DiscoverySink {
 public:
  virtual ~DiscoverySink() = default;
  virtual void cluster_added(const DiscoveredCluster& cluster) = 0;  // also for changes
  virtual void cluster_removed(std::string_view id) = 0;
};

// A source of clusters (cloud API, Kubernetes operator, ...). Implementations
// arrive with the discovery handler; the interface is fixed now so embedders
// can write their own.
class PGGAT_API Discovery {
 public:
  virtual ~Discovery() = default;
  virtual void start(const Context& context, DiscoverySink& sink) = 0;
  virtual void stop() = 0;
};

}  // namespace pggat
