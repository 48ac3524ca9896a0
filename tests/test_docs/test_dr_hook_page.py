"""The D&R hook's page names every argument the hook takes."""
import inspect
import os.path as osp

from conftest import REPO

from mmdr.engine.hooks import DRHook


def test_dr_hook_page_names_every_argument():
    with open(osp.join(REPO, 'docs/user_guides/dr_hook.md')) as f:
        example = f.read().split('```python', 1)[1].split('```', 1)[0]
    arguments = [
        name for name in inspect.signature(DRHook.__init__).parameters
        if name != 'self'
    ]
    assert [name for name in arguments if name not in example] == []
