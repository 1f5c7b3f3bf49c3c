"""Rules of the OS tree inside an ostree container: placement, accounts, bootc's lint checks.

:mod:`.paths` (where package content may go in a layer), :mod:`.accounts` and
:mod:`.accountmerge` (passwd/group files and sysusers entries), :mod:`.lint` (bootc's
``container lint`` rules plus leaked secrets). All pure: they read a tree view, never a disk.
"""
