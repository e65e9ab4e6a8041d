#!/usr/bin/env python3
"""Checks the links of the user guide (docs/src/*.md) and of README.md: every relative link
names a file that exists, and every #anchor a heading of its target page (ids as mdBook and
GitHub make them). External links (http, https, mailto) are not fetched.

usage: check-doc-links.py [ROOT]   (default: the repository root)
Exits 1 listing every broken link.
"""
import re
import sys
from pathlib import Path

LINK = re.compile(r"\[[^\]]*\]\(([^)\s]+)\)")


def heading_id(title):
    out = []
    for ch in title.strip().lower():
        if ch.isalnum() or ch in "-_":
            out.append(ch)
        elif ch.isspace():
            out.append("-")
    return "".join(out)


def anchors(path):
    ids, fenced = set(), False
    for line in path.read_text().splitlines():
        if line.startswith("```"):
            fenced = not fenced
        elif not fenced and line.startswith("#"):
            ids.add(heading_id(line.lstrip("#")))
    return ids


def links(path):
    fenced = False
    for number, line in enumerate(path.read_text().splitlines(), 1):
        if line.startswith("```"):
            fenced = not fenced
            continue
        if not fenced:
            for target in LINK.findall(line):
                yield number, target


def main(root):
    files = sorted((root / "docs" / "src").glob("*.md")) + [root / "README.md"]
    broken = []
    for page in files:
        for number, target in links(page):
            if re.match(r"^[a-z]+:", target):
                continue
            file, _, anchor = target.partition("#")
            dest = (page.parent / file).resolve() if file else page
            if not dest.exists():
                broken.append(f"{page.relative_to(root)}:{number}: {target}: no such file")
            elif anchor and dest.suffix == ".md" and anchor not in anchors(dest):
                broken.append(f"{page.relative_to(root)}:{number}: {target}: no such heading")
    for line in broken:
        print(line, file=sys.stderr)
    summary = f"{len(files)} pages, {len(broken)} broken links"
    print(summary)
    sys.exit(1 if broken else 0)


if __name__ == "__main__":
    main(Path(sys.argv[1] if len(sys.argv) > 1 else Path(__file__).resolve().parent.parent))
