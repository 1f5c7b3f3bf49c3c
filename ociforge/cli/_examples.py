"""The examples each command's ``--help`` (and man page) ends with.

One table, so every command has some and a test can run them: the files they name
(``fcos.ociarchive``, ``derived.ociarchive``, ``hello-agent-1.0-1.noarch.rpm``, ``config.ign``)
are what ``ociforge demo`` writes, ``localhost:5000`` is a local registry, and an example marked
``offline=False`` needs a public registry.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

__all__ = ["EXAMPLES", "Example", "epilog"]


@dataclass(frozen=True, slots=True)
class Example:
    """One command line and what it does."""

    what: str
    command: str
    offline: bool = True


_FCOS = "docker://quay.io/fedora/fedora-coreos:stable"
_LOCAL = "docker://localhost:5000/fcos/custom:stable"

EXAMPLES: Mapping[str, tuple[Example, ...]] = {
    "inspect": (
        Example(
            "digest, labels, layers and diff_ids of a COSA build",
            "ociforge inspect oci-archive:fcos.ociarchive",
        ),
        Example("skopeo's fields, for scripts", f"ociforge inspect --json {_FCOS}", offline=False),
        Example("the exact manifest bytes", "ociforge inspect --raw oci-archive:fcos.ociarchive"),
    ),
    "manifest": (
        Example("the exact manifest, for jq", "ociforge manifest oci-archive:fcos.ociarchive"),
        Example(
            "of one platform of an index",
            f"ociforge manifest --platform linux/arm64 {_FCOS}",
            offline=False,
        ),
    ),
    "config": (
        Example("labels, env, history …", "ociforge config oci-archive:fcos.ociarchive"),
        Example("the exact bytes", "ociforge config --raw oci-archive:fcos.ociarchive"),
    ),
    "digest": (
        Example("what osImageURL should name", f"ociforge digest {_FCOS}", offline=False),
        Example("of a local archive", "ociforge digest oci-archive:fcos.ociarchive"),
    ),
    "copy": (
        Example(
            "an ociarchive into an OCI layout",
            "ociforge copy oci-archive:fcos.ociarchive oci:layout:stable",
        ),
        Example(
            "a registry image into an ociarchive",
            f"ociforge copy {_FCOS} oci-archive:fcos.ociarchive",
            offline=False,
        ),
    ),
    "push": (
        Example(
            "push by digest; the pull spec goes to stdout",
            f"ociforge push oci-archive:derived.ociarchive {_LOCAL} --digestfile digest.txt",
        ),
    ),
    "index": (
        Example(
            "an index naming one image with its platform",
            "ociforge index create oci-archive:multi.ociarchive oci-archive:fcos.ociarchive",
        ),
        Example(
            "one index over two platforms' archives",
            "ociforge index create oci-archive:multi.ociarchive"
            " oci-archive:fcos.ociarchive oci-archive:fcos-arm64.ociarchive",
            offline=False,
        ),
    ),
    "tags": (
        Example("push, then", f"ociforge push oci-archive:derived.ociarchive {_LOCAL}"),
        Example(
            "every tag, as skopeo list-tags", "ociforge tags docker://localhost:5000/fcos/custom"
        ),
    ),
    "ls": (
        Example(
            "the same, by crane's name",
            "ociforge ls docker://quay.io/fedora/fedora-coreos",
            offline=False,
        ),
    ),
    "tag": (
        Example("push, then", f"ociforge push oci-archive:derived.ociarchive {_LOCAL}"),
        Example(
            "another tag for the same manifest, no blob moved", f"ociforge tag {_LOCAL} testing"
        ),
    ),
    "delete": (
        Example(
            "push, then",
            f"ociforge push oci-archive:derived.ociarchive {_LOCAL} --digestfile digest.txt",
        ),
        Example(
            "delete the manifest by digest",
            "ociforge delete docker://localhost:5000/fcos/custom@$(cat digest.txt)",
        ),
    ),
    "verify": (
        Example("every digest, size and diff_id", "ociforge verify oci-archive:derived.ociarchive"),
        Example("compressed digests only", f"ociforge verify --fast {_FCOS}", offline=False),
    ),
    "append": (
        Example(
            "a package, an Ignition config and a file in one layer",
            "ociforge append oci-archive:fcos.ociarchive oci-archive:mine.ociarchive"
            " --rpm hello-agent-1.0-1.noarch.rpm --ignition config.ign"
            " --add config.ign:/etc/agent/",
        ),
        Example(
            "packages by name from the image's own repositories",
            f"ociforge append {_FCOS} oci-archive:tools.ociarchive --install tmux --install strace",
            offline=False,
        ),
    ),
    "mutate": (
        Example(
            "labels and env without a new layer",
            "ociforge mutate oci-archive:fcos.ociarchive oci-archive:labelled.ociarchive"
            " --label com.example.team=infra --env TZ=UTC",
        ),
    ),
    "lint": (
        Example("bootc's rules and leaked secrets", "ociforge lint oci-archive:derived.ociarchive"),
        Example(
            "warnings fail too; findings as JSON",
            "ociforge lint --strict --json oci-archive:derived.ociarchive",
        ),
    ),
    "unpack": (
        Example(
            "as an unprivileged user",
            "ociforge unpack --rootless oci-archive:derived.ociarchive bundle",
        ),
    ),
    "repack": (
        Example("unpack", "ociforge unpack --rootless oci-archive:fcos.ociarchive bundle"),
        Example("edit", "echo Welcome > bundle/rootfs/etc/motd"),
        Example(
            "… and write the edit as one layer",
            "ociforge repack bundle oci-archive:edited.ociarchive",
        ),
        Example(
            "repack, then let the next repack start from the result",
            "ociforge repack --refresh-bundle bundle oci-archive:edited.ociarchive",
        ),
    ),
    "squash": (
        Example(
            "fold what was added above the ostree layers into one",
            "ociforge squash oci-archive:derived.ociarchive oci-archive:squashed.ociarchive",
        ),
    ),
    "rebase": (
        Example(
            "carry the added layers to the next base",
            "ociforge rebase oci-archive:derived.ociarchive oci-archive:rebased.ociarchive"
            " --old-base oci-archive:fcos.ociarchive"
            " --new-base docker://quay.io/fedora/fedora-coreos:next",
            offline=False,
        ),
    ),
    "packages": (
        Example("rpm -qa, without unpacking", "ociforge packages oci-archive:derived.ociarchive"),
        Example(
            "name, version, arch as JSON", "ociforge packages --json oci-archive:derived.ociarchive"
        ),
    ),
    "diff": (
        Example(
            "layers, paths and packages",
            "ociforge diff oci-archive:fcos.ociarchive oci-archive:derived.ociarchive",
        ),
    ),
    "machineconfig": (
        Example("push, then", f"ociforge push oci-archive:derived.ociarchive {_LOCAL}"),
        Example(
            "point the worker pool at it by digest",
            f"ociforge machineconfig {_LOCAL} --pool worker -o 99-custom-os.yaml",
        ),
    ),
    "release-info": (
        Example(
            "the node OS image of a release",
            "ociforge release-info --image-for rhel-coreos"
            " docker://quay.io/openshift-release-dev/ocp-release:4.17.0-x86_64",
            offline=False,
        ),
    ),
    "demo": (
        Example("offline, into ./ociforge-demo", "ociforge demo"),
        Example(
            "and push the result, with its MachineConfig",
            "ociforge demo -o demo --push docker://localhost:5000/demo:latest",
        ),
    ),
    "completion": (
        Example("bash, now", "source <(ociforge completion bash)"),
        Example(
            "zsh, for good", 'ociforge completion zsh > "${fpath[1]}/_ociforge"', offline=False
        ),
    ),
    "man": (
        Example("one page", "ociforge man append > ociforge-append.1"),
        Example("all of them, for man", "ociforge man --output-dir ~/.local/share/man/man1"),
    ),
}


def epilog(command: str) -> str | None:
    """The ``examples:`` section of ``command``'s help, or None."""
    examples = EXAMPLES.get(command)
    if not examples:
        return None
    lines = ["examples:"]
    for example in examples:
        lines += [f"  # {example.what}", f"  {example.command}"]
    return "\n".join(lines)
