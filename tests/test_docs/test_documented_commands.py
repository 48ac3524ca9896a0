"""The commands of the documentation name tools and configs that exist,
and the README's test command is the one CI runs."""
import os.path as osp
import re

import pytest
from conftest import REPO
from markdown_links import code_blocks, markdown_files

#: A repository path in a command: a tool or a config.
REPO_PATH = re.compile(r'(?<![\w/.])((?:tools|configs)/[\w./-]+\.(?:py|sh))')


def read(path: str) -> str:
    with open(osp.join(REPO, path), encoding='utf-8') as f:
        return f.read()


@pytest.mark.parametrize('path', markdown_files())
def test_commands_name_existing_tools_and_configs(path):
    named = {
        match
        for block in code_blocks(read(path))
        for match in REPO_PATH.findall(block)
    }
    missing = sorted(p for p in named if not osp.isfile(osp.join(REPO, p)))
    assert missing == []


def test_readme_test_command_is_what_ci_runs():
    blocks = code_blocks(read('README.md'))
    commands = [
        line for block in blocks for line in block.splitlines()
        if 'pytest' in line
    ]
    ci_commands = [
        line for line in read('.ci/run').splitlines()
        if line and not line.startswith('#')
    ]
    assert len(commands) == 1
    assert ci_commands[-1] == commands[0]


def test_quick_start_trains_and_tests_the_main_job():
    quick_start = read('README.md').split('## Quick start', 1)[1]
    first = code_blocks(quick_start)[0]
    assert 'tools/data/avdigits/prepare_avdigits.py' in first
    assert 'tools/train.py configs/dr_avdigits.py --test-best' in first
