// What the heal engine asks of a container build tool, and nothing more: one more layer on an
// image (files copied in, commands run inside it with no network, the result committed), and
// commands run in an image as checks. The buildah implementation is buildah_builder.hpp; unit
// tests of the engine use a fake (tests/support/fake_image_builder.hpp).
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <filesystem>
#include <map>
#include <string>
#include <vector>

#include "core/result.hpp"
#include "heal/failure.hpp"
#include "heal/heal_layer.hpp"

namespace airheal::heal {

// A host folder mounted into the build container. Read-only mounts carry imported content (a
// local package repository); writable ones are scratch space outside the image (a package
// manager's lists and caches). Their mount points are left out of the heal layer.
struct BuildMount {
  std::filesystem::path host;
  std::string target;  // absolute path inside the container
  bool read_only = true;
};

// A file copied into the image (a gold artefact at the path of the binary it replaces).
struct CopyIn {
  std::filesystem::path source;
  std::string target;  // absolute path inside the image
  int mode = 0755;
};

// One more layer on the image held by the OCI layout WORK/IN (named IMAGE there): COPIES, then
// each of COMMANDS run inside the image (argument vectors, never a shell; no network; ENV and
// MOUNTS for every command), committed as the layout WORK/OUT. The result must have exactly one
// layer more than the BASE_LAYERS of the original.
struct LayerRequest {
  std::string name;  // the build container's name (unique per heal)
  std::filesystem::path work;
  std::string in = "in", image = "original", out = "out";
  std::size_t base_layers = 0;
  std::vector<CopyIn> copies;
  std::vector<BuildMount> mounts;
  std::vector<std::string> env;  // NAME=VALUE
  std::vector<std::vector<std::string>> commands;
  // In-process only (never on the wire): when it turns true the build stops and is cleaned up.
  const std::atomic<bool>* cancel = nullptr;
};

// A command run in an image as a check (a test command, the entrypoint as smoke test).
// A command still running after TIMEOUT is stopped; whether that fails the check is the caller's
// choice (an entrypoint that keeps running passes the smoke test).
struct CheckRun {
  std::vector<std::string> argv;
  std::chrono::milliseconds timeout{0};  // 0: the builder's step timeout
};
struct CheckOutcome {
  bool passed = false;
  bool timed_out = false;
  std::string failure;  // one line: why it failed, in the tool's own words
};

// The checks' image: the OCI layout WORK/IN holding IMAGE; the container runs under a memory
// bound of MEMORY bytes (0: none) with no network.
struct CheckRequest {
  std::string name;
  std::filesystem::path work;
  std::string in = "image", image = "image";
  std::uint64_t memory = 0;
  std::vector<std::string> env;
  std::vector<CheckRun> runs;
  const std::atomic<bool>* cancel = nullptr;  // as LayerRequest::cancel
};

// The host's rpm installing PACKAGES (store blobs) into the staging root WORK/ROOT, whose rpm
// database is at DBPATH inside it, with --noscripts and --notriggers (nothing from the packages
// runs); SIGNED_PACKAGES are first checked against the keys in that database (rpmkeys). rpm
// enters the root with chroot (as root, or in a user namespace it makes otherwise), which is why
// this is the builder's work: airheald may do neither.
struct HostRpmRequest {
  std::filesystem::path work;
  std::string root = "rpm-root";
  std::string dbpath;  // relative, e.g. var/lib/rpm
  std::vector<std::filesystem::path> packages, signed_packages;
};

class ImageBuilder {
 public:
  virtual ~ImageBuilder() = default;
  // The new layer (its file under REQUEST.work, digest and diff id checked), or why there is
  // none; FAILURE gets the package manager's classified error lines when a command failed. Every
  // command and the tail of its output go to LOG.
  virtual Result<LayerBlob> add_layer(const LayerRequest& request, std::string& log,
                                      Failure* failure) = 0;
  // One outcome per run, in order; an error when the image could not be started at all.
  virtual Result<std::vector<CheckOutcome>> check(const CheckRequest& request,
                                                  std::string& log) = 0;
  // Removes containers and images a stopped daemon left behind (call only when no heal runs).
  virtual void reset() = 0;
  // The build tools as they name themselves ("buildah" -> "buildah version 1.28.2 ...", "runc"
  // -> ...), for provenance; a tool that does not answer is left out.
  virtual std::map<std::string, std::string> tool_versions() { return {}; }
  // The host's rpm for a distroless rpm image (above); in this process unless overridden.
  virtual Status host_rpm(const HostRpmRequest& request, std::string& log);
};

// The layer an image build added: the layout DIR's image must have BASE_LAYERS + 1 layers, its
// last layer's blob must match its digest, and its config must name the layer's diff id. The
// layout was written by a build tool from untrusted image content, so every read is bounded.
Result<LayerBlob> read_added_layer(const std::filesystem::path& dir, std::size_t base_layers);

}  // namespace airheal::heal
