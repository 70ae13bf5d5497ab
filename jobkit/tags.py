"""Tags: short labels on jobs, checked the same way wherever they are given."""

from __future__ import annotations

from collections.abc import Iterable


def clean_tags(tags: Iterable[str]) -> tuple[str, ...]:
    """Tags as stored: stripped, unique, in order; each 1 to 100 characters without NUL."""
    if isinstance(tags, str):
        raise TypeError("tags must be a list of strings, not one string")
    cleaned = []
    for tag in tags:
        if not isinstance(tag, str):
            raise TypeError(f"a tag must be a string, not {tag!r}")
        tag = tag.strip()
        if not tag or len(tag) > 100 or "\x00" in tag:
            raise ValueError(f"a tag must be 1 to 100 characters without NUL: {tag[:40]!r}")
        cleaned.append(tag)
    return tuple(dict.fromkeys(cleaned))
