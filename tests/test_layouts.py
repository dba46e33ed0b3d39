import numpy as np
import pytest

from adasgn.skeleton import LayoutError, get_layout, list_layouts, load_layout_yaml

BUILTIN = ["coco17", "kinect20", "msr20", "ntu25", "shrec22", "mediapipe33", "hand21", "leap20"]


def test_builtin_layouts_registered():
    assert set(BUILTIN) <= set(list_layouts())


@pytest.mark.parametrize("name", BUILTIN)
def test_layout_structure(name):
    lay = get_layout(name)
    assert len(lay.parents) == lay.num_joints
    assert sum(p < 0 for p in lay.parents) == 1  # one root
    assert len(lay.bones) == lay.num_joints - 1
    for n in lay.joint_choices:
        m = lay.aggregation_matrix(n)
        assert m.shape == (lay.num_joints, n)
        np.testing.assert_allclose(m.sum(0), 1.0, rtol=1e-6)  # each column averages its group
        assert (np.count_nonzero(m, axis=1) == 1).all()  # every joint in exactly one group
    np.testing.assert_array_equal(lay.aggregation_matrix(lay.num_joints), np.eye(lay.num_joints))


def test_ntu25_grouping_is_the_official_one():
    lay = get_layout("ntu25")
    assert lay.joint_choices == (1, 9, 25)
    assert lay.groups(9)[0] == (0, 1, 12, 16)
    assert lay.groups(9)[4] == (6, 7, 21, 22)
    m = lay.aggregation_matrix(9)
    assert m[13, 7] == pytest.approx(1 / 3) and m[3, 2] == 1.0


def test_shrec_and_msr_choices():
    assert get_layout("shrec22").joint_choices == (1, 11, 22)
    assert get_layout("shrec22").groups(11)[3] == (6, 7)
    msr = get_layout("msr20")
    assert msr.joint_choices == (1, 9, 20)
    assert msr.joints[19] == "head" and msr.parents[msr.index("l_hand")] == msr.index("l_wrist")


def _write(tmp_path, text):
    p = tmp_path / "lay.yaml"
    p.write_text(text)
    return p


GOOD = """
name: tri
joints: [root, a, b, c]
parents: [null, root, a, root]
groupings:
  2: [[root, c], [a, b]]
  1: [[root, a, b, c]]
"""


def test_yaml_layout_roundtrip(tmp_path):
    lay = load_layout_yaml(_write(tmp_path, GOOD))
    assert lay.joint_choices == (1, 2, 4)
    assert lay.bones == ((1, 0), (2, 1), (3, 0))
    # registered by path through get_layout
    assert get_layout(str(tmp_path / "lay.yaml")).name == "tri"


@pytest.mark.parametrize(
    "text, message",
    [
        (GOOD.replace("[[root, c], [a, b]]", "[[root, c], [a, zz]]"), "unknown joint 'zz'"),
        (GOOD.replace("[[root, c], [a, b]]", "[[root, c, a], [a, b]]"), "in two groups"),
        (GOOD.replace("[[root, c], [a, b]]", "[[root, c, a, b], []]"), "is empty"),
        (GOOD.replace("[null, root, a, root]", "[null, b, a, root]"), "cycle"),
        (GOOD.replace("[null, root, a, root]", "[null, root, a, nowhere]"), "unknown joint 'nowhere'"),
        (GOOD.replace("[[root, c], [a, b]]", "[[root, c], [a]]"), "in no group"),
        (GOOD.replace("parents: [null, root, a, root]", ""), "missing key 'parents'"),
    ],
)
def test_bad_layout_files(tmp_path, text, message):
    with pytest.raises(LayoutError, match=message) as exc:
        load_layout_yaml(_write(tmp_path, text))
    assert "lay.yaml" in str(exc.value)  # the error names the file


def test_video_layouts():
    mp, hand = get_layout("mediapipe33"), get_layout("hand21")
    assert mp.joint_choices == (1, 9, 33) and hand.joint_choices == (1, 11, 21)
    assert mp.joints[11:13] == ("l_shoulder", "r_shoulder") and mp.joints[32] == "r_foot_index"
    assert hand.joints[4] == "thumb_tip" and hand.joints[20] == "pinky_tip"
    assert hand.parents[hand.index("index_mcp")] == 0
