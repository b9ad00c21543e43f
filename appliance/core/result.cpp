#include "core/result.hpp"

namespace airheal {

const char* to_string(Errc code) {
  switch (code) {
    case Errc::invalid_argument:
      return "invalid_argument";
    case Errc::not_found:
      return "not_found";
    case Errc::digest_invalid:
      return "digest_invalid";
    case Errc::size_invalid:
      return "size_invalid";
    case Errc::range_invalid:
      return "range_invalid";
    case Errc::too_large:
      return "too_large";
    case Errc::blob_unknown:
      return "blob_unknown";
    case Errc::blob_upload_unknown:
      return "blob_upload_unknown";
    case Errc::blob_upload_invalid:
      return "blob_upload_invalid";
    case Errc::manifest_unknown:
      return "manifest_unknown";
    case Errc::manifest_invalid:
      return "manifest_invalid";
    case Errc::manifest_blob_unknown:
      return "manifest_blob_unknown";
    case Errc::name_invalid:
      return "name_invalid";
    case Errc::name_unknown:
      return "name_unknown";
    case Errc::tag_invalid:
      return "tag_invalid";
    case Errc::unsupported:
      return "unsupported";
    case Errc::denied:
      return "denied";
    case Errc::unauthorized:
      return "unauthorized";
    case Errc::conflict:
      return "conflict";
    case Errc::io_error:
      return "io_error";
  }
  return "unknown";
}

}  // namespace airheal
