// The Prometheus endpoint over prometheus-cpp's exposer.
#include "metrics/exporter.hpp"

#include <prometheus/collectable.h>
#include <prometheus/exposer.h>

#include "net/address.hpp"

namespace pggat::metrics {
namespace {

class SnapshotCollectable final : public prometheus::Collectable {
 public:
  explicit SnapshotCollectable(Exporter::Source source) : source_(std::move(source)) {}
  std::vector<prometheus::MetricFamily> Collect() const override { return families(source_()); }

 private:
  Exporter::Source source_;
};

}  // namespace

Expected<std::unique_ptr<Exporter>, std::string> Exporter::start(const MetricsOptions& options,
                                                                 Source source) {
  const auto address = net::parse_address(options.listen);
  if (!address || address->is_unix())
    return Unexpected("metrics listen address \"" + options.listen + "\": not a host:port");
  std::unique_ptr<Exporter> out(new Exporter());
  try {
    // One thread is plenty for scrapes every few seconds; civetweb takes
    // "[::1]:port" for IPv6 as we write it.
    out->exposer_ = std::make_unique<prometheus::Exposer>(address->to_string(), 1);
  } catch (const std::exception& e) {
    return Unexpected("cannot listen for metrics on " + options.listen + ": " + e.what());
  }
  auto collectable = std::make_shared<SnapshotCollectable>(std::move(source));
  out->exposer_->RegisterCollectable(collectable, options.path);
  out->collectable_ = collectable;
  const auto ports = out->exposer_->GetListeningPorts();
  const std::string host = options.listen.substr(0, options.listen.rfind(':'));
  out->address_ = host + ":" + (ports.empty() ? std::string("?") : std::to_string(ports.front()));
  return out;
}

Exporter::~Exporter() = default;

}  // namespace pggat::metrics
