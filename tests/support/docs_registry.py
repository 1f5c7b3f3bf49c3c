"""Start the registries a how-to page describes, from the config it shows.

``docs/howto/registry.md`` shows each registry config as a yaml block whose first line names the
file (``# registry.yml``) and the commands that serve them in a ``sh`` block (``htpasswd -Bbn
USER PASSWORD > htpasswd``, ``docker-registry serve registry.yml``). The docs test starts the
same configs with the same binary; only what cannot be shared between parallel tests changes:
the listening port (0, so the kernel picks a free one) and the storage and htpasswd paths (under
the test's directory).
"""

from __future__ import annotations

import re
import shlex
import subprocess
from pathlib import Path

from tests.support.registry import Registry, launch_registry
from tests.support.tools import need

_YAML = re.compile(r"^```yaml\n# (\S+\.yml)\n(.*?)^```", re.S | re.M)
_SH = re.compile(r"^```sh\n(.*?)^```", re.S | re.M)


def documented_configs(page: str) -> dict[str, str]:
    """Registry configs the page shows, by file name."""
    return {match.group(1): match.group(2) for match in _YAML.finditer(page)}


def documented_commands(page: str) -> list[list[str]]:
    """The words of every line of the page's ``sh`` blocks (comments dropped)."""
    out = []
    for match in _SH.finditer(page):
        for line in match.group(1).splitlines():
            words = shlex.split(line, comments=True)
            if words:
                out.append(words)
    return out


def _localise(config: str, root: Path) -> str:
    """The config with a free port and this test's own storage and htpasswd file."""
    config, found = re.subn(r"(?m)^(\s*addr:\s*)\S+$", r"\g<1>127.0.0.1:0", config)
    assert found == 1, "the documented config has no http.addr"
    config = re.sub(r"(?m)^(\s*rootdirectory:\s*)\S+$", rf"\g<1>{root / 'storage'}", config)
    return re.sub(r"(?m)^(\s*path:\s*)\S+$", rf"\g<1>{root / 'htpasswd'}", config)


def start_documented_registry(page: str, name: str, root: Path) -> Registry:
    """Serve the page's config ``name`` the way the page says to, on a free port."""
    configs = documented_configs(page)
    assert name in configs, f"the page shows no '# {name}' config"
    commands = documented_commands(page)
    assert ["docker-registry", "serve", name] in [c[:3] for c in commands], (
        f"the page never says to run docker-registry serve {name}"
    )
    root.mkdir(parents=True, exist_ok=True)
    text = _localise(configs[name], root)
    user = password = ""
    auth = "none"
    if "htpasswd:" in text:
        need("htpasswd")
        made = [c for c in commands if c[:2] == ["htpasswd", "-Bbn"]]
        assert made, "the page uses an htpasswd file but never says how to make it"
        user, password = made[0][2], made[0][3]
        hashed = subprocess.run(made[0][:4], capture_output=True, check=True).stdout
        (root / "htpasswd").write_bytes(hashed)
        auth = "htpasswd"
    config = root / name
    config.write_text(text)
    return launch_registry(config, root, auth=auth, user=user, password=password)
