// RFC 3339 times: the examples of RFC 3339 section 5.8, offsets, fractions, and what is refused.
#include "core/time.hpp"

#include <catch2/catch.hpp>

using namespace airheal;

TEST_CASE("RFC 3339 times parse to Unix seconds, offsets applied", "[core][time]") {
  struct Case {
    const char* text;
    std::int64_t seconds;
  };
  auto c = GENERATE(values<Case>({
      {"1985-04-12T23:20:50.52Z", 482196050},         // RFC 3339 5.8 (fraction dropped)
      {"1996-12-19T16:39:57-08:00", 851042397},       // RFC 3339 5.8: 1996-12-20T00:39:57Z
      {"1990-12-31T23:59:60Z", 662688000},            // a leap second reads as the next second
      {"1937-01-01T12:00:27.87+00:20", -1041337173},  // RFC 3339 5.8, before 1970
      {"2024-02-29T00:00:00Z", 1709164800},           // a leap day
      {"2026-11-30t04:28:35z", 1796012915},           // lower-case T and Z are allowed
  }));
  INFO(c.text);
  CHECK(parse_time(c.text) == c.seconds);
}

TEST_CASE("Malformed and impossible times are refused", "[core][time]") {
  auto text = GENERATE("", "2026-11-30", "2026-11-30T04:28:35", "2026-11-30 04:28:35Z",
                       "2026-13-01T00:00:00Z", "2026-02-29T00:00:00Z", "2100-02-29T00:00:00Z",
                       "2026-04-31T00:00:00Z", "2026-11-30T24:00:00Z", "2026-11-30T04:60:00Z",
                       "2026-11-30T04:28:35+2400", "2026-11-30T04:28:35+24:00",
                       "2026-11-30T04:28:35Zjunk", "２026-11-30T04:28:35Z");
  INFO(text);
  CHECK_FALSE(parse_time(text));
}

TEST_CASE("Times format as RFC 3339 UTC and read back", "[core][time]") {
  CHECK(format_time(0) == "1970-01-01T00:00:00Z");
  CHECK(format_time(851042397) == "1996-12-20T00:39:57Z");
  auto t = GENERATE(std::int64_t{-1041337173}, std::int64_t{0}, std::int64_t{1796012915},
                    std::int64_t{4102444800});
  CHECK(parse_time(format_time(t)) == t);
}
