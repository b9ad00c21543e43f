#!/usr/bin/python3
"""Writes one OCI image layout with N images sharing one real base, for bench/heal.sh.

usage: heal_images.py BASE_TAR_GZ OUT_LAYOUT N
Image i ("app<i>") = the base layer (gzip, shared blob) + a small application layer of its own
(/srv/app<i>/index.html); its command checks that file exists (the smoke test runs it).
"""
import gzip
import hashlib
import io
import json
import os
import shutil
import sys
import tarfile


def main():
    base, out, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
    blobs = os.path.join(out, "blobs", "sha256")
    os.makedirs(blobs, exist_ok=True)

    def put(data):
        d = hashlib.sha256(data).hexdigest()
        with open(os.path.join(blobs, d), "wb") as f:
            f.write(data)
        return d

    h = hashlib.sha256()
    with open(base, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    base_digest = h.hexdigest()
    target = os.path.join(blobs, base_digest)
    if not os.path.exists(target):
        try:
            os.link(base, target)
        except OSError:
            shutil.copy(base, target)
    diff = hashlib.sha256()
    with gzip.open(base, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            diff.update(chunk)
    base_diff = diff.hexdigest()
    index = []
    for i in range(n):
        content = ("<h1>app %d</h1>\n" % i).encode() * 64
        raw = io.BytesIO()
        with tarfile.open(fileobj=raw, mode="w", format=tarfile.PAX_FORMAT) as t:
            for d in ("srv", "srv/app%d" % i):
                info = tarfile.TarInfo(d)
                info.type = tarfile.DIRTYPE
                info.mode = 0o755
                info.mtime = 1700000000
                t.addfile(info)
            info = tarfile.TarInfo("srv/app%d/index.html" % i)
            info.size = len(content)
            info.mode = 0o644
            info.mtime = 1700000000
            t.addfile(info, io.BytesIO(content))
        layer_tar = raw.getvalue()
        layer = gzip.compress(layer_tar, mtime=0)
        cfg = json.dumps({"architecture": "amd64", "os": "linux",
                          "config": {"Cmd": ["/bin/sh", "-c", "test -f /srv/app%d/index.html" % i]},
                          "rootfs": {"type": "layers", "diff_ids": ["sha256:" + base_diff,
                                                                    "sha256:" + hashlib.sha256(layer_tar).hexdigest()]},
                          "history": [{"created_by": "mmdebstrap --variant=minbase bookworm"},
                                      {"created_by": "app %d" % i}]}).encode()
        man = json.dumps({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
                          "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": "sha256:" + put(cfg),
                                     "size": len(cfg)},
                          "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip",
                                      "digest": "sha256:" + base_digest, "size": os.stat(base).st_size},
                                     {"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip",
                                      "digest": "sha256:" + put(layer), "size": len(layer)}]}).encode()
        index.append({"mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": "sha256:" + put(man),
                      "size": len(man), "annotations": {"org.opencontainers.image.ref.name": "app%d" % i}})
    with open(os.path.join(out, "index.json"), "w") as f:
        json.dump({"schemaVersion": 2, "manifests": index}, f)
    with open(os.path.join(out, "oci-layout"), "w") as f:
        f.write('{"imageLayoutVersion":"1.0.0"}')


if __name__ == "__main__":
    main()
