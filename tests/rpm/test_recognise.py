"""The recogniser over expansion texts and their variants (no rpmbuild: bodies as rpm stores them)."""

from __future__ import annotations

import pytest

from ociforge.ostree.accounts import SysusersEntry
from ociforge.ostree.alternatives import AlternativeAuto, AlternativeInstall, AlternativeSet
from ociforge.rpm.scriptlets import Preset
from ociforge.rpm.scriptlets.recognise import recognise

FOO = Preset(("foo.service",))


@pytest.mark.parametrize(
    "body",
    [
        "systemctl preset foo.service",
        "systemctl --no-reload preset foo.service &>/dev/null || :",
        "/usr/bin/systemctl preset foo.service >/dev/null 2>&1 || :",
        "/bin/systemctl --no-reload preset foo.service 2>/dev/null || true",
        "systemctl -q preset foo 1>&2",
        "systemctl preset foo.service > /dev/stderr",
        "if [ $1 -eq 1 ] ; then\n  systemctl --no-reload preset foo.service &>/dev/null || :\nfi",
        'if [ "$1" = "1" ]; then systemctl preset foo.service; fi',
        "[ $1 -eq 1 ] && systemctl preset foo.service",
        "if test $1 -ge 1; then\n\tsystemctl preset foo.service\nfi",
        "[[ $1 == 1 && -x /usr/bin/systemctl ]] && systemctl preset foo.service",
        "if [ $1 -eq 1 ] && [ -x /usr/lib/systemd/systemd-update-helper ]; then\n"
        "    # Initial installation\n"
        "    /usr/lib/systemd/systemd-update-helper install-system-units foo.service || :\nfi",
        "systemctl \\\n    --no-reload \\\n    preset foo.service",
        "UNIT=foo.service\nsystemctl preset $UNIT",
        "for u in foo; do systemctl preset $u.service; done",
        "systemctl preset ${UNIT:-foo.service}",
        "{ systemctl preset foo.service; } >/dev/null",
    ],
)
def test_preset_spellings(body: str) -> None:
    found = recognise(body)
    assert found.refused is None
    assert found.presets == [FOO]


@pytest.mark.parametrize(
    ("body", "instances", "presets"),
    [
        ("if [ $1 -gt 1 ]; then systemctl preset foo.service; fi", 1, []),
        ("if [ $1 -gt 1 ]; then systemctl preset foo.service; fi", 2, [FOO]),
        ("if [ $1 -eq 1 ]; then systemctl preset foo.service; fi", 2, []),
        ("[ $1 -ne 1 ] || systemctl preset foo.service", 1, [FOO]),
        (
            "if [ $1 -eq 0 ]; then :; elif [ $1 -eq 1 ]; then systemctl preset foo.service; fi",
            1,
            [FOO],
        ),
        ("if [ $1 -eq 1 ]; then :; else systemctl preset foo.service; fi", 1, []),
        ("if ! [ $1 -eq 1 ]; then systemctl preset foo.service; fi", 1, []),
        ("if [ -d /run/systemd/system ]; then systemctl preset foo.service; fi", 1, []),
        ("if [ ! -d /run/systemd/system ]; then systemctl preset foo.service; fi", 1, [FOO]),
        ("if [ -x /usr/bin/foo ]; then systemctl preset foo.service; fi", 1, [FOO]),
        ("selinuxenabled && systemctl preset foo.service", 1, []),
        ("exit 0\nsystemctl preset foo.service", 1, []),
    ],
)
def test_conditions(body: str, instances: int, presets: list[Preset]) -> None:
    found = recognise(body, instances=instances)
    assert found.refused is None
    assert found.presets == presets


def test_a_skipped_assumption_is_noted() -> None:
    found = recognise("if [ $1 -gt 1 ]; then\n  systemctl try-restart foo.service\nfi")
    assert found.notes == ["'[ $1 -gt 1 ]': false offline; its branch skipped"]


def test_exit_in_a_branch_that_may_run_does_not_hide_the_rest() -> None:
    found = recognise("if [ -x /usr/bin/foo ]; then exit 0; fi\nvendor-setup")
    assert found.refused == ("vendor-setup", "vendor-setup is not a command ociforge can translate")


def test_unquoted_variables_split_and_quoted_ones_do_not() -> None:
    assert recognise('S="a.service b.socket"\nsystemctl preset $S').presets == [
        Preset(("a.service", "b.socket"))
    ]
    found = recognise('S="a.service b.socket"\nsystemctl preset "$S"')
    assert found.refused == ('systemctl preset "$S"', "'a.service b.socket' is not a unit name")


@pytest.mark.parametrize(
    ("body", "why"),
    [
        ("systemctl preset $UNIT", "a unit name is not known offline"),
        ("echo hello > /etc/motd", "it writes /etc/motd"),
        ("echo x >> /var/log/foo.log", "it writes /var/log/foo.log"),
        ("cat > /etc/foo.conf <<EOF\nkey=value\nEOF", "it writes /etc/foo.conf"),
        ("sed -i s/a/b/ /etc/foo.conf", "it edits files in place"),
        ("find /var/lib/foo -delete", "find may change or run things here"),
        ('case "$1" in\n  1) systemctl preset foo.service ;;\nesac', "case is not translated"),
        ("while true; do :; done", "while is not translated"),
        ("setup() { :; }\nsetup", "shell functions are not translated"),
        ("X=$(sed -i s/a/b/ /etc/x)", "the substitution $(sed -i s/a/b/ /etc/x) is not read-only: it edits files in place"),
        ("/opt/vendor/bin/systemctl preset foo.service", "/opt/vendor/bin/systemctl is not a command ociforge can translate"),
        (". /etc/profile.d/vendor.sh", "it runs another script"),
        ("exit 1", "it makes the scriptlet fail"),
        ("rpm -e oldpkg", "rpm can only be queried here"),
        ("$TOOL --init", "the command name is not known offline"),
        ("echo 'unclosed", "the script cannot be parsed (line 1: unclosed ')"),
        ("mkdir -p /etc/foo", "it creates /etc/foo, outside /var and /run (ship it in the package)"),
        ("chmod u+x /var/lib/foo", "only octal chmod is translated"),
        ("ln -s /usr/share/foo /etc/foo", "it creates /etc/foo, outside /var and /run (ship it in the package)"),
        ("rm -f /etc/foo.conf", "it removes /etc/foo.conf"),
        ("chown foo.bar /var/lib/foo", "owner 'foo.bar': write USER:GROUP"),
        ("install -m 0644 a /var/lib/foo/a", "install copies files (the package should ship them)"),
        ("useradd -R /sysroot foo", "useradd needs exactly one user name (and no other root)"),
        ("useradd -N foo", "useradd -N without -g: the primary group is a local default"),
        ("usermod -G wheel foo", "only usermod -a -G GROUPS USER is translated"),
        ("usermod -s /bin/bash foo", "option -s is not translated"),
        ("alternatives --config java", "cannot translate alternatives --config java"),
        ("systemctl --root=/mnt preset foo.service", "--root=/mnt is not translated"),
        ("systemd-sysusers - <<EOF\nu $NAME -\nEOF", "the sysusers lines are not known offline"),
    ],
)  # fmt: skip
def test_refusals(body: str, why: str) -> None:
    found = recognise(body)
    assert found.refused is not None
    assert found.refused[1] == why


@pytest.mark.parametrize(
    ("body", "note"),
    [
        ("systemctl daemon-reload", "not run: rpm-ostree's systemctl runs only 'preset' (this is 'daemon-reload')"),
        ("systemctl --system is-active -q foo || :", "(this is 'is-active')"),
        ("systemctl preset-all", "(this is 'preset-all')"),
        ("/usr/lib/systemd/systemd-update-helper system-reload-restart", "not an install-time action"),
        ("udevadm control --reload >/dev/null 2>&1 || :", "udev rules and hwdb are reloaded at boot"),
        ("systemd-hwdb update &>/dev/null || :", "hwdb.bin is rebuilt at boot"),
        ("journalctl --update-catalog", "the journal catalog is rebuilt at boot"),
        ("/usr/lib/systemd/systemd-binfmt foo.conf", "binfmt_misc entries are registered at boot"),
        ("/usr/lib/systemd/systemd-sysctl 50-foo.conf", "sysctl.d settings are applied at boot"),
        ("chcon -t bin_t /usr/bin/foo", "SELinux labels are applied when ostree imports the layer"),
        ("setsebool httpd_can_network_connect 1", "a boolean without -P only changes the running policy"),
        ("touch --no-create /usr/share/icons/hicolor &>/dev/null || :", "it only updates times"),
        ("mkdir -p /var/lib/rpm-state/foo", "rpm's per-transaction scratch space"),
        ("rm -rf /var/cache/foo", "removing /var/cache/foo at build time changes no machine"),
        ("alternatives --remove nc /usr/bin/ncat", "removing an alternative is not an install-time action"),
        ("systemd-sysusers", "systemd-sysusers runs at boot"),
        ("systemd-sysusers - <<EOF\nr - 500-900\nEOF", "id range 'r - 500-900' not needed"),
        ("/sbin/ldconfig", "the default library directories need no cache"),
    ],
)  # fmt: skip
def test_noops_are_noted(body: str, note: str) -> None:
    found = recognise(body)
    assert found.refused is None and not found.changes()
    assert any(note in n for n in found.notes), found.notes


@pytest.mark.parametrize(
    "body",
    [
        "set -e\nset -x\nset -o pipefail",
        "echo 'installing'; printf '%s\\n' done",
        "command -v foo >/dev/null || :",
        "type foo >/dev/null 2>&1",
        ". /etc/selinux/config",
        "source /etc/os-release",
        "[ -x /usr/bin/foo ] && test -d /usr/share/foo",
        "getent passwd foo >/dev/null",
        "KVER=$(uname -r)\nMODS=$(find /lib/modules/$KVER -name '*.ko' | grep foo | sort -u)",
        "rpm -q foo >/dev/null 2>&1 && echo present",
        "grep -q foo /etc/shells || :",
        "sed -n 1p /etc/os-release",
        "semodule -l | grep -q foo",
        "semanage boolean -l",
        "export FOO=1 BAR\nunset FOO",
        ":\ntrue\nfalse || :",
        "exit 0",
        "( echo sub )",
        "alternatives --display java",
    ],
)
def test_plumbing_is_harmless(body: str) -> None:
    found = recognise(body)
    assert found.refused is None
    assert not found.changes()


def test_accounts_from_useradd_spellings() -> None:
    found = recognise(
        "groupadd --system --gid 123 foo\n"
        "useradd --system --gid foo --home-dir /var/lib/foo --shell /sbin/nologin"
        " --comment 'Foo daemon' --uid=123 --groups video,render foo\n"
        "gpasswd -a foo input\n"
        "useradd -rM -gfoo bar"
    )
    assert found.refused is None
    assert found.accounts == [
        SysusersEntry("g", "foo", "123"),
        SysusersEntry("u", "foo", "123:foo", "Foo daemon", "/var/lib/foo", "/sbin/nologin"),
        SysusersEntry("m", "foo", "video"),
        SysusersEntry("m", "foo", "render"),
        SysusersEntry("m", "foo", "input"),
        SysusersEntry("u", "bar", "-:foo"),
    ]


def test_sysusers_heredoc_with_quoted_delimiter_keeps_dollars() -> None:
    found = recognise("systemd-sysusers - <<'EOF'\nu foo - \"costs $5\" /\nEOF")
    assert found.refused is None
    assert found.accounts == [SysusersEntry("u", "foo", "-", "costs $5", "/")]


def test_alternatives_actions() -> None:
    found = recognise(
        "alternatives --install /usr/bin/java java /usr/lib/jvm/jre-17/bin/java 1700 "
        "--family java-17 --slave /usr/bin/keytool keytool /usr/lib/jvm/jre-17/bin/keytool\n"
        "alternatives --set java /usr/lib/jvm/jre-17/bin/java\n"
        "update-alternatives --auto java"
    )
    assert found.refused is None
    assert found.alternatives[1:] == [
        AlternativeSet("java", "/usr/lib/jvm/jre-17/bin/java"),
        AlternativeAuto("java"),
    ]
    first = found.alternatives[0]
    assert isinstance(first, AlternativeInstall) and first.family == "java-17"


def test_tmpfiles_lines_merge_per_path() -> None:
    found = recognise(
        "mkdir -p -m 750 /var/lib/foo\nchown -R foo:foo /var/lib/foo\n"
        "chgrp foo /var/log/foo.log\nchmod 0640 /var/log/foo.log\n"
        "install -d --mode=0700 --owner=foo /run/foo\nln -sf ../../usr/share/foo /var/lib/foo/data\n"
        "touch /var/lib/foo/stamp"
    )
    assert found.refused is None
    assert found.tmpfiles_lines() == [
        "d /var/lib/foo 0750 foo foo -",
        "z /var/log/foo.log 0640 - foo -",
        "d /run/foo 0700 foo - -",
        "L /var/lib/foo/data - - - - ../../usr/share/foo",
        "f /var/lib/foo/stamp - - - -",
    ]


@pytest.mark.parametrize(
    ("body", "kinds"),
    [
        ("semanage fcontext -a -t foo_exec_t '/usr/bin/foo'", ["selinux-policy"]),
        ("semanage import -N <<EOF\nboolean -m -1 foo\nEOF", ["selinux-policy"]),
        ("semodule -i foo.pp", ["selinux-policy"]),
        ("rm -rf /var/lib/selinux/targeted/active/modules/400/extra_varrun", ["selinux-policy"]),
        ("/usr/libexec/selinux/varrun-convert.sh targeted", ["selinux-policy"]),
        ("for v in mls targeted; do semodule -s $v -i /usr/share/selinux/$v/foo.pp || :; done", ["selinux-policy", "selinux-policy"]),
        ("printf '%s\\n' /lib/modules/6.1/extra/foo.ko | weak-modules --add-modules --no-initramfs", ["weak-modules"]),
        ("/sbin/depmod -a", ["depmod"]),
        ("kernel-install add 6.1 /lib/modules/6.1/vmlinuz", ["kernel-install"]),
        ("hash dracut &>/dev/null && dracut -f", ["dracut"]),
    ],
)  # fmt: skip
def test_post_steps(body: str, kinds: list[str]) -> None:
    found = recognise(body)
    assert found.refused is None
    assert [p.kind for p in found.post_steps] == kinds


def test_post_step_details() -> None:
    (step,) = recognise("depmod -aeF /boot/System.map-6.1 6.1 >/dev/null || :").post_steps
    assert (step.detail, step.command) == (
        "regenerate modules.dep for 6.1",
        "depmod -aeF /boot/System.map-6.1 6.1 >/dev/null",
    )
    (step,) = recognise("depmod -a").post_steps
    assert step.detail == "regenerate modules.dep for the image's kernel"
    (step,) = recognise("weak-modules --add-modules < /dev/null").post_steps
    assert step.detail.endswith(", then the initramfs")
