"""RPM packages into an ostree-compatible layer, without running rpm or any package code.

Reading: :mod:`.header` (lead, signature and main headers), :mod:`.cpio` and :mod:`.payload`
(the payload, every digest checked while it streams), :mod:`.files` (the file list from the
header arrays) and :mod:`.signature` (OpenPGP header signatures), joined by :mod:`.package`.
Installing: :mod:`ociforge.flatten` (what the base image holds), :mod:`.scriptlets`, :mod:`.kernel`
and :mod:`ociforge.ostree.paths` (policy), :mod:`.installed` and :mod:`.rpmdb` (the database
rpm would have written), :mod:`.inject` (one package set into one layer) and :mod:`.recipe`
(the ``append --rpm`` recipe).
"""
