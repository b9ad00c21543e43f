#!/usr/bin/python3
"""Writes one OCI image layout with the application image set of bench/scan.sh (SET=apps).

usage: scan_apps.py JAVA_DIR PYTHON_DIR NODE_DIR OUT_LAYOUT
  java:   the JARS (default 300) largest *.jar under JAVA_DIR (Debian's lib*-java packages,
          unpacked) under /app/lib, and the same jars again inside Spring-Boot-style fat jars
          (stored under BOOT-INF/lib, 50 per fat jar) under /app/fat
  python: every folder of PYTHON_DIR (Debian's python3-* packages' dist-packages, unpacked) as a
          virtualenv's site-packages
  node:   NODE_DIR/node_modules (an npm install from the registry) under /srv/app
Each image is one uncompressed layer; no package database is written, so nothing is owned by an
OS package and every application package is matched on its own.
"""
import io
import json
import os
import sys
import tarfile
import zipfile


sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from scan_images import put  # noqa: E402  (the same content-addressed blob writer)


def add_file(t, path, data, mode=0o644):
    info = tarfile.TarInfo(path)
    info.size = len(data)
    info.mode = mode
    info.mtime = 1700000000
    t.addfile(info, io.BytesIO(data))


def add_tree(t, src, dest):
    for d, _, names in os.walk(src):
        for n in sorted(names):
            p = os.path.join(d, n)
            if os.path.islink(p) or not os.path.isfile(p):
                continue
            rel = os.path.relpath(p, src)
            with open(p, "rb") as f:
                add_file(t, dest + "/" + rel, f.read())


def image(blobs, layer):
    ld = put(blobs, layer)
    config = json.dumps({"architecture": "amd64", "os": "linux",
                         "rootfs": {"type": "layers", "diff_ids": ["sha256:" + ld]}}).encode()
    cd = put(blobs, config)
    manifest = json.dumps({"schemaVersion": 2,
                           "mediaType": "application/vnd.oci.image.manifest.v1+json",
                           "config": {"mediaType": "application/vnd.oci.image.config.v1+json",
                                      "digest": "sha256:" + cd, "size": len(config)},
                           "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar",
                                       "digest": "sha256:" + ld, "size": len(layer)}]}).encode()
    return put(blobs, manifest), len(manifest)


def main():
    java_dir, python_dir, node_dir, out = sys.argv[1:5]
    blobs = os.path.join(out, "blobs", "sha256")
    os.makedirs(blobs, exist_ok=True)
    index = []
    stats = {}

    jars = []
    for d, _, names in os.walk(java_dir):
        for n in sorted(names):
            p = os.path.join(d, n)
            if n.endswith(".jar") and os.path.isfile(p) and not os.path.islink(p):
                jars.append(p)
    # the largest JARS of them (the image the issue describes: about 300 jars, about 500 MB)
    limit = int(os.environ.get("JARS", "300"))
    jars = sorted(sorted(jars, key=lambda p: -os.path.getsize(p))[:limit])
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as t:
        for i, p in enumerate(jars):
            with open(p, "rb") as f:
                add_file(t, "app/lib/%04d-%s" % (i, os.path.basename(p)), f.read())
        for k in range(0, len(jars), 50):
            fat = io.BytesIO()
            with zipfile.ZipFile(fat, "w") as z:
                z.writestr("META-INF/MANIFEST.MF", "Manifest-Version: 1.0\r\n\r\n",
                           compress_type=zipfile.ZIP_DEFLATED)
                for i, p in enumerate(jars[k:k + 50]):
                    z.write(p, "BOOT-INF/lib/%02d-%s" % (i, os.path.basename(p)),
                            compress_type=zipfile.ZIP_STORED)
            add_file(t, "app/fat/fat-%02d.jar" % (k // 50), fat.getvalue())
    layer = buf.getvalue()
    stats["java"] = {"jars": len(jars), "fat_jars": (len(jars) + 49) // 50, "bytes": len(layer)}
    index.append(("java", image(blobs, layer)))

    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as t:
        add_tree(t, python_dir, "srv/venv/lib/python3.11/site-packages")
    layer = buf.getvalue()
    dists = [n for n in os.listdir(python_dir) if n.endswith((".dist-info", ".egg-info"))]
    stats["python"] = {"distributions": len(dists), "bytes": len(layer)}
    index.append(("python", image(blobs, layer)))

    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as t:
        add_tree(t, node_dir, "srv/app")
    layer = buf.getvalue()
    modules = 0
    for d, _, names in os.walk(os.path.join(node_dir, "node_modules")):
        parent = os.path.basename(os.path.dirname(d))
        grand = os.path.basename(os.path.dirname(os.path.dirname(d)))
        if "package.json" in names and (parent == "node_modules" or
                                        (parent.startswith("@") and grand == "node_modules")):
            modules += 1
    stats["node"] = {"modules": modules, "bytes": len(layer)}
    index.append(("node", image(blobs, layer)))

    with open(os.path.join(out, "oci-layout"), "w") as f:
        json.dump({"imageLayoutVersion": "1.0.0"}, f)
    with open(os.path.join(out, "index.json"), "w") as f:
        json.dump({"schemaVersion": 2, "manifests": [
            {"mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": "sha256:" + d,
             "size": n, "annotations": {"org.opencontainers.image.ref.name": name}}
            for name, (d, n) in index]}, f)
    print(json.dumps(stats))


main()
