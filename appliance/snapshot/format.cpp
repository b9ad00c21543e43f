#include "snapshot/format.hpp"

#include <algorithm>
#include <ctime>
#include <set>

#include "core/json.hpp"
#include "core/oci.hpp"

namespace airheal::snapshot {

using nlohmann::json;

const char* to_string(EntryKind k) {
  switch (k) {
    case EntryKind::advisory:
      return "advisory";
    case EntryKind::blob:
      return "blob";
    case EntryKind::layout:
      return "layout";
    case EntryKind::package_index:
      return "package-index";
    case EntryKind::trust_keys:
      return "trust-keys";
  }
  return "?";
}

namespace {

std::optional<EntryKind> kind_from_string(std::string_view s) {
  for (auto k : {EntryKind::advisory, EntryKind::blob, EntryKind::layout, EntryKind::package_index,
                 EntryKind::trust_keys})
    if (s == to_string(k)) return k;
  return std::nullopt;
}

Error manifest_error(const std::string& what) {
  return make_error(Errc::manifest_invalid, "snapshot manifest: " + what);
}

// Typed field access that turns every mismatch into a message naming the field.
struct Reader {
  Reader(const json& doc, std::string where) : j(doc), at(std::move(where)) {}
  const json& j;
  std::string at;
  std::optional<Error> error;

  const json* get(const char* key, bool required) {
    if (error) return nullptr;
    if (!j.contains(key)) {
      if (required) error = manifest_error(at + key + " is missing");
      return nullptr;
    }
    return &j[key];
  }
  std::string str(const char* key, bool required = true) {
    auto v = get(key, required);
    if (!v) return {};
    if (!v->is_string()) {
      error = manifest_error(at + key + " must be a string");
      return {};
    }
    return v->get<std::string>();
  }
  std::int64_t integer(const char* key, bool required = true) {
    auto v = get(key, required);
    if (!v) return 0;
    if (!v->is_number_integer() || v->get<std::int64_t>() < 0) {
      error = manifest_error(at + key + " must be a non-negative integer");
      return 0;
    }
    return v->get<std::int64_t>();
  }
  bool boolean(const char* key) {
    auto v = get(key, false);
    if (!v) return false;
    if (!v->is_boolean()) {
      error = manifest_error(at + key + " must be true or false");
      return false;
    }
    return v->get<bool>();
  }
  Digest digest(const char* key) {
    auto s = str(key);
    if (error) return Digest::from_hex(std::string(64, '0'));
    auto d = Digest::parse(s);
    if (!d) {
      error = manifest_error(at + key + " '" + s + "' is not a sha256 digest");
      return Digest::from_hex(std::string(64, '0'));
    }
    return *d;
  }
  std::int64_t time(const char* key) {
    auto s = str(key);
    if (error) return 0;
    auto t = parse_time(s);
    if (!t) error = manifest_error(at + key + " '" + s + "' is not an RFC 3339 time");
    return t.value_or(0);
  }
  void only(std::initializer_list<const char*> keys) {
    if (error) return;
    for (const auto& [k, v] : j.items()) {
      bool known = false;
      for (auto x : keys) known = known || k == x;
      if (!known) {
        error = manifest_error(at + "unknown field '" + k + "'");
        return;
      }
    }
  }
};

bool is_hex64(std::string_view s) {
  if (s.size() != 64) return false;
  for (char c : s)
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  return true;
}

bool is_fingerprint(std::string_view s) {
  if (s.size() != 40 && s.size() != 64) return false;
  for (char c : s)
    if (!((c >= '0' && c <= '9') || (c >= 'A' && c <= 'F'))) return false;
  return true;
}

}  // namespace

const Entry* Manifest::find(std::string_view path) const {
  for (const auto& e : entries)
    if (e.path == path) return &e;
  return nullptr;
}

bool is_safe_path(std::string_view p) {
  if (p.empty() || p.size() > kMaxPathBytes || p.front() == '/' || p.back() == '/') return false;
  std::size_t start = 0;
  while (start <= p.size()) {
    auto end = p.find('/', start);
    if (end == std::string_view::npos) end = p.size();
    auto part = p.substr(start, end - start);
    if (part.empty() || part == "." || part == "..") return false;
    for (char c : part) {
      bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                c == '.' || c == '-' || c == '_' || c == '+' || c == '~' || c == '@' || c == ':' ||
                c == '=';
      if (!ok) return false;
    }
    start = end + 1;
  }
  return true;
}

bool is_valid_channel(std::string_view c) {
  if (c.empty() || c.size() > 64) return false;
  for (char ch : c)
    if (!((ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') || ch == '-' || ch == '_' ||
          ch == '.'))
      return false;
  return c.front() != '.' && c.front() != '-';
}

bool is_plain_name(std::string_view n) {
  if (n.empty() || n.size() > 255 || n == "." || n == ".." || n.front() == '-') return false;
  return std::none_of(n.begin(), n.end(), [](unsigned char c) {
    return c < 0x20 || c == 0x7f || c == '/' || c == '\\';
  });
}

std::string human_name(std::string_view n) {
  std::string out;
  for (unsigned char c : n.substr(0, 80)) {
    if (c < 0x20 || c == 0x7f) {
      static const char* hex = "0123456789abcdef";
      out += "\\x";
      out += hex[c >> 4];
      out += hex[c & 15];
    } else {
      out += static_cast<char>(c);
    }
  }
  if (n.size() > 80) out += "...";
  return out;
}

Result<Manifest> parse_manifest(std::string_view bytes) {
  if (bytes.size() > kMaxManifestBytes)
    return manifest_error("larger than " + std::to_string(kMaxManifestBytes) + " bytes");
  // The manifest is at most 5 levels deep (entries[].field, images[].platforms[]...); a duplicate
  // key would mean different things to different readers.
  auto parsed = parse_json(bytes, JsonLimits{kMaxManifestBytes, 8, false}, "it");
  if (!parsed) return manifest_error(parsed.error().message.substr(3));
  auto& j = *parsed;
  if (!j.is_object()) return manifest_error("must be a JSON object");
  Manifest m;
  Reader r{j, ""};
  if (r.str("format") != kFormatName && !r.error)
    return manifest_error("format must be \"" + std::string(kFormatName) + "\"");
  m.version = static_cast<int>(r.integer("version"));
  if (r.error) return *r.error;
  if (m.version != kFormatVersion)
    return make_error(Errc::unsupported,
                      "snapshot format version " + std::to_string(m.version) +
                          " is not supported by this appliance (it reads version " +
                          std::to_string(kFormatVersion) + "); upgrade airheal first");
  r.only({"format", "version", "channel", "sequence", "created", "expires", "previous", "generator",
          "entries", "images", "packages", "artifacts", "trust"});
  m.channel = r.str("channel");
  m.sequence = r.integer("sequence");
  m.created = r.time("created");
  m.expires = r.time("expires");
  m.generator = r.str("generator", false);
  if (r.error) return *r.error;
  if (!is_valid_channel(m.channel))
    return manifest_error("channel '" + m.channel + "' must be 1-64 of [a-z0-9._-]");
  if (m.sequence < 1) return manifest_error("sequence must be at least 1");
  // Above 2^53 a JSON number loses integers in most readers, and a channel at 2^63-1 could never
  // accept another snapshot.
  if (m.sequence > kMaxSequence)
    return manifest_error("sequence must be at most " + std::to_string(kMaxSequence));
  if (m.expires <= m.created) return manifest_error("expires must be after created");
  if (j.contains("previous") && !j["previous"].is_null()) {
    if (!j["previous"].is_object()) return manifest_error("previous must be an object");
    Reader p{j["previous"], "previous."};
    p.only({"sequence", "digest"});
    Previous prev{p.integer("sequence"), p.digest("digest")};
    if (p.error) return *p.error;
    if (prev.sequence >= m.sequence)
      return manifest_error("previous.sequence must be lower than sequence");
    m.previous = prev;
  }

  std::set<std::string> paths;
  if (!j.contains("entries") || !j["entries"].is_array())
    return manifest_error("entries must be an array");
  if (j["entries"].size() > kMaxEntries)
    return manifest_error("more than " + std::to_string(kMaxEntries) + " entries");
  for (std::size_t i = 0; i < j["entries"].size(); ++i) {
    const auto& e = j["entries"][i];
    if (!e.is_object())
      return manifest_error("entries[" + std::to_string(i) + "] must be an object");
    Reader er{e, "entries[" + std::to_string(i) + "]."};
    er.only({"path", "size", "sha256", "kind", "format", "in_previous"});
    Entry en;
    en.path = er.str("path");
    en.size = static_cast<std::uint64_t>(er.integer("size"));
    auto hex = er.str("sha256");
    auto kind = er.str("kind");
    en.format = er.str("format", false);
    en.in_previous = er.boolean("in_previous");
    if (er.error) return *er.error;
    if (!is_safe_path(en.path))
      return manifest_error(er.at + "path '" + en.path + "' is not a safe relative path");
    if (en.path == kManifestName || en.path.rfind(kSignaturePrefix, 0) == 0)
      return manifest_error(er.at + "path '" + en.path + "' is reserved");
    if (!is_hex64(hex)) return manifest_error(er.at + "sha256 must be 64 lowercase hex digits");
    en.sha256 = Digest::from_hex(hex);
    auto k = kind_from_string(kind);
    if (!k) return manifest_error(er.at + "kind '" + kind + "' is unknown");
    en.kind = *k;
    if (en.kind == EntryKind::advisory && en.format != "osv" && en.format != "debian-tracker" &&
        en.format != "alpine-secdb" && en.format != "csaf")
      return manifest_error(
          er.at + "format must be osv, debian-tracker, alpine-secdb or csaf for an advisory");
    if (en.kind == EntryKind::blob && en.path != "blobs/sha256/" + hex)
      return manifest_error(er.at + "a blob must live at blobs/sha256/<its sha256>");
    if (en.in_previous && !m.previous)
      return manifest_error(er.at + "in_previous needs a previous snapshot");
    if (!paths.insert(en.path).second)
      return manifest_error("entry '" + en.path + "' is listed twice");
    m.entries.push_back(std::move(en));
  }
  auto blob_entry = [&](const Digest& d) {
    auto e = m.find("blobs/sha256/" + d.hex());
    return e && e->kind == EntryKind::blob;
  };
  auto array = [&](const char* key) -> const json* {
    if (!j.contains(key)) return nullptr;
    return &j[key];
  };
  if (auto a = array("images")) {
    if (!a->is_array()) return manifest_error("images must be an array");
    std::set<std::string> refs;
    for (std::size_t i = 0; i < a->size(); ++i) {
      Reader ir{(*a)[i], "images[" + std::to_string(i) + "]."};
      if (!(*a)[i].is_object()) return manifest_error(ir.at + " must be an object");
      ir.only({"repository", "tag", "digest", "media_type"});
      Image im{ir.str("repository"), ir.str("tag"), ir.digest("digest"), ir.str("media_type")};
      if (ir.error) return *ir.error;
      if (!oci::is_valid_repository_name(im.repository))
        return manifest_error(ir.at + "repository '" + im.repository + "' is not valid");
      if (!oci::is_valid_tag(im.tag))
        return manifest_error(ir.at + "tag '" + im.tag + "' is not valid");
      if (!oci::is_manifest_media_type(im.media_type) && !oci::is_index_media_type(im.media_type))
        return manifest_error(ir.at + "media_type '" + im.media_type +
                              "' is not an image manifest or index");
      if (!blob_entry(im.digest))
        return manifest_error(ir.at + "digest " + im.digest.str() + " is not a blob entry");
      if (!refs.insert(im.repository + ":" + im.tag).second)
        return manifest_error(ir.at + im.repository + ":" + im.tag + " listed twice");
      m.images.push_back(std::move(im));
    }
  }
  if (auto a = array("packages")) {
    if (!a->is_array()) return manifest_error("packages must be an array");
    for (std::size_t i = 0; i < a->size(); ++i) {
      Reader pr{(*a)[i], "packages[" + std::to_string(i) + "]."};
      if (!(*a)[i].is_object()) return manifest_error(pr.at + " must be an object");
      pr.only({"name", "version", "architecture", "source", "source_version", "filename", "digest",
               "size", "format"});
      Package p{pr.str("name"),
                pr.str("version"),
                pr.str("architecture"),
                pr.str("source", false),
                pr.str("source_version", false),
                pr.str("filename"),
                pr.digest("digest"),
                static_cast<std::uint64_t>(pr.integer("size"))};
      if (auto format = pr.str("format", false); !format.empty()) p.format = std::move(format);
      if (pr.error) return *pr.error;
      if (std::find(std::begin(kPackageFormats), std::end(kPackageFormats), p.format) ==
          std::end(kPackageFormats))
        return manifest_error(pr.at + "format '" + human_name(p.format) +
                              "' is not one of deb, apk, rpm");
      for (const auto* f : {&p.name, &p.version, &p.architecture})
        if (!is_plain_name(*f))
          return manifest_error(pr.at + "'" + human_name(*f) +
                                "' must be printable, without '/', not . or ..");
      if (!is_safe_path(p.filename))
        return manifest_error(pr.at + "filename '" + human_name(p.filename) +
                              "' is not a safe relative path");
      for (const auto* f : {&p.source, &p.source_version})
        if (!f->empty() && !is_plain_name(*f))
          return manifest_error(pr.at + "'" + human_name(*f) + "' must be printable, without '/'");
      if (!blob_entry(p.digest))
        return manifest_error(pr.at + "digest " + p.digest.str() + " is not a blob entry");
      m.packages.push_back(std::move(p));
    }
  }
  if (auto a = array("artifacts")) {
    if (!a->is_array()) return manifest_error("artifacts must be an array");
    for (std::size_t i = 0; i < a->size(); ++i) {
      Reader ar{(*a)[i], "artifacts[" + std::to_string(i) + "]."};
      if (!(*a)[i].is_object()) return manifest_error(ar.at + " must be an object");
      ar.only({"name", "version", "digest", "size", "metadata"});
      Artifact x{ar.str("name"), ar.str("version", false), ar.digest("digest"),
                 static_cast<std::uint64_t>(ar.integer("size"))};
      if (ar.error) return *ar.error;
      if ((*a)[i].contains("metadata")) {
        if (!(*a)[i]["metadata"].is_object())
          return manifest_error(ar.at + "metadata must be an object");
        x.metadata = (*a)[i]["metadata"];
      }
      if (!is_plain_name(x.name))
        return manifest_error(
            ar.at + "name '" + human_name(x.name) +
            "' must be a plain file name (1-255 bytes, no '/', no control characters, not . "
            "or .., not starting with '-')");
      if (!x.version.empty() && !is_plain_name(x.version))
        return manifest_error(ar.at + "version must be printable, without '/'");
      if (!blob_entry(x.digest))
        return manifest_error(ar.at + "digest " + x.digest.str() + " is not a blob entry");
      m.artifacts.push_back(std::move(x));
    }
  }
  if (auto t = array("trust"); t && !t->is_null()) {
    if (!t->is_object()) return manifest_error("trust must be an object");
    Reader tr{*t, "trust."};
    tr.only({"keys", "add", "remove", "threshold"});
    TrustUpdate u;
    u.keys_path = tr.str("keys", false);
    if (tr.error) return *tr.error;
    for (auto key : {"add", "remove"}) {
      if (!t->contains(key)) continue;
      if (!(*t)[key].is_array())
        return manifest_error(std::string("trust.") + key + " must be an array of fingerprints");
      for (const auto& f : (*t)[key]) {
        if (!f.is_string() || !is_fingerprint(f.get<std::string>()))
          return manifest_error(std::string("trust.") + key +
                                " entries must be upper-case hex key fingerprints");
        (std::string_view(key) == "add" ? u.add : u.remove).push_back(f);
      }
    }
    if (t->contains("threshold")) {
      auto th = tr.integer("threshold");
      if (tr.error) return *tr.error;
      if (th < 1) return manifest_error("trust.threshold must be at least 1");
      if (th > static_cast<std::int64_t>(kMaxSignatures))
        return manifest_error("trust.threshold must be at most " + std::to_string(kMaxSignatures) +
                              " (the signatures a snapshot may carry)");
      u.threshold = static_cast<int>(th);
    }
    if (!u.add.empty() && u.keys_path.empty()) return manifest_error("trust.add needs trust.keys");
    if (!u.keys_path.empty()) {
      auto e = m.find(u.keys_path);
      if (!e || e->kind != EntryKind::trust_keys)
        return manifest_error("trust.keys must name an entry of kind trust-keys");
    }
    m.trust = std::move(u);
  }
  return m;
}

std::string serialize(const Manifest& m) {
  json j;
  j["format"] = kFormatName;
  j["version"] = m.version;
  j["channel"] = m.channel;
  j["sequence"] = m.sequence;
  j["created"] = format_time(m.created);
  j["expires"] = format_time(m.expires);
  if (m.previous)
    j["previous"] = {{"sequence", m.previous->sequence}, {"digest", m.previous->digest.str()}};
  if (!m.generator.empty()) j["generator"] = m.generator;
  j["entries"] = json::array();
  for (const auto& e : m.entries) {
    json x{{"path", e.path},
           {"size", e.size},
           {"sha256", e.sha256.hex()},
           {"kind", to_string(e.kind)}};
    if (!e.format.empty()) x["format"] = e.format;
    if (e.in_previous) x["in_previous"] = true;
    j["entries"].push_back(std::move(x));
  }
  if (!m.images.empty()) {
    j["images"] = json::array();
    for (const auto& i : m.images)
      j["images"].push_back({{"repository", i.repository},
                             {"tag", i.tag},
                             {"digest", i.digest.str()},
                             {"media_type", i.media_type}});
  }
  if (!m.packages.empty()) {
    j["packages"] = json::array();
    for (const auto& p : m.packages) {
      json x{{"name", p.name},         {"version", p.version},     {"architecture", p.architecture},
             {"filename", p.filename}, {"digest", p.digest.str()}, {"size", p.size}};
      if (!p.source.empty()) x["source"] = p.source;
      if (!p.source_version.empty()) x["source_version"] = p.source_version;
      if (p.format != "deb") x["format"] = p.format;  // (a .deb's entry reads as it always has)
      j["packages"].push_back(std::move(x));
    }
  }
  if (!m.artifacts.empty()) {
    j["artifacts"] = json::array();
    for (const auto& a : m.artifacts) {
      json x{
          {"name", a.name}, {"digest", a.digest.str()}, {"size", a.size}, {"metadata", a.metadata}};
      if (!a.version.empty()) x["version"] = a.version;
      j["artifacts"].push_back(std::move(x));
    }
  }
  if (m.trust) {
    json t = json::object();
    if (!m.trust->keys_path.empty()) t["keys"] = m.trust->keys_path;
    if (!m.trust->add.empty()) t["add"] = m.trust->add;
    if (!m.trust->remove.empty()) t["remove"] = m.trust->remove;
    if (m.trust->threshold) t["threshold"] = *m.trust->threshold;
    j["trust"] = std::move(t);
  }
  return j.dump(2) + "\n";
}

}  // namespace airheal::snapshot
