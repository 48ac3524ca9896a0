"""Every relative link of the documentation leads to a file of the
repository, and every anchor to a heading of it."""
import pytest
from markdown_links import (broken_links, heading_anchors, markdown_files,
                            without_code)


@pytest.mark.parametrize('path', markdown_files())
def test_relative_links_lead_to_files_and_headings(path):
    assert broken_links(path) == []


def test_documentation_covers_the_guides():
    files = markdown_files()
    for path in ('README.md', 'CHANGELOG.md', 'docs/get_started.md',
                 'docs/design.md', 'docs/user_guides/dr_hook.md',
                 'docs/advanced_guides/customize_model.md',
                 'tools/data/ucf101/README.md'):
        assert path in files


def test_heading_anchors_follow_github():
    text = ('# Train and test\n## Resume is bit-exact\n'
            '## Your own data: one option, bad files named\n'
            "## The hook's parts\n## `DRHook` options\n"
            '```\n# not a heading\n```\n## Resume is bit-exact\n')
    assert heading_anchors(text) == [
        'train-and-test', 'resume-is-bit-exact',
        'your-own-data-one-option-bad-files-named', 'the-hooks-parts',
        'drhook-options', 'resume-is-bit-exact-1'
    ]


def test_links_in_code_are_not_links():
    text = ('[real](a.md) `[code](b.md)`\n```\n[block](c.md)\n```\n'
            '[also](d.md)\n')
    assert without_code(text).count('](') == 2
