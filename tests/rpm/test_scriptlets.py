"""Scriptlet translation on real rpmbuild headers: one fixture package per macro expansion.

Debian's rpmbuild has none of Fedora's scriptlet macros, so each spec carries the literal
expansion (from systemd's, selinux-policy's and sysusers' macro files, and kmodtool) as its
body; ``%%`` is a literal ``%`` for rpmbuild.
"""

from __future__ import annotations

import textwrap
import zlib
from collections.abc import Callable
from pathlib import Path

import pytest

from ociforge.errors import PolicyError
from ociforge.ostree.accounts import SysusersEntry
from ociforge.ostree.alternatives import AlternativeInstall, Follower
from ociforge.rpm.package import read_package
from ociforge.rpm.scriptlets import Preset, ScriptletPlan, plan_scriptlets
from tests.support import rpms


def header_of(spec: rpms.Spec, rpm_dir: Path) -> object:
    with rpms.build(spec, rpm_dir).open("rb") as fh:
        return read_package(fh).header


def spec_with(scripts: str, name: str | None = None) -> rpms.Spec:
    name = name or f"s{zlib.crc32(scripts.encode())}"
    return rpms.Spec(
        name=name,
        scripts=textwrap.dedent(scripts),
        install="mkdir -p %{buildroot}/usr/share/s\necho > %{buildroot}/usr/share/s/f\n",
        files="/usr/share/s/f\n",
    )


def plan_of(
    scripts: str, rpm_dir: Path, *, name: str | None = None, **options: bool
) -> ScriptletPlan:
    header = header_of(spec_with(scripts, name), rpm_dir)
    kwargs = {"skip": False, **options}
    return plan_scriptlets(header, package=name or "p", **kwargs)  # type: ignore[arg-type]


SYSTEMD_POST = """%post
if [ $1 -eq 1 ] && [ -x "/usr/lib/systemd/systemd-update-helper" ]; then
    # Initial installation
    /usr/lib/systemd/systemd-update-helper install-system-units foo.service || :
fi
/sbin/ldconfig
"""


# --- the harmless set of before, still accepted ---------------------------------------------


@pytest.mark.parametrize(
    ("scripts", "harmless"),
    [
        (SYSTEMD_POST, True),
        ("%post -p /sbin/ldconfig\n", True),
        ("%pre\nexit 0\n", True),
        ("%posttrans\nrm -rf /etc/foo\n", False),
        ("%post -p <lua>\nprint('x')\n", False),
        ("%pretrans\n:\n", True),
        ("%triggerin -- bash\nsed -i s/a/b/ /etc/shells\n", False),
        ("%postun\nrm -rf /\n", True),  # erase-time: never runs on install
    ],
)
def test_classification(scripts: str, harmless: bool, rpm_dir: Path) -> None:
    spec = rpms.Spec(
        name=f"s{zlib.crc32(scripts.encode())}",
        scripts=scripts,
        install="mkdir -p %{buildroot}/usr/share/s\necho > %{buildroot}/usr/share/s/f\n",
        files="/usr/share/s/f\n",
    )
    header = header_of(spec, rpm_dir)
    if harmless:
        plan_scriptlets(header, package="p", skip=False)  # type: ignore[arg-type]
    else:
        with pytest.raises(PolicyError, match="--skip-scriptlets"):
            plan_scriptlets(header, package="p", skip=False)  # type: ignore[arg-type]
        plan = plan_scriptlets(header, package="p", skip=True)  # type: ignore[arg-type]
        assert any("NOT RUN" in line for line in plan.skipped)


def test_useradd_lines_become_accounts(rpm_dir: Path) -> None:
    plan = plan_scriptlets(header_of(rpms.TINY, rpm_dir), package="tiny", skip=False)  # type: ignore[arg-type]
    assert plan.accounts == (
        SysusersEntry("g", "tinyd", "-"),
        SysusersEntry("u", "tinyd", "-:tinyd", "tiny daemon", "/var/lib/tiny", "/sbin/nologin"),
    )
    assert plan.skipped == ("tiny: %pre not run (accounts taken from it)",)


def test_useradd_without_name_is_not_harmless(rpm_dir: Path) -> None:
    spec = rpms.Spec(
        name="badpre",
        scripts="%pre\nuseradd -r\n",
        install="mkdir -p %{buildroot}/usr/share/b\necho > %{buildroot}/usr/share/b/f\n",
        files="/usr/share/b/f\n",
    )
    with pytest.raises(PolicyError, match="useradd -r"):
        plan_scriptlets(header_of(spec, rpm_dir), package="badpre", skip=False)  # type: ignore[arg-type]


# --- one fixture package per row of the expansion table --------------------------------------

Check = Callable[[ScriptletPlan], None]


def presets(*expected: Preset) -> Check:
    def check(plan: ScriptletPlan) -> None:
        assert plan.presets == expected
        assert not plan.alternatives and not plan.post_steps

    return check


def accounts(*expected: SysusersEntry) -> Check:
    def check(plan: ScriptletPlan) -> None:
        assert plan.accounts == expected

    return check


def noted(*fragments: str, lines: int = 1) -> Check:
    def check(plan: ScriptletPlan) -> None:
        assert len(plan.skipped) == lines, plan.skipped
        assert not (plan.presets or plan.accounts or plan.alternatives or plan.post_steps)
        for fragment in fragments:
            assert any(fragment in note for note in plan.report), (fragment, plan.report)

    return check


def tmpfiles(*expected: str) -> Check:
    def check(plan: ScriptletPlan) -> None:
        assert plan.tmpfiles == expected

    return check


def post_steps(*kinds: str) -> Check:
    def check(plan: ScriptletPlan) -> None:
        assert tuple(dict.fromkeys(p.kind for p in plan.post_steps)) == kinds

    return check


def nothing(plan: ScriptletPlan) -> None:
    assert plan.skipped == () and plan.notes == ()
    assert not (plan.presets or plan.accounts or plan.post_steps)


FOO = Preset(("foo.service",))
# row: (package name or None, scripts, refused without a post-step allowance, check)
ROWS: dict[str, tuple[str | None, str, bool, Check]] = {
    "systemd_post (systemd >= 249)": (None, SYSTEMD_POST, False, presets(FOO)),
    "systemd_post (EL8, systemd 239)": (None, """\
        %post
        if [ $1 -eq 1 ] ; then
                # Initial installation
                systemctl --no-reload preset foo.service &>/dev/null || :
        fi
        """, False, presets(FOO)),
    "systemd_user_post": (None, """\
        %post
        if [ $1 -eq 1 ] && [ -x "/usr/lib/systemd/systemd-update-helper" ]; then
            # Initial installation
            /usr/lib/systemd/systemd-update-helper install-user-units foo.service || :
        fi
        """, False, presets(Preset(("foo.service",), "user"))),
    "systemd_preun and systemd_postun_with_restart": (None, """\
        %preun
        if [ $1 -eq 0 ] && [ -x "/usr/lib/systemd/systemd-update-helper" ]; then
            # Package removal, not upgrade
            /usr/lib/systemd/systemd-update-helper remove-system-units foo.service || :
        fi

        %postun
        if [ $1 -ge 1 ] && [ -x "/usr/lib/systemd/systemd-update-helper" ]; then
            # Package upgrade, not uninstall
            /usr/lib/systemd/systemd-update-helper mark-restart-system-units foo.service || :
        fi
        """, False, nothing),
    "systemd's own transfiletriggerin": ("systemd", """\
        %transfiletriggerin -p <lua> -- /usr/lib/systemd/system /etc/systemd/system
        -- This script will run after any package is initially installed or
        -- upgraded. We care about the case where a package is initially
        -- installed, because other cases are covered by the *un scriptlets,
        -- so sometimes we will reload needlessly.
        pid = posix.fork()
        if pid == 0 then
            assert(posix.exec("%{_bindir}/systemctl", "daemon-reload"))
        elseif pid > 0 then
            posix.wait(pid)
        end
        """, False, noted("%transfiletriggerin not run (rpm-ostree never runs systemd.transfiletriggerin)")),
    "ldconfig_scriptlets": (None, "%post -p /sbin/ldconfig\n\n%postun -p /sbin/ldconfig\n", False,
                            noted("%post not run (harmless)")),
    "sysusers_create_compat": (None, """\
        %pre
        getent group 'foo' >/dev/null || groupadd -f -g '123' -r 'foo' || :
        if ! getent passwd 'foo' >/dev/null; then
            if ! getent passwd '123' >/dev/null; then
                useradd -r -u '123' -g 'foo' -d '/var/lib/foo' -s '/sbin/nologin' -c 'Foo daemon' 'foo' || :
            else
                useradd -r -g 'foo' -d '/var/lib/foo' -s '/sbin/nologin' -c 'Foo daemon' 'foo' || :
            fi
        fi
        if getent group 'wheel' >/dev/null; then
            usermod -a -G 'wheel' 'foo' || :
        fi
        """, False, accounts(
            SysusersEntry("g", "foo", "123"),
            SysusersEntry("u", "foo", "123:foo", "Foo daemon", "/var/lib/foo", "/sbin/nologin"),
            SysusersEntry("u", "foo", "-:foo", "Foo daemon", "/var/lib/foo", "/sbin/nologin"),
            SysusersEntry("m", "foo", "wheel"),
        )),
    "sysusers_create_package": (None, """\
        %pre
        systemd-sysusers --replace=/usr/lib/sysusers.d/foo.conf - <<SYSTEMD_INLINE_EOF || :
        u foo - "Foo daemon" /var/lib/foo
        g foogrp -
        m foo foogrp
        SYSTEMD_INLINE_EOF
        """, False, accounts(
            SysusersEntry("u", "foo", "-", "Foo daemon", "/var/lib/foo"),
            SysusersEntry("g", "foogrp", "-"),
            SysusersEntry("m", "foo", "foogrp"),
        )),
    "sysusers_create (a shipped file)": (None, "%post\nsystemd-sysusers foo.conf || :\n", False,
                                         lambda plan: assert_equal(plan.sysusers_files, ("/usr/lib/sysusers.d/foo.conf",))),
    "tmpfiles_create": (None, """\
        %post
        command -v systemd-tmpfiles >/dev/null && systemd-tmpfiles --create foo.conf || :
        """, False, noted("tmpfiles.d entries are applied at boot")),
    "tmpfiles_create_package": (None, """\
        %post
        systemd-tmpfiles --replace=/usr/lib/tmpfiles.d/foo.conf --create - <<SYSTEMD_INLINE_EOF || :
        d /var/lib/foo 0750 foo foo -
        SYSTEMD_INLINE_EOF
        """, False, noted("tmpfiles.d entries are applied at boot")),
    "update-alternatives --install": (None, """\
        %post
        /usr/sbin/update-alternatives --install /usr/bin/nc nc /usr/bin/ncat 10 \\
            --slave /usr/share/man/man1/nc.1.gz nc-man /usr/share/man/man1/ncat.1.gz
        """, False, lambda plan: assert_equal(plan.alternatives, (AlternativeInstall(
            "/usr/bin/nc", "nc", "/usr/bin/ncat", 10,
            (Follower("/usr/share/man/man1/nc.1.gz", "nc-man", "/usr/share/man/man1/ncat.1.gz"),),
        ),))),
    "alternatives --remove (erase time)": (None, """\
        %postun
        if [ $1 -eq 0 ] ; then
            /usr/sbin/alternatives --remove nc /usr/bin/ncat
        fi
        """, False, nothing),
    "old inline glib-compile-schemas": (None, """\
        %posttrans
        /usr/bin/glib-compile-schemas /usr/share/glib-2.0/schemas &> /dev/null || :
        """, False, noted("desktop cache")),
    "selinux_modules_install": (None, """\
        %post
        if [ -e /etc/selinux/config ]; then
          . /etc/selinux/config
        fi
        _policytype=targeted
        if [ -z "${_policytype}" ]; then
          _policytype="targeted"
        fi
        if [ "${SELINUXTYPE}" = "${_policytype}" ]; then
          /usr/sbin/rm -rf /var/lib/selinux/${_policytype}/active/modules/400/extra_varrun
          /usr/sbin/semodule -n -s ${_policytype} -X 200 -i /usr/share/selinux/packages/targeted/foo.pp.bz2 || :
          /usr/sbin/selinuxenabled && /usr/sbin/load_policy || :
          /usr/libexec/selinux/varrun-convert.sh ${_policytype}
        fi
        """, True, post_steps("selinux-policy")),
    "selinux_relabel_pre and selinux_relabel_post": (None, """\
        %pre
        if /usr/sbin/selinuxenabled; then
          if [ -e /etc/selinux/config ]; then
            . /etc/selinux/config
          fi
          _policytype=targeted
          if [ -z "${_policytype}" ]; then
            _policytype="targeted"
          fi
          if [ "${SELINUXTYPE}" = "${_policytype}" ]; then
            [ -f /var/lib/rpm-state/file_contexts.pre ] || cp -f /etc/selinux/${SELINUXTYPE}/contexts/files/file_contexts /var/lib/rpm-state/file_contexts.pre
          fi
        fi

        %posttrans
        if [ -e /etc/selinux/config ]; then
          . /etc/selinux/config
        fi
        _policytype=targeted
        if [ -z "${_policytype}" ]; then
          _policytype="targeted"
        fi
        if /usr/sbin/selinuxenabled && [ "${SELINUXTYPE}" = "${_policytype}" ]; then
           if [ -f /var/lib/rpm-state/file_contexts.pre ]; then
             /usr/sbin/fixfiles -C /var/lib/rpm-state/file_contexts.pre restore &> /dev/null
             rm -f /var/lib/rpm-state/file_contexts.pre
           fi
        fi
        """, False, noted("selinuxenabled': false offline", lines=2)),
    "restorecon": (None, "%post\nrestorecon -R /var/lib/foo &> /dev/null || :\n", False,
                   noted("labels are applied when ostree imports the layer")),
    "setsebool -P": (None, "%post\n/usr/sbin/setsebool -P httpd_can_network_connect 1\n", True,
                     post_steps("selinux-policy")),
    "kmod %post (kmodtool)": ("kmod-foo", """\
        %post
        if [ -e "/boot/System.map-6.1.0-1.fc99.x86_64" ]; then
            /usr/sbin/depmod -aeF "/boot/System.map-6.1.0-1.fc99.x86_64" "6.1.0-1.fc99.x86_64" > /dev/null || :
        fi
        modules=( $(find /lib/modules/6.1.0-1.fc99.x86_64/extra/foo | grep '\\.ko$') )
        if [ -x "/usr/sbin/weak-modules" ]; then
            printf '%%s\\n' "${modules[@]}" | /usr/sbin/weak-modules --add-modules
        fi
        """, True, post_steps("depmod", "weak-modules")),
    "plain depmod": (None, "%post\ndepmod -a 6.1.0-1.fc99.x86_64\n", True, post_steps("depmod")),
    "kernel %posttrans": ("kernel-core", """\
        %posttrans
        /bin/kernel-install add 6.1.0-1.fc99.x86_64 /lib/modules/6.1.0-1.fc99.x86_64/vmlinuz || exit $?
        """, True, post_steps("dracut")),
    "vendor dracut -f": (None, "%post\ndracut -f\n", True, post_steps("dracut")),
    "vendor systemctl daemon-reload, start, restart, try-restart": (None, """\
        %post
        systemctl daemon-reload
        /usr/bin/systemctl start foo.service
        systemctl restart foo.service >/dev/null 2>&1 || :
        /bin/systemctl try-restart foo.service 2>/dev/null || true
        """, False, noted("(this is 'daemon-reload')", "(this is 'start')", "(this is 'try-restart')")),
    "vendor systemctl enable": (None, "%post\nsystemctl enable --now foo.service\n", False,
                                noted("rpm-ostree's systemctl runs only 'preset' (this is 'enable')")),
    "systemctl preset path spellings": (None, """\
        %post
        /usr/bin/systemctl --no-reload preset foo.service
        /bin/systemctl preset foo
        """, False, presets(FOO, FOO)),
    "usermod -a -G": (None, "%post\nusermod -a -G video foo\nusermod -aG render,input foo\n", False,
                      accounts(SysusersEntry("m", "foo", "video"), SysusersEntry("m", "foo", "render"),
                               SysusersEntry("m", "foo", "input"))),
    "mkdir, chown, chmod on /var": (None, """\
        %post
        mkdir -p /var/lib/foo
        chown foo:foo /var/lib/foo
        chmod 0750 /var/lib/foo
        install -d -m 0700 -o foo -g foo /run/foo
        touch /var/log/foo.log
        """, False, tmpfiles("d /var/lib/foo 0750 foo foo -", "d /run/foo 0700 foo foo -",
                             "f /var/log/foo.log - - - -")),
    "shell plumbing": (None, """\
        %post
        set -e
        . /etc/selinux/config
        command -v foo >/dev/null 2>&1 || echo "foo is not installed"
        [ -x /usr/bin/foo ] && test -d /usr/share/foo
        exit 0
        """, False, noted("%post not run (harmless)")),
    "pretrans (often Lua)": (None, "%pretrans -p <lua>\nprint('hi')\n", False,
                             noted("%pretrans not run (rpm-ostree never runs it either)")),
    "Lua in rpm-ostree's replacement table": ("glibc-common", """\
        %transfiletriggerin -p <lua> -- /lib /usr/lib /lib64 /usr/lib64
        os.execute("/sbin/ldconfig")
        """, False, noted("not run (ldconfig: the default library directories need no cache, as rpm-ostree's replacement for glibc-common.transfiletriggerin)")),
    "Lua replaced by a post-step": ("glibc", "%post -p <lua>\nos.execute('iconvconfig')\n", True,
                                    post_steps("iconvconfig")),
    "Lua marked for rpm-ostree to skip": (None, "%post -p <lua>\n-- rpm-ostree-skip\nprint('x')\n", False,
                                          noted("%post not run (the Lua script asks rpm-ostree to skip it)")),
    "rpm-ostree's ignored package scripts": ("nfs-utils", "%post\n/usr/bin/frobnicate --all\n", False,
                                             noted("nfs-utils: %post not run (rpm-ostree never runs nfs-utils.post)")),
}  # fmt: skip


def assert_equal(actual: object, expected: object) -> None:
    assert actual == expected


@pytest.mark.parametrize("row", list(ROWS))
def test_expansion_fixture_package(row: str, rpm_dir: Path) -> None:
    name, scripts, needs_post_step, check = ROWS[row]
    if needs_post_step:
        with pytest.raises(PolicyError, match="needs the post-step"):
            plan_of(scripts, rpm_dir, name=name)
        plan = plan_of(scripts, rpm_dir, name=name, allow_post_steps=True)
    else:
        plan = plan_of(scripts, rpm_dir, name=name)
    check(plan)


# --- refusals, reports and options ---------------------------------------------------------


def test_refusal_names_package_scriptlet_command_and_reason(rpm_dir: Path) -> None:
    scripts = "%post\nsystemctl daemon-reload\necho hi >> /etc/motd\n"
    with pytest.raises(PolicyError) as caught:
        plan_of(scripts, rpm_dir, name="vendor")
    assert str(caught.value) == (
        "vendor: %post runs 'echo hi >> /etc/motd' (it writes /etc/motd), which ociforge cannot"
        " run; pass --skip-scriptlets to install the package without it"
    )


def test_post_step_refusal_names_the_post_step(rpm_dir: Path) -> None:
    with pytest.raises(PolicyError) as caught:
        plan_of("%post\ndepmod -a 6.1.0\n", rpm_dir, name="kmod-x")
    assert "needs the post-step depmod (regenerate modules.dep for 6.1.0)" in str(caught.value)
    plan = plan_of("%post\ndepmod -a 6.1.0\n", rpm_dir, name="kmod-x", skip=True)
    assert plan.skipped == (
        "kmod-x: %post NOT RUN (--skip-scriptlets): needs the post-step depmod"
        " (regenerate modules.dep for 6.1.0)",
    )
    assert [(p.kind, p.command) for p in plan.post_steps] == [("depmod", "depmod -a 6.1.0")]


def test_skip_keeps_what_was_translated(rpm_dir: Path) -> None:
    scripts = "%post\nsystemctl preset foo.service\nvendor-setup --init\n"
    plan = plan_of(scripts, rpm_dir, name="mixed", skip=True)
    assert plan.presets == (FOO,)
    assert plan.skipped == (
        "mixed: %post NOT RUN (--skip-scriptlets): 'vendor-setup --init'"
        " (vendor-setup is not a command ociforge can translate)",
    )


def test_every_scriptlet_is_reported(rpm_dir: Path) -> None:
    scripts = (
        "%pre\ngetent group g >/dev/null || groupadd -r g\n\n"
        "%post\nsystemctl --no-reload preset a.service b.socket\nsystemctl daemon-reload\n\n"
        "%posttrans\n:\n"
    )
    plan = plan_of(scripts, rpm_dir, name="every")
    assert plan.skipped == (
        "every: %pre not run (accounts taken from it)",
        "every: %post not run (preset a.service b.socket)",
        "every: %posttrans not run (harmless)",
    )
    assert plan.notes == (
        "every: %post: 'systemctl daemon-reload': not run: rpm-ostree's systemctl runs only"
        " 'preset' (this is 'daemon-reload')",
    )


def test_upgrade_count_skips_first_install_branches(rpm_dir: Path) -> None:
    header = header_of(spec_with(SYSTEMD_POST, "upgrade"), rpm_dir)
    fresh = plan_scriptlets(header, package="upgrade", skip=False)  # type: ignore[arg-type]
    replacing = plan_scriptlets(header, package="upgrade", skip=False, instances=2)  # type: ignore[arg-type]
    assert fresh.presets == (FOO,)
    assert replacing.presets == ()
    assert any("false offline" in note for note in replacing.notes)


def test_trigger_kinds(rpm_dir: Path) -> None:
    scripts = (
        "%triggerin -- bash\n:\n\n%triggerun -- bash\nrm -rf /etc\n\n"
        "%filetriggerin -- /usr/lib64\ntrue\n\n%filetriggerun -- /usr/lib64\nrm -rf /etc\n\n"
        "%transfiletriggerin -- /usr/share\nsystemctl daemon-reload\n\n"
        "%transfiletriggerpostun -- /usr/share\nrm -rf /etc\n"
    )
    plan = plan_of(scripts, rpm_dir, name="triggers")
    assert plan.skipped == (
        "triggers: %triggerin -- bash not run (harmless)",
        "triggers: %filetriggerin not run (harmless)",
        "triggers: %transfiletriggerin not run (nothing to do offline)",
    )


def test_non_shell_interpreters(rpm_dir: Path) -> None:
    with pytest.raises(PolicyError, match="/usr/bin/python3"):
        plan_of("%post -p /usr/bin/python3\nprint('x')\n", rpm_dir, name="py")
    plan = plan_of("%post -p /usr/bin/true\n", rpm_dir, name="truep")
    assert plan.skipped == ("truep: %post not run (harmless)",)
