#include "builder/handover.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <string>
#include <vector>

namespace airheal::builder {
namespace {

struct Walk {
  uid_t uid;
  gid_t gid;
  int max_depth;
  std::size_t max_entries, seen = 0;
  std::string where;  // for messages: the path being walked, relative to the work folder

  Status fail(const std::string& what) {
    return make_error(Errc::io_error, what + " " + where + ": " + std::strerror(errno));
  }

  // DIR_FD: an open directory; its entries are handed over (subdirectories first inside out).
  Status entries(int dir_fd, int depth) {
    if (depth > max_depth)
      return make_error(Errc::invalid_argument, "work folder nested deeper than " +
                                                    std::to_string(max_depth) + " at " + where);
    int copy = ::dup(dir_fd);
    if (copy < 0) return fail("dup");
    DIR* d = ::fdopendir(copy);
    if (!d) {
      ::close(copy);
      return fail("cannot list");
    }
    std::vector<std::string> names;
    while (auto* e = ::readdir(d)) {
      std::string n = e->d_name;
      if (n != "." && n != "..") names.push_back(std::move(n));
    }
    ::closedir(d);
    auto base = where;
    for (const auto& n : names) {
      if (++seen > max_entries)
        return make_error(Errc::invalid_argument, "work folder holds more than " +
                                                      std::to_string(max_entries) + " entries");
      where = base + "/" + n;
      int fd = ::openat(dir_fd, n.c_str(), O_PATH | O_NOFOLLOW | O_CLOEXEC);
      if (fd < 0) {
        if (errno == ENOENT) continue;  // gone meanwhile
        return fail("cannot open");
      }
      struct stat st {};
      if (::fstat(fd, &st) != 0) {
        ::close(fd);
        return fail("cannot stat");
      }
      if (S_ISDIR(st.st_mode)) {
        ::close(fd);
        int sub = ::openat(dir_fd, n.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (sub < 0) {
          if (errno == ENOENT) continue;
          return fail("cannot open folder");
        }
        auto s = entries(sub, depth + 1);
        if (s && ::fstat(sub, &st) == 0 && st.st_uid != uid && ::fchown(sub, uid, gid) != 0)
          s = fail("cannot give away");
        ::close(sub);
        if (!s) return s;
        continue;
      }
      bool linked = S_ISREG(st.st_mode) && st.st_nlink > 1;
      if (!linked && st.st_uid != uid &&
          ::fchownat(fd, "", uid, gid, AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW) != 0) {
        ::close(fd);
        return fail("cannot give away");
      }
      ::close(fd);
    }
    where = base;
    return {};
  }
};

}  // namespace

Status hand_over(const std::filesystem::path& work, uid_t uid, gid_t gid, int max_depth,
                 std::size_t max_entries) {
  int fd = ::open(work.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  if (fd < 0)
    return make_error(Errc::io_error,
                      "cannot open the work folder " + work.string() + ": " + std::strerror(errno));
  Walk w{uid, gid, max_depth, max_entries, 0, work.string()};
  auto s = w.entries(fd, 0);
  ::close(fd);
  return s;
}

Status hand_over_folder(const std::filesystem::path& work, uid_t uid, gid_t gid) {
  if (auto s = hand_over(work, uid, gid); !s) return s;
  int fd = ::open(work.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  if (fd < 0)
    return make_error(Errc::io_error,
                      "cannot open the work folder " + work.string() + ": " + std::strerror(errno));
  struct stat st {};
  int r =
      ::fstat(fd, &st) == 0 && (st.st_uid != uid || st.st_gid != gid) ? ::fchown(fd, uid, gid) : 0;
  int e = errno;
  ::close(fd);
  if (r != 0)
    return make_error(Errc::io_error, "cannot give away the work folder " + work.string() + ": " +
                                          std::strerror(e));
  return {};
}

}  // namespace airheal::builder
