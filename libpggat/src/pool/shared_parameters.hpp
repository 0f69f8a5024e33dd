// SharedParameters: parameter lists many clients hold alike, shared until one of them changes its own.
#pragma once

#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "pggat/parameters.hpp"

namespace pggat::pool {

// A client's parameters (what it wants set on servers, what it was told)
// are the same for most clients of a pool: one copy is shared, and a change
// copies first (copy on write). What a holder sees never changes under it:
// snapshot() can be kept (a server remembers what it was synced to) while
// the client changes its own.
class SharedParameters {
 public:
  SharedParameters() : p_(empty()) {}

  [[nodiscard]] const Parameters& get() const { return *p_; }
  [[nodiscard]] const std::string* find(std::string_view name) const { return p_->find(name); }
  // The current list, immutable: equal pointers mean equal lists.
  [[nodiscard]] const std::shared_ptr<const Parameters>& snapshot() const { return p_; }

  // Takes `shared` as the current list (from ParameterSets::intern, say).
  void adopt(std::shared_ptr<const Parameters> shared) { p_ = shared ? std::move(shared) : empty(); }

  // As Parameters::set; setting what is there already (same spelling, same
  // value) changes nothing and copies nothing.
  void set(std::string_view name, std::string_view value) {
    for (const auto& [n, v] : *p_)
      if (n == name && v == value) return;
    own().set(name, value);
  }
  bool erase(std::string_view name) {
    if (p_->find(name) == nullptr) return false;
    return own().erase(name);
  }

 private:
  static const std::shared_ptr<const Parameters>& empty() {
    static const std::shared_ptr<const Parameters> none = std::make_shared<Parameters>();
    return none;
  }
  // A list only this object holds, to change. Only holders of p_ can copy
  // it (ParameterSets holds the lists it hands out), so a use count of 1 means
  // no one else can see the change. Every list is made non-const (here and
  // in ParameterSets), so changing it through the cast is allowed.
  Parameters& own() {
    if (p_.use_count() != 1) p_ = std::make_shared<Parameters>(*p_);
    return const_cast<Parameters&>(*p_);
  }

  std::shared_ptr<const Parameters> p_;
};

// One shared copy per distinct list, for a pool's clients: clients whose
// lists are equal get the same pointer. The lists are held here too, so no
// client changes one in place; those no client holds any more are dropped
// when a new one comes. Past `max_lists` distinct live ones, new ones are
// not shared.
class ParameterSets {
 public:
  std::shared_ptr<const Parameters> intern(const Parameters& list) {
    std::lock_guard lock(mu_);
    std::shared_ptr<const Parameters> found;
    std::erase_if(sets_, [&](const std::shared_ptr<const Parameters>& held) {
      // Equal versions mean equal lists (a copy keeps its version), and
      // are quicker to compare: the same server's list, unchanged.
      if (!found && (held->version() == list.version() || *held == list)) {
        found = held;
        return false;
      }
      return held.use_count() == 1;  // only here: no client has it
    });
    if (found) return found;
    std::shared_ptr<const Parameters> made = std::make_shared<Parameters>(list);
    if (sets_.size() < max_lists) sets_.push_back(made);
    return made;
  }

 private:
  static constexpr std::size_t max_lists = 64;
  std::mutex mu_;
  std::vector<std::shared_ptr<const Parameters>> sets_;
};

// What a new client wants set on servers is made from its tracked names'
// defaults on the server and its startup parameters: for most clients of a
// pool the same inputs. The last inputs and their interned list are kept, so
// that a client like the one before takes the list without making it (a
// scan of both lists per name, and a list built to be thrown away).
class WantedMemo {
 public:
  [[nodiscard]] std::shared_ptr<const Parameters> find(std::uint64_t tracked_id, const Parameters& defaults,
                                                       const Parameters& client) {
    std::lock_guard lock(mu_);
    if (wanted_ && tracked_id == tracked_id_ && client == client_ &&
        (defaults.version() == defaults_.version() || defaults == defaults_))
      return wanted_;
    return nullptr;
  }
  void remember(std::uint64_t tracked_id, const Parameters& defaults, const Parameters& client,
                std::shared_ptr<const Parameters> wanted) {
    std::lock_guard lock(mu_);
    tracked_id_ = tracked_id;
    defaults_ = defaults;
    client_ = client;
    wanted_ = std::move(wanted);
  }

 private:
  std::mutex mu_;
  std::uint64_t tracked_id_ = 0;
  Parameters defaults_;
  Parameters client_;
  std::shared_ptr<const Parameters> wanted_;
};

// The last greeting a client got through a server, for the next client with
// the same tracked list and startup parameters: the list its servers must
// have (accepted by that server, so a bad value still fails a client at its
// startup, through a server) and the ParameterStatus values it was told.
// Kept while the pool's servers are as they were (ServerPool::changes()).
class GreetMemo {
 public:
  struct Greeting {
    std::shared_ptr<const Parameters> wanted;
    std::shared_ptr<const Parameters> view;
  };
  [[nodiscard]] std::optional<Greeting> find(std::uint64_t tracked_id, const Parameters& client,
                                             std::uint64_t changes) {
    std::lock_guard lock(mu_);
    if (greeting_.wanted && changes == changes_ && tracked_id == tracked_id_ && client == client_)
      return greeting_;
    return std::nullopt;
  }
  // `changes`: the pool's count before the greeting began.
  void remember(std::uint64_t tracked_id, const Parameters& client, std::uint64_t changes, Greeting greeting) {
    std::lock_guard lock(mu_);
    tracked_id_ = tracked_id;
    client_ = client;
    changes_ = changes;
    greeting_ = std::move(greeting);
  }

 private:
  std::mutex mu_;
  std::uint64_t tracked_id_ = 0;
  Parameters client_;
  std::uint64_t changes_ = 0;
  Greeting greeting_;
};

}  // namespace pggat::pool
