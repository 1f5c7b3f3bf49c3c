"""Tar streams: the header codec, a member reader, layer building and safe unpacking."""
