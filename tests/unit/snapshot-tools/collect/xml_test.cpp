// The XML reader for repository metadata: well-formed documents are walked, everything outside
// what repository metadata needs (DTDs, entities beyond the five predefined) is refused, and
// malformed input gets one line saying where. Documents here are made up in rpm-md's shape.
#include "collect/xml.hpp"

#include <catch2/catch.hpp>

using namespace airheal::collect;

TEST_CASE("XML subtrees are handed over one at a time and bad XML is refused", "[collect]") {
  const char* doc = R"(<?xml version="1.0" encoding="UTF-8"?>
<!-- a comment -->
<metadata xmlns="http://linux.duke.edu/metadata/common" packages="2">
  <package type="rpm"><name>a&amp;b</name><version epoch="0" ver="1" rel='2'/>
    <format><rpm:sourcerpm>a-1-2.src.rpm</rpm:sourcerpm></format>
    <description><![CDATA[<not a tag> & raw]]></description></package>
  <package type="rpm"><name>&#x263A;&#65;</name></package>
</metadata>)";
  std::vector<XmlElement> got;
  REQUIRE(walk_xml(doc, "package", 1, [&](const XmlElement& e) {
    got.push_back(e);
    return airheal::Status{};
  }));
  REQUIRE(got.size() == 2);
  CHECK(got[0].attribute("type") == "rpm");
  CHECK(got[0].child_text("name") == "a&b");
  CHECK(got[0].child("version")->attribute("rel") == "2");
  CHECK(got[0].child("format")->child_text("rpm:sourcerpm") == "a-1-2.src.rpm");
  CHECK(got[0].child_text("description") == "<not a tag> & raw");
  CHECK(got[1].child_text("name") ==
        "\xE2\x98\xBA"
        "A");

  struct Bad {
    const char* xml;
    const char* reason;
  };
  for (const auto& c : std::vector<Bad>{
           {"<!DOCTYPE x [<!ENTITY a \"b\">]><x>&a;</x>", "DOCTYPE"},
           {"<x>&lol;</x>", "is not one XML predefines"},
           {"<x><y></x></y>", "does not close"},
           {"<x>", "is never closed"},
           {"<x/><y/>", "a second root element"},
           {"<x a=1/>", "unquoted attribute"},
           {"<x a='<'/>", "'<' in an attribute value"},
           {"<x>&#x110000;</x>", "out of range"},
           {"text", "text outside the root element"},
           {"", "no root element"},
       }) {
    INFO(c.xml);
    auto st = walk_xml(c.xml, "y", 1, [](const XmlElement&) { return airheal::Status{}; });
    REQUIRE_FALSE(st);
    CHECK(st.error().message.find(c.reason) != std::string::npos);
  }
  std::string deep;
  for (int i = 0; i < 40; ++i) deep += "<d>";
  for (int i = 0; i < 40; ++i) deep += "</d>";
  CHECK_FALSE(walk_xml(deep, "d", 1, [](const XmlElement&) { return airheal::Status{}; }));
  // The callback's refusal stops the walk.
  auto stop = walk_xml("<m><p/><p/></m>", "p", 1, [](const XmlElement&) {
    return airheal::Status(airheal::make_error(airheal::Errc::denied, "enough"));
  });
  REQUIRE_FALSE(stop);
  CHECK(stop.error().message == "enough");
}
