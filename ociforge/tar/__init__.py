"""Layer content: the tar codec and naming rules, and the three ways to apply a stack of layers.

Codec and rules: :mod:`.header`, :mod:`.names`, :mod:`.whiteout`, :mod:`.reader`,
:mod:`.state`. Building: :mod:`.build` (:class:`~ociforge.tar.build.LayerBuilder`) and
:mod:`.local` (the local-filesystem edge). Applying a stack: :mod:`.unpack` (to a directory,
safely), :mod:`.flatten` (to an in-memory :class:`~ociforge.tar.flatten.FlatTree`),
:mod:`.overlay` (to a one-layer plan, for squash); :mod:`.diff` compares a tree with the
state an unpack recorded. :mod:`.tree` holds the entry type the flattened views share.
"""
