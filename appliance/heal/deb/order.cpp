#include "heal/deb/order.hpp"

#include <algorithm>
#include <functional>

namespace airheal::heal::deb {

std::vector<std::vector<std::size_t>> dpkg_batches(const std::vector<Package>& packages) {
  const auto n = packages.size();
  // Edge i -> j: package i pre-depends on something package j provides (by name or Provides,
  // whatever the version: j's unpacked-but-unconfigured state is what dpkg refuses).
  std::vector<std::vector<std::size_t>> needs(n);
  for (std::size_t i = 0; i < n; ++i)
    for (const auto& group : packages[i].pre_depends)
      for (const auto& r : group)
        for (std::size_t j = 0; j < n; ++j) {
          if (i == j) continue;
          Relation any = r;
          any.op = Op::none;
          if (satisfies(any, packages[j]) &&
              std::find(needs[i].begin(), needs[i].end(), j) == needs[i].end())
            needs[i].push_back(j);
        }
  // Strongly connected components (Tarjan), so that a cycle becomes one call.
  std::vector<int> index(n, -1), low(n, 0), comp(n, -1);
  std::vector<bool> on_stack(n, false);
  std::vector<std::size_t> stack;
  int counter = 0, comps = 0;
  std::function<void(std::size_t)> visit = [&](std::size_t v) {
    index[v] = low[v] = counter++;
    stack.push_back(v);
    on_stack[v] = true;
    for (auto w : needs[v]) {
      if (index[w] < 0) {
        visit(w);
        low[v] = std::min(low[v], low[w]);
      } else if (on_stack[w]) {
        low[v] = std::min(low[v], index[w]);
      }
    }
    if (low[v] == index[v]) {
      while (true) {
        auto w = stack.back();
        stack.pop_back();
        on_stack[w] = false;
        comp[w] = comps;
        if (w == v) break;
      }
      ++comps;
    }
  };
  for (std::size_t v = 0; v < n; ++v)
    if (index[v] < 0) visit(v);
  // Level of a component: one more than the deepest component it pre-depends on. Tarjan numbers
  // components in reverse topological order (dependencies first), so one pass suffices.
  std::vector<std::vector<std::size_t>> members(static_cast<std::size_t>(comps));
  for (std::size_t v = 0; v < n; ++v) members[static_cast<std::size_t>(comp[v])].push_back(v);
  std::vector<std::size_t> level(static_cast<std::size_t>(comps), 0);
  std::size_t depth = 0;
  for (std::size_t c = 0; c < static_cast<std::size_t>(comps); ++c) {
    for (auto v : members[c])
      for (auto w : needs[v])
        if (static_cast<std::size_t>(comp[w]) != c)
          level[c] = std::max(level[c], level[static_cast<std::size_t>(comp[w])] + 1);
    depth = std::max(depth, level[c]);
  }
  std::vector<std::vector<std::size_t>> out(n ? depth + 1 : 0);
  for (std::size_t v = 0; v < n; ++v) out[level[static_cast<std::size_t>(comp[v])]].push_back(v);
  return out;
}

}  // namespace airheal::heal::deb
