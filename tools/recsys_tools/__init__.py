"""Helpers the tools, benchmarks and end-to-end tests share (one copy each)."""

from .common import free_port, load_item_ids, newest_version, sha256_file

__all__ = ["free_port", "load_item_ids", "newest_version", "sha256_file"]
