// Heal layers written directly, for images with no package manager to run (distroless, FROM
// scratch): the files of fixed .debs, dpkg records, gold artefacts and whiteouts go into one tar
// layer, written with libarchive and never executed. Every path from a package is untrusted:
// normalised, kept inside the image root, links included.
#pragma once

#include <cstdint>
#include <filesystem>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "core/digest.hpp"
#include "core/result.hpp"

struct archive;
struct archive_entry;

namespace airheal::heal {

// What a .deb says about itself: its control file and md5sums (from control.tar.*).
struct DebControl {
  std::string control;  // the control stanza, newline-terminated
  std::string md5sums;  // may be empty (packages with no regular files)
  std::string field(std::string_view name) const;
};
Result<DebControl> read_deb_control(const std::filesystem::path& deb);

// Replaces the stanza of PACKAGE in a dpkg database file holding one or more stanzas (distroless
// status.d forms) with NEW_STANZA, keeping the others byte for byte. A "Status:" line in the old
// stanza is carried into the new one. not_found when the file has no such stanza.
Result<std::string> replace_stanza(const std::string& file, const std::string& package,
                                   const std::string& new_stanza);

// How heal layers are compressed. gzip is read by every OCI client; zstd (image-spec 1.1) is
// smaller and needs containerd >= 1.5, CRI-O, podman >= 3 or Docker >= 23 on the nodes.
enum class LayerCompression { gzip, zstd };
const char* layer_media_type(LayerCompression c);

struct LayerBlob {
  std::string media_type = "application/vnd.oci.image.layer.v1.tar+gzip";
  Digest digest;   // of the compressed blob
  Digest diff_id;  // of the uncompressed tar
  std::uint64_t size = 0;
  std::filesystem::path file;  // the compressed blob on disk
};

// What slim_layer left out.
struct SlimReport {
  std::size_t dropped = 0;          // regular files identical to what the layers below already hold
  std::uint64_t dropped_bytes = 0;  // their uncompressed size
  std::size_t scratch = 0;          // entries under the build's mount points
};

// A heal layer without the regular files that change nothing: a package upgrade rewrites every
// file of the package, though most are byte-identical to the copy below (same content, mode,
// owner; no extended attributes; no whiteout or opaque directory in between; not a hard-link
// target). Reads HEAL (the layer blob) and LOWERS (the image's layers, bottom first) and writes
// the slimmer layer under DIR. The final filesystem is the same, so every gate still applies.
// SCRATCH names top-level paths the build mounted (its local repository, apt's scratch state):
// buildah leaves their empty mount points in the container, and they are left out too.
// KEEP_TOUCHED keeps files whose modification time changed too (rpm -V checks it: an upgrade
// that rewrote a file with identical bytes records the new time).
Result<LayerBlob> slim_layer(const std::filesystem::path& heal,
                             const std::vector<std::filesystem::path>& lowers,
                             const std::filesystem::path& dir, SlimReport& report,
                             const std::set<std::string>& scratch = {},
                             LayerCompression compression = LayerCompression::gzip,
                             bool keep_touched = false);

class LayerWriter {
 public:
  // Writes DIR/layer.tar, then DIR/layer.tar.gz or DIR/layer.tar.zst.
  explicit LayerWriter(std::filesystem::path dir,
                       LayerCompression compression = LayerCompression::gzip);
  ~LayerWriter();
  LayerWriter(const LayerWriter&) = delete;
  LayerWriter& operator=(const LayerWriter&) = delete;

  // Every member of the .deb's data.tar.*, paths normalised; PATHS gets each file written.
  Status add_deb_data(const std::filesystem::path& deb, std::set<std::string>* paths = nullptr);
  // Every member of a gzip-compressed tar stream after its first SKIP entries (an .apk's data
  // stream follows its signature and control entries), paths normalised; PATHS as above.
  Status add_tar_stream(const std::filesystem::path& file, std::size_t skip,
                        std::set<std::string>* paths = nullptr);
  Status add_bytes(const std::string& path, std::string_view bytes, int mode = 0644);
  Status add_file(const std::string& path, const std::filesystem::path& source, int mode = 0755,
                  std::int64_t mtime = 0);
  // What SOURCE is on disk (a regular file, symbolic link or directory, with its mode and
  // owner) at PATH.
  Status add_path(const std::string& path, const std::filesystem::path& source);
  // An OCI whiteout: PATH is removed from the layers below.
  Status add_whiteout(const std::string& path);
  // Every entry of the layer blob BLOB (a tar, gzip or zstd) but those at the paths in SKIP.
  Status copy_layer(const std::filesystem::path& blob, const std::set<std::string>& skip);
  // The entry E read from IN (header as it is, then its data).
  Status copy_entry(struct archive* in, struct archive_entry* e);
  const std::set<std::string>& written() const { return written_; }
  Result<LayerBlob> finish();

 private:
  Status open();
  Status copy_members(struct archive* a, const std::string& label, std::size_t skip,
                      std::set<std::string>* paths);
  Status header_for(const std::string& path, int type, int mode, std::uint64_t size,
                    std::int64_t mtime = 0);
  std::filesystem::path dir_;
  LayerCompression compression_;
  struct archive* out_ = nullptr;
  std::set<std::string> written_;
  std::string error_;
};

}  // namespace airheal::heal
