import pytest

from mmdr.utils import check_no_earlier_run, earlier_checkpoints


def test_earlier_run_is_protected(tmp_path):
    check_no_earlier_run(str(tmp_path / 'new'), resume=False)
    (tmp_path / 'epoch_1.pth').write_bytes(b'')
    (tmp_path / 'last_checkpoint').write_text('epoch_1.pth')
    (tmp_path / 'notes.txt').write_text('')
    assert earlier_checkpoints(
        str(tmp_path)) == ['epoch_1.pth', 'last_checkpoint']
    with pytest.raises(SystemExit, match='--resume') as err:
        check_no_earlier_run(str(tmp_path), resume=False)
    assert 'epoch_1.pth' in str(err.value)
    check_no_earlier_run(str(tmp_path), resume=True)
