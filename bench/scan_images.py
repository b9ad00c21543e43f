#!/usr/bin/python3
"""Writes one OCI image layout with N images over 3 real Debian bases, for bench/scan.sh.

usage: scan_images.py MINBASE_TAR OUT_LAYOUT N
  base0: bookworm minbase (docs, man pages and locales dropped to keep the run short)
  base1: base0 without perl-base (files and dpkg record removed)
  base2: distroless-style: libc6, zlib1g, libpcre2-8-0 and base-files with status.d records
Image i = base (i % 3) + one small application layer of its own. Layers are uncompressed tars.
"""
import hashlib
import io
import json
import os
import re
import sys
import tarfile

DROP = re.compile(r"^\./usr/share/(doc|man|locale|info|i18n|zoneinfo|lintian)/")


def sha(b):
    return hashlib.sha256(b).hexdigest()


def put(blobs, data):
    d = sha(data)
    p = os.path.join(blobs, d)
    if not os.path.exists(p):
        with open(p, "wb") as f:
            f.write(data)
    return d


def tar_bytes(members):
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as t:
        for info, data in members:
            t.addfile(info, io.BytesIO(data) if data is not None else None)
    return buf.getvalue()


def file_info(name, data, mode=0o644):
    i = tarfile.TarInfo(name)
    i.size = len(data)
    i.mode = mode
    i.mtime = 1700000000
    return i


def paragraphs(text):
    return [p for p in re.split(r"\n\n+", text.strip()) if p]


def main():
    src, out, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
    blobs = os.path.join(out, "blobs", "sha256")
    os.makedirs(blobs, exist_ok=True)
    members = []
    with tarfile.open(src) as t:
        for m in t.getmembers():
            if DROP.match(m.name):
                continue
            data = t.extractfile(m).read() if m.isfile() else None
            members.append((m, data))
    files = {m.name: (m, d) for m, d in members}
    status = files["./var/lib/dpkg/status"][1].decode()

    def owned(pkg):
        for name in ("./var/lib/dpkg/info/%s.list" % pkg, "./var/lib/dpkg/info/%s:amd64.list" % pkg):
            if name in files:
                return {"." + l for l in files[name][1].decode().splitlines() if l and l != "/."}
        return set()

    def record(pkg):
        for p in paragraphs(status):
            if re.search(r"^Package: %s$" % re.escape(pkg), p, re.M):
                return p + "\n"
        raise SystemExit("no %s in the status file" % pkg)

    base0 = tar_bytes(members)
    perl = owned("perl-base")
    b1 = []
    for m, d in members:
        if m.name in perl and not m.isdir():
            continue
        if m.name == "./var/lib/dpkg/status":
            d = "\n".join(p for p in paragraphs(status) if not p.startswith("Package: perl-base\n")).encode() + b"\n"
            m = file_info(m.name, d)
        b1.append((m, d))
    base1 = tar_bytes(b1)
    keep = set()
    pkgs = ["libc6", "zlib1g", "libpcre2-8-0", "base-files"]
    for p in pkgs:
        keep |= owned(p)
    b2 = [(m, d) for m, d in members if m.name in keep and (m.isfile() or m.issym())]
    for p in pkgs:
        rec = record(p).encode()
        b2.append((file_info("./var/lib/dpkg/status.d/" + p, rec), rec))
    base2 = tar_bytes(b2)
    bases = []
    for b in (base0, base1, base2):
        bases.append((put(blobs, b), len(b)))
    index = []
    for i in range(n):
        app = b"{\"app\": %d}\n" % i
        layer = tar_bytes([(file_info("./app/%d/config.json" % i, app), app),
                           (file_info("./etc/app-release", b"APP=%d\n" % i), b"APP=%d\n" % i)])
        ld = put(blobs, layer)
        bd, bs = bases[i % 3]
        config = json.dumps({"architecture": "amd64", "os": "linux",
                             "rootfs": {"type": "layers", "diff_ids": ["sha256:" + bd, "sha256:" + ld]}}).encode()
        cd = put(blobs, config)
        manifest = json.dumps({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
                               "config": {"mediaType": "application/vnd.oci.image.config.v1+json",
                                          "digest": "sha256:" + cd, "size": len(config)},
                               "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar",
                                           "digest": "sha256:" + bd, "size": bs},
                                          {"mediaType": "application/vnd.oci.image.layer.v1.tar",
                                           "digest": "sha256:" + ld, "size": len(layer)}]}).encode()
        md = put(blobs, manifest)
        index.append({"mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": "sha256:" + md,
                      "size": len(manifest), "annotations": {"org.opencontainers.image.ref.name": "app%d" % i}})
    with open(os.path.join(out, "index.json"), "w") as f:
        json.dump({"schemaVersion": 2, "manifests": index}, f)
    with open(os.path.join(out, "oci-layout"), "w") as f:
        f.write('{"imageLayoutVersion":"1.0.0"}')
    print("bases: %s MiB" % ", ".join("%.1f" % (s / 1048576) for _, s in bases))


if __name__ == "__main__":
    main()
