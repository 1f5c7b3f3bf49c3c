"""ostree-container rules: where package content may go in a layer, and bootc's lint checks.

Offline systemd and alternatives, for what package scriptlets would have done: :mod:`.units`
(unit lookup and ``[Install]`` links), :mod:`.presets` (``systemctl preset``),
:mod:`.alternatives` (chkconfig's ``alternatives``), over a :mod:`.view` of the image tree.
"""
