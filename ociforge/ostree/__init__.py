"""Rules of the OS tree inside an ostree container: placement, accounts, systemd, bootc's lint.

:mod:`.paths` (where package content may go in a layer), :mod:`.accounts` and
:mod:`.accountmerge` (passwd/group files and sysusers entries), :mod:`.lint` (bootc's
``container lint`` rules plus leaked secrets). Offline systemd and alternatives, for what
package scriptlets would have done: :mod:`.units` (unit lookup and ``[Install]`` links),
:mod:`.presets` (``systemctl preset``), :mod:`.alternatives` (chkconfig's ``alternatives``),
over a :mod:`.view` of the image tree. All pure: they read a tree view, never a disk.
"""
