// The Prometheus endpoint: an HTTP listener (prometheus-cpp's, on its own
// threads) that serves the App's figures as they are at each scrape.
#pragma once

#include <functional>
#include <memory>
#include <string>

#include "metrics/families.hpp"
#include "pggat/config.hpp"
#include "pggat/expected.hpp"

namespace prometheus {
class Exposer;
}

namespace pggat::metrics {

class Exporter {
 public:
  // `source` is called on the endpoint's threads, once per scrape.
  using Source = std::function<Snapshot()>;

  // The text names the address and why it could not be listened on.
  [[nodiscard]] static Expected<std::unique_ptr<Exporter>, std::string> start(const MetricsOptions& options,
                                                                              Source source);
  ~Exporter();  // stops the endpoint: no scrape runs after it returns
  Exporter(const Exporter&) = delete;
  Exporter& operator=(const Exporter&) = delete;

  // "127.0.0.1:9930", the port as bound.
  [[nodiscard]] const std::string& address() const { return address_; }

 private:
  Exporter() = default;
  std::unique_ptr<prometheus::Exposer> exposer_;
  std::shared_ptr<void> collectable_;  // the exposer holds a weak reference
  std::string address_;
};

}  // namespace pggat::metrics
