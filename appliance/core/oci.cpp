#include "core/oci.hpp"

#include <nlohmann/json.hpp>

#include "core/json.hpp"

namespace airheal::oci {

using json = nlohmann::json;

bool is_manifest_media_type(std::string_view m) {
  return m == media::kOciManifest || m == media::kOciIndex || m == media::kDockerManifest ||
         m == media::kDockerList;
}

bool is_index_media_type(std::string_view m) {
  return m == media::kOciIndex || m == media::kDockerList;
}

namespace {
bool is_alnum_lower(char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'); }

// One path component: [a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*
bool valid_component(std::string_view c) {
  if (c.empty() || !is_alnum_lower(c.front()) || !is_alnum_lower(c.back())) return false;
  std::size_t i = 0;
  while (i < c.size()) {
    if (is_alnum_lower(c[i])) {
      ++i;
      continue;
    }
    // a separator run
    std::size_t j = i;
    while (j < c.size() && !is_alnum_lower(c[j])) ++j;
    auto sep = c.substr(i, j - i);
    bool ok = sep == "." || sep == "_" || sep == "__" ||
              sep.find_first_not_of('-') == std::string_view::npos;
    if (!ok) return false;
    i = j;
  }
  return true;
}

Result<Descriptor> parse_descriptor(const json& j, std::string_view where) {
  auto bad = [&](const std::string& why) {
    return make_error(Errc::manifest_invalid, std::string(where) + ": " + why);
  };
  if (!j.is_object()) return bad("descriptor is not an object");
  Descriptor d{.media_type = {}, .digest = Digest::from_hex(std::string(64, '0'))};
  auto mt = j.find("mediaType");
  if (mt == j.end() || !mt->is_string() || mt->get_ref<const std::string&>().empty())
    return bad("descriptor has no mediaType");
  d.media_type = mt->get<std::string>();
  if (d.media_type.size() > 255) return bad("mediaType is too long");
  auto dg = j.find("digest");
  if (dg == j.end() || !dg->is_string()) return bad("descriptor has no digest");
  auto parsed = Digest::parse(dg->get_ref<const std::string&>());
  if (!parsed)
    return make_error(
        parsed.error().code == Errc::unsupported ? Errc::unsupported : Errc::manifest_invalid,
        std::string(where) + ": " + parsed.error().message);
  d.digest = *parsed;
  auto sz = j.find("size");
  if (sz == j.end() || !sz->is_number_integer() || sz->get<std::int64_t>() < 0)
    return bad("descriptor has no valid size");
  d.size = sz->get<std::int64_t>();
  if (auto at = j.find("artifactType"); at != j.end()) {
    if (!at->is_string()) return bad("artifactType must be a string");
    d.artifact_type = at->get<std::string>();
  }
  if (auto u = j.find("urls"); u != j.end()) {
    if (!u->is_array()) return bad("urls must be an array");
    for (const auto& x : *u) {
      if (!x.is_string()) return bad("urls must hold strings");
      d.urls.push_back(x.get<std::string>());
    }
  }
  if (auto a = j.find("annotations"); a != j.end()) {
    if (!a->is_object()) return bad("annotations must be an object");
    for (const auto& [k, v] : a->items())
      if (!v.is_string()) return bad("annotation '" + k + "' must be a string");
    d.annotations_json = a->dump();
  } else {
    d.annotations_json = "{}";
  }
  return d;
}
}  // namespace

bool is_valid_repository_pattern(std::string_view p) {
  if (p.empty() || p.size() > 255) return false;
  for (char c : p)
    if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-' ||
          c == '/' || c == '*' || c == '?'))
      return false;
  return true;
}

bool is_valid_repository_name(std::string_view name) {
  if (name.empty() || name.size() > 255) return false;
  std::size_t start = 0;
  for (;;) {
    auto slash = name.find('/', start);
    auto comp = name.substr(
        start, slash == std::string_view::npos ? std::string_view::npos : slash - start);
    if (!valid_component(comp)) return false;
    if (slash == std::string_view::npos) return true;
    start = slash + 1;
  }
}

bool is_valid_tag(std::string_view tag) {
  if (tag.empty() || tag.size() > 128) return false;
  auto word = [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_';
  };
  if (!word(tag[0])) return false;
  for (char c : tag.substr(1))
    if (!word(c) && c != '.' && c != '-') return false;
  return true;
}

std::vector<Digest> Manifest::required_blobs() const {
  std::vector<Digest> out;
  if (config) out.push_back(config->digest);
  for (const auto& l : layers) {
    // Foreign (non-distributable) layers live elsewhere by design.
    if (!l.urls.empty() || l.media_type == media::kDockerForeignLayer ||
        l.media_type.find(".nondistributable.") != std::string::npos)
      continue;
    out.push_back(l.digest);
  }
  return out;
}

std::vector<Digest> Manifest::child_manifests() const {
  std::vector<Digest> out;
  for (const auto& m : manifests) out.push_back(m.digest);
  return out;
}

Result<Manifest> parse_manifest(std::string_view bytes, std::string_view content_type) {
  // Strip parameters such as "; charset=utf-8".
  if (auto semi = content_type.find(';'); semi != std::string_view::npos)
    content_type = content_type.substr(0, semi);
  while (!content_type.empty() && content_type.back() == ' ') content_type.remove_suffix(1);

  // Manifests and indexes are a few levels deep (annotations, platform); 4 MiB is the registry's
  // own manifest bound.
  auto parsed = parse_json(bytes, JsonLimits{4u << 20, 16, false}, "manifest");
  if (!parsed) return make_error(Errc::manifest_invalid, parsed.error().message);
  json& j = *parsed;
  if (!j.is_object()) return make_error(Errc::manifest_invalid, "manifest is not a JSON object");

  Manifest m;
  std::string field_type;
  if (auto mt = j.find("mediaType"); mt != j.end()) {
    if (!mt->is_string()) return make_error(Errc::manifest_invalid, "mediaType must be a string");
    field_type = mt->get<std::string>();
  }
  if (content_type == media::kDockerSchema1 || content_type == media::kDockerSchema1Signed ||
      field_type == media::kDockerSchema1 || field_type == media::kDockerSchema1Signed)
    return make_error(Errc::manifest_invalid,
                      "Docker schema 1 manifests are not supported; push schema 2 or OCI");

  bool ct_useful = !content_type.empty() && content_type != "application/json" &&
                   content_type != "application/octet-stream";
  if (ct_useful) {
    if (!is_manifest_media_type(content_type))
      return make_error(Errc::manifest_invalid,
                        "unsupported manifest media type '" + std::string(content_type) + "'");
    if (!field_type.empty() && field_type != content_type)
      return make_error(Errc::manifest_invalid, "Content-Type '" + std::string(content_type) +
                                                    "' does not match the manifest's mediaType '" +
                                                    field_type + "'");
    m.media_type = std::string(content_type);
  } else if (!field_type.empty()) {
    if (!is_manifest_media_type(field_type))
      return make_error(Errc::manifest_invalid,
                        "unsupported manifest media type '" + field_type + "'");
    m.media_type = field_type;
  } else if (j.contains("manifests")) {
    m.media_type = std::string(media::kOciIndex);
  } else if (j.contains("config") && j.contains("layers")) {
    m.media_type = std::string(media::kOciManifest);
  } else {
    return make_error(Errc::manifest_invalid,
                      "cannot tell the manifest's media type: no Content-Type or mediaType");
  }
  // Docker schema 2 requires its mediaType field.
  if ((m.media_type == media::kDockerManifest || m.media_type == media::kDockerList) &&
      field_type.empty())
    return make_error(Errc::manifest_invalid,
                      "Docker schema 2 manifests must carry a mediaType field");

  auto sv = j.find("schemaVersion");
  if (sv == j.end() || !sv->is_number_integer() || sv->get<std::int64_t>() != 2)
    return make_error(Errc::manifest_invalid, "schemaVersion must be 2");

  m.is_index = is_index_media_type(m.media_type);
  if (m.is_index) {
    auto ms = j.find("manifests");
    if (ms == j.end() || !ms->is_array())
      return make_error(Errc::manifest_invalid, "index has no manifests array");
    int i = 0;
    for (const auto& e : *ms) {
      auto d = parse_descriptor(e, "manifests[" + std::to_string(i++) + "]");
      if (!d) return d.error();
      m.manifests.push_back(std::move(*d));
    }
    if (auto at = j.find("artifactType"); at != j.end()) {
      if (!at->is_string())
        return make_error(Errc::manifest_invalid, "artifactType must be a string");
      m.artifact_type = at->get<std::string>();
    }
  } else {
    if (j.contains("manifests"))
      return make_error(Errc::manifest_invalid, "image manifest must not have manifests");
    auto cfg = j.find("config");
    if (cfg == j.end()) return make_error(Errc::manifest_invalid, "image manifest has no config");
    auto c = parse_descriptor(*cfg, "config");
    if (!c) return c.error();
    m.config = std::move(*c);
    auto ls = j.find("layers");
    if (ls == j.end() || !ls->is_array())
      return make_error(Errc::manifest_invalid, "image manifest has no layers array");
    int i = 0;
    for (const auto& e : *ls) {
      auto d = parse_descriptor(e, "layers[" + std::to_string(i++) + "]");
      if (!d) return d.error();
      m.layers.push_back(std::move(*d));
    }
    if (auto at = j.find("artifactType"); at != j.end()) {
      if (!at->is_string())
        return make_error(Errc::manifest_invalid, "artifactType must be a string");
      m.artifact_type = at->get<std::string>();
    } else {
      m.artifact_type = m.config->media_type;
    }
  }
  if (auto s = j.find("subject"); s != j.end()) {
    auto d = parse_descriptor(*s, "subject");
    if (!d) return d.error();
    m.subject = std::move(*d);
  }
  if (auto a = j.find("annotations"); a != j.end()) {
    if (!a->is_object()) return make_error(Errc::manifest_invalid, "annotations must be an object");
    for (const auto& [k, v] : a->items())
      if (!v.is_string())
        return make_error(Errc::manifest_invalid, "annotation '" + k + "' must be a string");
    m.annotations_json = a->dump();
  }
  return m;
}

}  // namespace airheal::oci
