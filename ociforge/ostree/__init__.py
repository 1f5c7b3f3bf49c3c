"""ostree-container rules: where package content may go in a layer, and bootc's lint checks."""
