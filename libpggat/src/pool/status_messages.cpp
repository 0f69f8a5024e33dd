// Encoding a greeting's ParameterStatus messages once per told list.
#include "pool/status_messages.hpp"

#include "pggat/proto/backend.hpp"

namespace pggat::pool {

void StatusMessages::append(proto::Buffer& out, const std::shared_ptr<const Parameters>& told,
                            std::size_t more) {
  std::lock_guard lock(mu_);
  Entry* entry = nullptr;
  for (auto& e : entries_)
    if (e.told == told) entry = &e;
  if (entry == nullptr) {
    entry = &entries_[next_];
    next_ = (next_ + 1) % entries_.size();
    entry->told = told;
    entry->bytes.clear();
    for (const auto& [name, value] : *told) proto::be::ParameterStatus{name, value}.encode(entry->bytes);
  }
  out.reserve(out.size() + entry->bytes.size() + more);
  out.insert(out.end(), entry->bytes.begin(), entry->bytes.end());
}

}  // namespace pggat::pool
