// The order of dpkg calls that installs a set of packages in an image that has dpkg but no apt.
// One `dpkg -i` unpacks every package it is given before configuring any, so a package whose
// Pre-Depends names another package of the set must come in a later call than that package:
// dpkg refuses to unpack it while its pre-dependency is only unpacked ("pre-dependency problem").
// Depends need no ordering: dpkg configures the packages of one call in dependency order.
#pragma once

#include <cstddef>
#include <vector>

#include "heal/deb/control.hpp"

namespace airheal::heal::deb {

// Batches of indexes into PACKAGES, each one dpkg call, in the order to run them. Packages whose
// Pre-Depends form a cycle among themselves share a call (dpkg resolves those itself, if at all).
// Within a batch the input order is kept.
std::vector<std::vector<std::size_t>> dpkg_batches(const std::vector<Package>& packages);

}  // namespace airheal::heal::deb
