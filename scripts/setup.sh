#!/usr/bin/env bash
# Installs what airheal needs to build, run and test on Debian 12, from Debian's archive only.
# Idempotent: installs only what is missing. Needs root (or sudo) when something is missing.
set -euo pipefail

PACKAGES=(
  # build (clang-format: the build checks every C++ file's format)
  cmake ninja-build g++ pkg-config clang-format
  libboost-dev libboost-filesystem-dev libssl-dev libsqlite3-dev zlib1g-dev libspdlog-dev libfmt-dev
  nlohmann-json3-dev libyaml-cpp-dev libcli11-dev libarchive-dev libgpgme-dev libdeflate-dev libzstd-dev catch2
  # run and test: the real OCI clients and tools the appliance and its tests drive
  skopeo buildah podman runc openssl ca-certificates curl busybox-static containerd
  # snapshots: GnuPG for signatures (GPGME drives it), zstd, prlimit (util-linux) and dpkg as test oracles
  gnupg gpg-agent zstd util-linux dpkg
  # scanning: rpm (rpm.vercmp oracle), mmdebstrap + golang-1.19 (real image fixtures), JSON Schema validator
  rpm mmdebstrap golang-1.19-go python3-jsonschema python3-regex zip
  # rpm heals: repodata for local repositories (createrepo_c) and dnf for rpm-image fixtures and heals
  createrepo-c dnf
  # ordering oracles: PEP 440 (the packaging library pip itself uses), Maven's ComparableVersion
  python3-packaging openjdk-17-jre-headless libmaven3-core-java
  # application packages: javac compiles the Java check of the in-place heal test; zip/unzip make
  # and check fat jars
  openjdk-17-jdk-headless unzip
  # evidence reports: rendered in headless Chromium, printed to PDF (pdftotext) and read back by OCR
  chromium poppler-utils tesseract-ocr tesseract-ocr-eng
  # fuzzing: clang's libFuzzer with ASan/UBSan over the parsers of untrusted bytes (tests/fuzz)
  clang libclang-rt-14-dev
  # attestations: independent DSSE verifiers of the ECDSA P-256 signature (tests/support/dsse_verify.py)
  python3-cryptography python3-securesystemslib
  # collect: a real apt repository built in the tests (apt-ftparchive), served on loopback
  apt-utils
  # packages: dpkg-buildpackage with debhelper, man pages from --help, lintian; rpmbuild comes with rpm
  debhelper help2man lintian fakeroot cpio
)

# node and npm (npm's own node-semver is an ordering oracle; npm pack fetches real tarballs): the
# machine's own when it has them (these machines ship Node.js 20 with npm), else Debian's.
command -v node >/dev/null && command -v npm >/dev/null || PACKAGES+=(nodejs npm)

missing=()
for p in "${PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  echo "setup: installing ${missing[*]}"
  SUDO=""
  [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
echo "setup: all build and test dependencies are installed"
