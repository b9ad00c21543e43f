// The narrow request format between airheald and airheal-builder, the one process that runs
// buildah and runc. A request is one of three operations (add a layer, run checks, reset the
// build storage) with its paths, names, mounts and argument vectors; the reply carries the layer
// (by file, digest and diff id), the check outcomes, the log and a classified failure. Framing:
// a 4-byte big-endian length, then that many bytes of JSON, one request and one reply per
// connection.
//
// The builder does not trust airheald: every request is validated on its own against the
// builder's policy (work folders only inside its work root and outside its own storage, copied
// files only from the store's blobs and only when their content has the digest their name says,
// names and environment of a fixed shape, argument vectors only). A request that fails validation
// runs nothing.
#pragma once

#include <cstdint>
#include <filesystem>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "core/result.hpp"
#include "heal/image_builder.hpp"

namespace airheal::heal::builder {

inline constexpr int kProtocolVersion = 1;
inline constexpr std::size_t kMaxRequestBytes = 4u << 20;
inline constexpr std::size_t kMaxReplyBytes = 16u << 20;
inline constexpr std::size_t kMaxLogBytes = 8u << 20;  // a reply keeps the log's end
inline constexpr std::size_t kMaxArgs = 4096;          // per command
inline constexpr std::size_t kMaxCommands = 256;
inline constexpr std::size_t kMaxItems = 1024;  // copies, mounts, env entries, checks
inline constexpr std::size_t kMaxStringBytes = 64u << 10;

enum class Op { add_layer, check, reset, versions, host_rpm };

struct Request {
  Op op = Op::reset;
  LayerRequest layer;
  CheckRequest check;
  HostRpmRequest rpm;
};

struct Reply {
  bool ok = false;
  std::string error;  // one line, when not ok
  std::string log;
  Failure failure;
  std::optional<LayerBlob> layer;
  std::vector<CheckOutcome> outcomes;
  std::map<std::string, std::string> versions;  // op versions: tool -> its --version line
};

nlohmann::json to_json(const Request& r);
nlohmann::json to_json(const Reply& r);
// Shapes only (types, sizes, counts); what paths may name is validate()'s job.
Result<Request> request_from_json(const nlohmann::json& j);
Result<Reply> reply_from_json(const nlohmann::json& j);

// What the builder allows, whoever asks.
struct Policy {
  std::filesystem::path work_root;   // every request's work folder is inside it (not in buildah/)
  std::filesystem::path blobs_root;  // copied files: <store>/blobs/sha256/HE/HEX only
};

// Why REQUEST may not run under POLICY (one line), or nothing. Reads the file system: folders
// must exist and resolve (symlinks followed) inside their roots, copied blobs are hashed.
std::optional<std::string> validate(const Request& request, const Policy& policy);

// One frame over a connected stream socket FD (blocking). read_frame refuses frames over MAX.
Status write_frame(int fd, const std::string& bytes);
Result<std::string> read_frame(int fd, std::size_t max);

}  // namespace airheal::heal::builder
