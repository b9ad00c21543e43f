#pragma once
// What a process that parses untrusted bytes gives up before it starts: root (for the owner of
// its state), capabilities, privilege gains through exec, namespaces and writable-executable
// memory. airheald does this itself (--confine), so it holds outside systemd too; its unit asks
// systemd for the same (User=, CapabilityBoundingSet=, RestrictNamespaces=, ...).
#include <sys/types.h>

#include <filesystem>
#include <initializer_list>
#include <string>

#include "core/result.hpp"

namespace airheal::confine {

// When the process runs as root and PATH belongs to another user: become that user for good
// (its uid and gid, no supplementary groups). Nothing happens otherwise. Returns whether the
// process changed user. The capabilities in KEEP (CAP_* numbers) stay effective in this process
// (never in the programs it runs): airheald keeps CAP_NET_BIND_SERVICE for a listener on port
// 443 until confine_process drops it, as the unit's AmbientCapabilities= does; airhealctl keeps
// CAP_DAC_READ_SEARCH and CAP_DAC_OVERRIDE so that the operator's files (a key on a medium only
// root may read, an export to /root) stay reachable while what it creates is the owner's.
Result<bool> become_owner_of(const std::filesystem::path& path,
                             std::initializer_list<int> keep = {});

// No new privileges (exec of set-user-ID files and file capabilities gains nothing), no
// capabilities (effective, permitted, inheritable, ambient; the bounding set as far as the
// process may drop it), and a seccomp filter on this thread (call it before starting others;
// children inherit it) that refuses with EPERM: making or entering namespaces (unshare, setns,
// clone with CLONE_NEW*; clone3 answers ENOSYS so that libc falls back to clone), mounting,
// chroot, ptrace and other processes' memory, kernel modules, bpf, perf events, userfaultfd,
// open_by_handle_at, and memory that is writable and executable at once or made executable
// later; and what airheald.service's SystemCallFilter=~@privileged @resources refuses besides
// (changing owners or identities, capabilities, clocks, host names, scheduling, priorities and
// resource limits), so that a confined daemon meets the limits it meets under systemd. A process
// running as root is refused: confinement is for the unprivileged user; so is one that has started
// a second thread already (the filter binds only the calling thread).
Status confine_process();

// Whether this build can install the filter (x86-64 and arm64).
bool filter_supported();

}  // namespace airheal::confine
