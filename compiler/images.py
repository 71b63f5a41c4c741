"""Content-addressed image names for environments that rtc builds.

The tag is a hash of everything that goes into the image: the build spec, the
Dockerfile template, and the node SDK files copied into it. An unchanged
environment therefore keeps its tag (and is never rebuilt), and any change
to what would be built gives a new one. Targets only read `Environment.image`.
"""

from __future__ import annotations

import hashlib
import importlib.util
import re
from functools import lru_cache
from pathlib import Path

from rtc.compiler.ir import BuildSpec


# Files whose bytes end up in every built image (see integrations/images).
RECIPE_FILES = ("integrations/images/templates/Dockerfile.j2", "rtc/__init__.py", "rtc/runtime/__init__.py", "rtc/runtime/contract.py", "rtc/node.py",
                "rtc/exospherehost.py")


@lru_cache(maxsize=1)
def recipe_digest() -> str:
    """Hash of the Dockerfile template and the SDK sources, read once per process."""
    # Located, not imported: the compiler does not depend on the integrations (docs/architecture.md).
    roots = {top: Path(importlib.util.find_spec(f"rtc.{top}" if top != "rtc" else "rtc").origin).parent
             for top in ("rtc", "integrations")}
    h = hashlib.sha256()
    for rel in RECIPE_FILES:
        top, _, rest = rel.partition("/")
        path = roots[top] / rest
        h.update(rel.encode())
        h.update(path.read_bytes() if path.is_file() else b"<missing>")
    return h.hexdigest()


def image_tag(namespace: str, env_name: str, build: BuildSpec) -> str:
    """`rtc/<namespace>-<env>:<12 hex>`, a valid lowercase Docker reference."""
    h = hashlib.sha256()
    h.update(build.to_compact_json().encode())
    h.update(recipe_digest().encode())
    repo = re.sub(r"[^a-z0-9]+", "-", f"{namespace}-{env_name}".lower()).strip("-") or "env"
    return f"rtc/{repo}:{h.hexdigest()[:12]}"
