"""Test support: real-tool gating and independent image builders (stdlib only, never ociforge)."""
