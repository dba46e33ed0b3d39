"""`adasgn prepare` writes a memory-mapped store when --out names a .store directory."""

import numpy as np

from adasgn.data import store as S
from adasgn.data.pkl import load_pkl


def test_prepare_writes_a_store(shared_data, tmp_path):
    from adasgn.data.prepare import prepare_msr

    pkl = prepare_msr(shared_data / "msr_action3d", tmp_path / "msr.pkl", workers=1,
                      progress=False)
    st = prepare_msr(shared_data / "msr_action3d", tmp_path / "msr.store", workers=1,
                     progress=False)
    assert st.out == tmp_path / "msr.store" and S.is_store(st.out) and st.kept == pkl.kept
    a, b = load_pkl(pkl.out), S.open_store(st.out)
    assert b["split"] == a["split"] and len(b["annotations"]) == len(a["annotations"])
    for x, y in zip(a["annotations"][:50], b["annotations"][:50]):
        assert x["frame_dir"] == y["frame_dir"]
        np.testing.assert_array_equal(x["keypoint"], y["keypoint"])
