// The heal planner from data files (tests/data/planner/*.json, see its README): each case gives
// an image's inventory, findings and package database, the packages a snapshot imported, and
// what the plan must say. No store, no buildah: the planner does no I/O of its own.
#include "heal/planner.hpp"

#include <catch2/catch.hpp>
#include <fstream>

#include "core/fs.hpp"
#include "heal/package_family.hpp"

using namespace airheal;
using namespace airheal::heal;
using nlohmann::json;

namespace {

std::filesystem::path cases_dir() {
  return std::filesystem::path(AIRHEAL_SOURCE_DIR) / "tests" / "data" / "planner";
}

std::vector<std::string> case_names() {
  std::vector<std::string> out;
  for (const auto& e : std::filesystem::directory_iterator(cases_dir()))
    if (e.path().extension() == ".json") out.push_back(e.path().stem().string());
  std::sort(out.begin(), out.end());
  return out;
}

// An image's files held in memory: PATH -> content; a null content cannot be read (a truncated
// layer).
ImageFiles image_of(const std::map<std::string, std::optional<std::string>>& contents) {
  std::map<std::string, scan::FinalFile> files;
  for (const auto& [path, data] : contents)
    files[path] = scan::FinalFile{0, scan::LayerFile{path, 'f', data ? data->size() : 0, ""}};
  return ImageFiles(files,
                    [contents](const std::string& path, const scan::FinalFile&,
                               std::uint64_t) -> Result<std::string> {
                      const auto& data = contents.at(path);
                      if (!data)
                        return make_error(Errc::io_error, "/" + path + ": truncated layer");
                      return *data;
                    });
}

struct Case {
  json data;
  PlanInput input;
  std::map<std::string, std::string> controls;  // by digest
  PlanSources sources() {
    PlanSources s;
    const json db = data["database"];
    s.image = [db]() -> Result<ImageFiles> {
      if (db.is_null()) return image_of({{"var/lib/dpkg/status", std::nullopt}});
      std::map<std::string, std::optional<std::string>> files;
      const json records = db.value("records", json::object());
      if (records.empty()) {
        files["var/lib/dpkg/status"] = db["status"].get<std::string>();
      } else {
        // Distroless: each stanza in the status.d file that holds its package's record.
        auto text = db["status"].get<std::string>();
        std::size_t at = 0;
        while (at < text.size()) {
          auto end = text.find("\n\n", at);
          auto stanza =
              text.substr(at, end == std::string::npos ? std::string::npos : end + 1 - at);
          at = end == std::string::npos ? text.size() : end + 2;
          auto name = stanza.substr(9, stanza.find('\n') - 9);  // "Package: NAME"
          auto& file = files[records.at(name).get<std::string>()];
          file = file.value_or("") + (file && !file->empty() ? "\n" : "") + stanza;
        }
      }
      if (db["apt"].get<bool>()) files["usr/bin/apt-get"] = "ELF";
      return image_of(files);
    };
    s.package_metadata = [this](const std::string& digest) -> Result<std::string> {
      auto it = controls.find(digest);
      if (it == controls.end()) return make_error(Errc::not_found, digest + " is not imported");
      return it->second;
    };
    s.artifact_bytes = [](const Digest&) -> std::optional<std::string> { return std::nullopt; };
    return s;
  }
};

Case load(const std::string& name) {
  auto text = fs::read_file(cases_dir() / (name + ".json"), 1 << 20);
  REQUIRE(text);
  Case c;
  c.data = json::parse(*text);
  c.input.findings = c.data["findings"];
  for (const auto& comp : c.data["inventory"]["components"])
    c.input.inventory.components.push_back(scan::Component::from_json(comp));
  for (const auto& p : c.data["packages"]) {
    c.input.packages.push_back({p["name"], p["version"], p["digest"], p["snapshot"],
                                p.value("meta", json::object()), p["imported_at"]});
    c.controls[p["digest"]] = p["control"].get<std::string>();
  }
  c.input.repository = "apps/web";
  c.input.no_bump = "no base annotations";
  return c;
}

}  // namespace

TEST_CASE("the planner's cases from tests/data/planner", "[heal][planner]") {
  auto names = case_names();
  REQUIRE(names.size() >= 8);
  auto name = GENERATE_COPY(from_range(names));
  INFO("case " << name);
  auto c = load(name);
  auto sources = c.sources();
  auto plan = plan_heal(c.input, sources);
  const auto& expect = c.data["expect"];
  INFO(plan.to_json().dump(2));

  CHECK(plan.strategy == expect["strategy"].get<std::string>());
  if (expect.contains("installer")) CHECK(plan.installer == expect["installer"].get<std::string>());
  std::map<std::string, std::string> packages;
  for (const auto& pin : plan.packages) {
    packages[pin.name] = pin.version;
    CHECK(pin.architecture == "amd64");
    CHECK(c.controls.count(pin.digest));  // the imported build it names
    if (plan.installer == "files") CHECK(pin.record == "var/lib/dpkg/status.d/" + pin.name);
  }
  CHECK(packages == expect["packages"].get<std::map<std::string, std::string>>());
  CHECK(plan.targeted == expect["targeted"].get<std::vector<std::string>>());
  CHECK(plan.deferred == expect["deferred"].get<std::vector<std::string>>());
  if (expect.contains("missing_contains")) {
    REQUIRE(plan.missing.size() == 1);
    CHECK_THAT(plan.missing[0], Catch::Contains(expect["missing_contains"].get<std::string>()));
  }
  if (expect.contains("deferral_reason_contains")) {
    REQUIRE(plan.deferrals.size() == 1);
    CHECK_THAT(plan.deferrals[0]["reason"].get<std::string>(),
               Catch::Contains(expect["deferral_reason_contains"].get<std::string>()));
  }
  if (expect.contains("explanation_contains"))
    CHECK_THAT(plan.explanation,
               Catch::Contains(expect["explanation_contains"].get<std::string>()));
  if (expect.value("dpkg_batches", false)) {
    // Ordered dpkg calls covering every package once, libssl3 no later than openssl (which needs
    // it).
    std::vector<std::string> order;
    for (const auto& b : plan.dpkg_batches) order.insert(order.end(), b.begin(), b.end());
    CHECK(order.size() == plan.packages.size());
    auto ssl = std::find(order.begin(), order.end(), "libssl3"),
         cli = std::find(order.begin(), order.end(), "openssl");
    REQUIRE(ssl != order.end());
    REQUIRE(cli != order.end());
    CHECK(ssl <= cli);
  }
  if (!plan.packages.empty()) {
    CHECK(plan.snapshots == std::vector<std::string>{"sha256:" + std::string(64, '5')});
    CHECK(plan.fix_imported_at == 1764400000);
  }
  // The plan round-trips to the JSON the API and evidence show.
  auto j = plan.to_json();
  CHECK(j["strategy"] == plan.strategy);
  CHECK(j["targeted"].size() == plan.targeted.size());
}

TEST_CASE("the planner takes the upstream bump when it fixes everything the packages would",
          "[heal][planner]") {
  auto c = load("apt-every-binary-imported");
  Plan bump;
  bump.strategy = "upstream-bump";
  bump.targeted = {"DSA-0000-1"};
  bump.rebase = Rebase{"base/debian:12", "sha256:" + std::string(64, 'c'),
                       "sha256:" + std::string(64, 'd'), 1};
  c.input.upstream_bump = bump;
  auto sources = c.sources();
  auto plan = plan_heal(c.input, sources);
  CHECK(plan.strategy == "upstream-bump");
  REQUIRE(plan.rebase);
  CHECK(plan.rebase->new_base == "sha256:" + std::string(64, 'd'));

  // A bump that leaves out a finding the packages would fix is not taken.
  bump.targeted = {};
  c.input.upstream_bump = bump;
  auto packages = plan_heal(c.input, sources);
  CHECK(packages.strategy == "package-patch");
}
