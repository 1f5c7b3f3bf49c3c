"""RPM packages into an ostree-compatible layer, without running rpm or any package code.

Reading: :mod:`.header` (lead, signature and main headers), :mod:`.cpio` and :mod:`.payload`
(the payload, every digest checked while it streams), :mod:`.files` (the file list from the
header arrays) and :mod:`.signature` (OpenPGP header signatures), joined by :mod:`.package`.
Installing: :mod:`.scriptlets` and :mod:`.kernel` (policy), :mod:`.installed` and
:mod:`.rpmdb` (the database rpm would have written), :mod:`.inject` (one package set into one
layer over a :class:`~ociforge.tar.flatten.FlatTree`); :mod:`.recheck` and :mod:`.dbmerge`
serve a rebase. The ``append`` recipe that uses them is :mod:`ociforge.recipes.append`.
"""
