"""Links and anchors of the repository's Markdown files, as GitHub renders
them (the helpers of the documentation tests)."""
import glob
import os.path as osp
import re
from typing import Dict, List, Tuple

from conftest import REPO

#: ``[text](target)`` and ``![alt](target)``; the target up to a space or ``)``.
LINK = re.compile(r'!?\[[^\]]*\]\(([^)\s]+)\)')
FENCE = re.compile(r'^(```|~~~).*?^\1', re.S | re.M)
INLINE_CODE = re.compile(r'`[^`\n]*`')


def markdown_files() -> List[str]:
    """Every Markdown file of the documentation, relative to the repository.

    Returns:
        list[str]: ``README.md``, ``CHANGELOG.md``, ``docs/**/*.md`` and the
        data preparation guides ``tools/**/*.md``.
    """
    found = ['README.md', 'CHANGELOG.md']
    for pattern in ('docs/**/*.md', 'tools/**/*.md'):
        found += sorted(
            osp.relpath(path, REPO)
            for path in glob.glob(osp.join(REPO, pattern), recursive=True))
    return found


def without_code(text: str) -> str:
    """The text less its fenced blocks and inline code, where a bracket is
    no link."""
    return INLINE_CODE.sub('', FENCE.sub('', text))


def code_blocks(text: str) -> List[str]:
    """The contents of the fenced code blocks of a Markdown text."""
    return [block.group(0) for block in FENCE.finditer(text)]


def heading_anchors(text: str) -> List[str]:
    """The anchors GitHub gives the headings of a Markdown text.

    Lower case, inline code marks and punctuation other than ``-`` and
    ``_`` dropped, spaces as ``-``; a repeated anchor gets ``-1``, ``-2``.
    """
    anchors: List[str] = []
    seen: Dict[str, int] = {}
    for line in FENCE.sub('', text).splitlines():
        match = re.match(r'#{1,6} (.+)', line)
        if not match:
            continue
        slug = re.sub(r'[^\w\- ]', '', match.group(1).strip().lower())
        slug = slug.replace(' ', '-')
        count = seen.get(slug, 0)
        seen[slug] = count + 1
        anchors.append(slug if count == 0 else f'{slug}-{count}')
    return anchors


def broken_links(path: str) -> List[Tuple[str, str]]:
    """The relative links of a Markdown file that lead nowhere.

    Args:
        path (str): The file, relative to the repository.

    Returns:
        list[tuple[str, str]]: Each broken link and why.
    """
    with open(osp.join(REPO, path), encoding='utf-8') as f:
        text = f.read()
    broken = []
    for target in LINK.findall(without_code(text)):
        if re.match(r'[a-z][a-z0-9+.-]*:', target):
            continue  # http(s):, mailto: and other addresses
        file_part, _, anchor = target.partition('#')
        full = osp.normpath(osp.join(REPO, osp.dirname(path), file_part))
        if osp.relpath(full, REPO).startswith('..'):
            broken.append((target, 'leads outside the repository'))
        elif not osp.exists(full):
            broken.append((target, 'no such file'))
        elif anchor and full.endswith('.md'):
            with open(full, encoding='utf-8') as f:
                if anchor not in heading_anchors(f.read()):
                    broken.append((target, 'no such heading'))
    return broken
