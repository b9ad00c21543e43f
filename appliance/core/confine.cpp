#include "core/confine.hpp"

#include <grp.h>
#include <linux/audit.h>
#include <linux/capability.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <sched.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/shm.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <cstddef>
#include <cstring>
#include <vector>

namespace airheal::confine {
namespace {

#if defined(__x86_64__)
constexpr std::uint32_t kArch = AUDIT_ARCH_X86_64;
#elif defined(__aarch64__)
constexpr std::uint32_t kArch = AUDIT_ARCH_AARCH64;
#else
constexpr std::uint32_t kArch = 0;
#endif

std::string why(const char* what) { return std::string(what) + ": " + std::strerror(errno); }

// System calls refused outright. (Those a platform lacks are left out by the preprocessor.)
const std::vector<long>& denied_calls() {
  static const std::vector<long> calls = {
      SYS_unshare,
      SYS_setns,
      SYS_mount,
      SYS_umount2,
      SYS_pivot_root,
      SYS_chroot,
      SYS_ptrace,
      SYS_process_vm_readv,
      SYS_process_vm_writev,
      SYS_bpf,
      SYS_perf_event_open,
      SYS_userfaultfd,
      SYS_open_by_handle_at,
      SYS_name_to_handle_at,
      SYS_init_module,
      SYS_finit_module,
      SYS_delete_module,
      SYS_kexec_load,
      SYS_swapon,
      SYS_swapoff,
      SYS_reboot,
      SYS_add_key,
      SYS_request_key,
#ifdef SYS_kexec_file_load
      SYS_kexec_file_load,
#endif
      // What the unit's SystemCallFilter=~@privileged @resources refuses as well, so that the
      // confined daemon in the tests meets the limits it meets under systemd.
      SYS_fchown,
      SYS_fchownat,
      SYS_setuid,
      SYS_setgid,
      SYS_setreuid,
      SYS_setregid,
      SYS_setresuid,
      SYS_setresgid,
      SYS_setgroups,
      SYS_setfsuid,
      SYS_setfsgid,
      SYS_capset,
      SYS_acct,
      SYS_quotactl,
      SYS_sethostname,
      SYS_setdomainname,
      SYS_settimeofday,
      SYS_clock_settime,
      SYS_clock_adjtime,
      SYS_adjtimex,
      SYS_fanotify_init,
      SYS_vhangup,
      SYS_ioprio_set,
      SYS_mbind,
      SYS_migrate_pages,
      SYS_move_pages,
      SYS_sched_setaffinity,
      SYS_sched_setattr,
      SYS_sched_setparam,
      SYS_sched_setscheduler,
      SYS_set_mempolicy,
      SYS_setpriority,
      SYS_setrlimit,
#ifdef SYS_chown
      SYS_chown,
      SYS_lchown,
#endif
#ifdef SYS_iopl
      SYS_iopl,
      SYS_ioperm,
#endif
#ifdef SYS_open_tree
      SYS_open_tree,
      SYS_move_mount,
      SYS_fsopen,
      SYS_fsconfig,
      SYS_fsmount,
      SYS_fspick,
#endif
#ifdef SYS_mount_setattr
      SYS_mount_setattr,
#endif
  };
  return calls;
}

constexpr std::uint32_t kNamespaceFlags = CLONE_NEWNS | CLONE_NEWUTS | CLONE_NEWIPC |
                                          CLONE_NEWUSER | CLONE_NEWPID | CLONE_NEWNET |
                                          CLONE_NEWCGROUP;

struct Program {
  std::vector<sock_filter> code;
  void stmt(std::uint16_t op, std::uint32_t k) { code.push_back(BPF_STMT(op, k)); }
  void jump(std::uint16_t op, std::uint32_t k, std::uint8_t jt, std::uint8_t jf) {
    code.push_back(BPF_JUMP(op, k, jt, jf));
  }
  void ret(std::uint32_t v) { stmt(BPF_RET | BPF_K, v); }
  void load_nr() { stmt(BPF_LD | BPF_W | BPF_ABS, offsetof(seccomp_data, nr)); }
  // The low 32 bits of argument N (little-endian: the first word).
  void load_arg(int n) {
    stmt(BPF_LD | BPF_W | BPF_ABS,
         static_cast<std::uint32_t>(offsetof(seccomp_data, args) + 8 * static_cast<unsigned>(n)));
  }
  // If the call is NR and argument ARG has any of MASK's bits: EPERM; else allowed.
  void refuse_bits(long nr, int arg, std::uint32_t mask) {
    jump(BPF_JMP | BPF_JEQ | BPF_K, static_cast<std::uint32_t>(nr), 0, 4);
    load_arg(arg);
    jump(BPF_JMP | BPF_JSET | BPF_K, mask, 0, 1);
    ret(SECCOMP_RET_ERRNO | EPERM);
    ret(SECCOMP_RET_ALLOW);
  }
};

Program filter() {
  Program p;
  p.stmt(BPF_LD | BPF_W | BPF_ABS, offsetof(seccomp_data, arch));
  p.jump(BPF_JMP | BPF_JEQ | BPF_K, kArch, 1, 0);
  p.ret(SECCOMP_RET_KILL_PROCESS);
  p.load_nr();
#if defined(__x86_64__)
  p.jump(BPF_JMP | BPF_JGE | BPF_K, 0x40000000u, 0, 1);  // the x32 ABI: none of ours
  p.ret(SECCOMP_RET_ERRNO | EPERM);
#endif
  for (long nr : denied_calls()) {
    p.jump(BPF_JMP | BPF_JEQ | BPF_K, static_cast<std::uint32_t>(nr), 0, 1);
    p.ret(SECCOMP_RET_ERRNO | EPERM);
  }
#ifdef SYS_clone3
  p.jump(BPF_JMP | BPF_JEQ | BPF_K, static_cast<std::uint32_t>(SYS_clone3), 0, 1);
  p.ret(SECCOMP_RET_ERRNO | ENOSYS);  // its flags are behind a pointer; libc falls back to clone
#endif
  p.refuse_bits(SYS_clone, 0, kNamespaceFlags);
  // mmap: writable and executable at once.
  p.jump(BPF_JMP | BPF_JEQ | BPF_K, static_cast<std::uint32_t>(SYS_mmap), 0, 5);
  p.load_arg(2);
  p.stmt(BPF_ALU | BPF_AND | BPF_K, PROT_WRITE | PROT_EXEC);
  p.jump(BPF_JMP | BPF_JEQ | BPF_K, PROT_WRITE | PROT_EXEC, 0, 1);
  p.ret(SECCOMP_RET_ERRNO | EPERM);
  p.ret(SECCOMP_RET_ALLOW);
  // Memory made executable after the fact.
  p.refuse_bits(SYS_mprotect, 2, PROT_EXEC);
#ifdef SYS_pkey_mprotect
  p.refuse_bits(SYS_pkey_mprotect, 2, PROT_EXEC);
#endif
#ifdef SYS_shmat
  p.refuse_bits(SYS_shmat, 2, SHM_EXEC);
#endif
  p.ret(SECCOMP_RET_ALLOW);
  return p;
}

}  // namespace

bool filter_supported() { return kArch != 0; }

Result<bool> become_owner_of(const std::filesystem::path& path, std::initializer_list<int> keep) {
  if (::geteuid() != 0) return false;
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0)
    return make_error(Errc::io_error, why(("cannot read " + path.string()).c_str()));
  if (st.st_uid == 0) return false;
  gid_t gid = st.st_gid;
  if (keep.size()) (void)::prctl(PR_SET_KEEPCAPS, 1, 0, 0, 0);
  if (::setgroups(1, &gid) != 0 || ::setresgid(st.st_gid, st.st_gid, st.st_gid) != 0 ||
      ::setresuid(st.st_uid, st.st_uid, st.st_uid) != 0)
    return make_error(Errc::denied, why(("cannot become the owner (uid " +
                                         std::to_string(st.st_uid) + ") of " + path.string())
                                            .c_str()));
  if (keep.size()) {
    (void)::prctl(PR_SET_KEEPCAPS, 0, 0, 0, 0);
    __user_cap_header_struct header{_LINUX_CAPABILITY_VERSION_3, 0};
    __user_cap_data_struct data[2] = {};
    for (int cap : keep) {
      data[cap / 32].effective |= 1u << (cap % 32);
      data[cap / 32].permitted |= 1u << (cap % 32);
    }
    if (::syscall(SYS_capset, &header, data) != 0)
      return make_error(Errc::denied, why("keeping capabilities"));
  }
  if (::setuid(0) == 0)  // must not come back
    return make_error(Errc::denied, "still able to become root after giving it up");
  return true;
}

Status confine_process() {
  if (::geteuid() == 0 || ::getuid() == 0)
    return make_error(Errc::denied,
                      "confinement is for an unprivileged user and this process runs as root: "
                      "start it as the state folder's owner (chown -R airheal: the state folder)");
  if (!filter_supported())
    return make_error(Errc::unsupported, "no seccomp filter for this processor architecture");
  std::error_code ec;
  std::size_t threads = 0;
  for (auto it = std::filesystem::directory_iterator("/proc/self/task", ec);
       !ec && it != std::filesystem::directory_iterator(); it.increment(ec))
    ++threads;
  if (threads != 1)
    return make_error(Errc::invalid_argument,
                      "confinement must come before a second thread starts (" +
                          std::to_string(threads) + " running)");
  if (::prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0)
    return make_error(Errc::denied, why("no_new_privs"));
  (void)::prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0);
  for (int cap = 0; cap <= 63; ++cap)
    (void)::prctl(PR_CAPBSET_DROP, cap, 0, 0, 0);  // needs CAP_SETPCAP
  // (capset is outside systemd's @system-service set: asked only when something is held)
  __user_cap_header_struct header{_LINUX_CAPABILITY_VERSION_3, 0};
  __user_cap_data_struct data[2] = {};
  if (::syscall(SYS_capget, &header, data) != 0) return make_error(Errc::denied, why("capget"));
  bool held = false;
  for (const auto& d : data) held = held || d.effective || d.permitted || d.inheritable;
  __user_cap_data_struct none[2] = {};
  if (held && ::syscall(SYS_capset, &header, none) != 0)
    return make_error(Errc::denied, why("capset"));
  auto p = filter();
  sock_fprog prog{static_cast<unsigned short>(p.code.size()), p.code.data()};
  if (::prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog, 0, 0) != 0)
    return make_error(Errc::denied, why("seccomp filter"));
  return {};
}

}  // namespace airheal::confine
