// SASLprep of SCRAM passwords, to the extent PostgreSQL's results are reproduced (see header).
#include "auth/saslprep.hpp"

namespace pggat::auth {

std::string saslprep_password(std::string_view password) {
  // ASCII: what PostgreSQL does too. Anything else: raw bytes, with the limits in the header.
  return std::string(password);
}

}  // namespace pggat::auth
