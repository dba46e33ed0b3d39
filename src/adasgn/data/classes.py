"""Class names of the benchmark datasets (index = 0-based label)."""

from __future__ import annotations

NTU120_CLASSES: tuple[str, ...] = (
    # A001-A060 (NTU RGB+D 60)
    "drink water", "eat meal/snack", "brushing teeth", "brushing hair", "drop", "pickup",
    "throw", "sitting down", "standing up (from sitting position)", "clapping", "reading",
    "writing", "tear up paper", "wear jacket", "take off jacket", "wear a shoe",
    "take off a shoe", "wear on glasses", "take off glasses", "put on a hat/cap",
    "take off a hat/cap", "cheer up", "hand waving", "kicking something",
    "reach into pocket", "hopping (one foot jumping)", "jump up",
    "make a phone call/answer phone", "playing with phone/tablet", "typing on a keyboard",
    "pointing to something with finger", "taking a selfie", "check time (from watch)",
    "rub two hands together", "nod head/bow", "shake head", "wipe face", "salute",
    "put the palms together", "cross hands in front (say stop)", "sneeze/cough",
    "staggering", "falling", "touch head (headache)", "touch chest (stomachache/heart pain)",
    "touch back (backache)", "touch neck (neckache)", "nausea or vomiting condition",
    "use a fan (with hand or paper)/feeling warm", "punching/slapping other person",
    "kicking other person", "pushing other person", "pat on back of other person",
    "point finger at the other person", "hugging other person",
    "giving something to other person", "touch other person's pocket", "handshaking",
    "walking towards each other", "walking apart from each other",
    # A061-A120 (NTU RGB+D 120 additions)
    "put on headphone", "take off headphone", "shoot at the basket", "bounce ball",
    "tennis bat swing", "juggling table tennis balls", "hush (quiet)", "flick hair",
    "thumb up", "thumb down", "make ok sign", "make victory sign", "staple book",
    "counting money", "cutting nails", "cutting paper (using scissors)", "snapping fingers",
    "open bottle", "sniff (smell)", "squat down", "toss a coin", "fold paper",
    "ball up paper", "play magic cube", "apply cream on face", "apply cream on hand back",
    "put on bag", "take off bag", "put something into a bag", "take something out of a bag",
    "open a box", "move heavy objects", "shake fist", "throw up cap/hat",
    "hands up (both hands)", "cross arms", "arm circles", "arm swings", "running on the spot",
    "butt kicks (kick backward)", "cross toe touch", "side kick", "yawn", "stretch oneself",
    "blow nose", "hit other person with something", "wield knife towards other person",
    "knock over other person (hit with body)", "grab other person's stuff",
    "shoot at other person with a gun", "step on foot", "high-five", "cheers and drink",
    "carry something with other person", "take a photo of other person",
    "follow other person", "whisper in other person's ear", "exchange things with other person",
    "support somebody with hand", "finger-guessing game (playing rock-paper-scissors)",
)  # fmt: skip
NTU60_CLASSES: tuple[str, ...] = NTU120_CLASSES[:60]

MSR_CLASSES: tuple[str, ...] = (
    "high arm wave", "horizontal arm wave", "hammer", "hand catch", "forward punch",
    "high throw", "draw x", "draw tick", "draw circle", "hand clap", "two hand wave",
    "side-boxing", "bend", "forward kick", "side kick", "jogging", "tennis swing",
    "tennis serve", "golf swing", "pick up & throw",
)  # fmt: skip

SHREC14_CLASSES: tuple[str, ...] = (
    "grab", "tap", "expand", "pinch", "rotation clockwise", "rotation counter-clockwise",
    "swipe right", "swipe left", "swipe up", "swipe down", "swipe x", "swipe +", "swipe v",
    "shake",
)  # fmt: skip
# 28 classes: each gesture performed with one finger, then with the whole hand
SHREC28_CLASSES: tuple[str, ...] = tuple(
    f"{g} ({f})" for g in SHREC14_CLASSES for f in ("one finger", "whole hand")
)

CLASS_NAMES: dict[str, tuple[str, ...]] = {
    "ntu60": NTU60_CLASSES,
    "ntu120": NTU120_CLASSES,
    "msr": MSR_CLASSES,
    "shrec14": SHREC14_CLASSES,
    "shrec28": SHREC28_CLASSES,
}

# F-PHAB / FPHA: the action folder names, in the order of the labels 0-44 of the official split
# file (data_split_action_recognition.txt).
FPHA_CLASSES: tuple[str, ...] = (
    "open_juice_bottle", "close_juice_bottle", "pour_juice_bottle", "open_peanut_butter",
    "close_peanut_butter", "prick", "sprinkle", "scoop_spoon", "put_sugar", "stir", "open_milk",
    "close_milk", "pour_milk", "drink_mug", "put_tea_bag", "put_salt", "open_liquid_soap",
    "close_liquid_soap", "pour_liquid_soap", "wash_sponge", "flip_sponge", "scratch_sponge",
    "squeeze_sponge", "open_soda_can", "use_flash", "write", "tear_paper", "squeeze_paper",
    "open_letter", "take_letter_from_enveloppe", "read_letter", "flip_pages", "use_calculator",
    "light_candle", "charge_cell_phone", "unfold_glasses", "clean_glasses", "open_wallet",
    "give_coin", "receive_coin", "give_card", "pour_wine", "toast_wine", "handshake", "high_five",
)  # fmt: skip

# UTD-MHAD actions a1-a27
UTD_MHAD_CLASSES: tuple[str, ...] = (
    "right arm swipe to the left", "right arm swipe to the right", "right hand wave",
    "two hand front clap", "right arm throw", "cross arms in the chest", "basketball shoot",
    "right hand draw x", "right hand draw circle (clockwise)",
    "right hand draw circle (counter clockwise)", "draw triangle", "bowling (right hand)",
    "front boxing", "baseball swing from right", "tennis right hand forehand swing",
    "arm curl (two arms)", "tennis serve", "two hand push", "right hand knock on door",
    "right hand catch an object", "right hand pick up and throw", "jogging in place",
    "walking in place", "sit to stand", "stand to sit", "forward lunge (left foot forward)",
    "squat (two arms stretch out)",
)  # fmt: skip

# Penn Action: the ``action`` field of the .mat files, sorted (label = index)
PENN_CLASSES: tuple[str, ...] = (
    "baseball_pitch", "baseball_swing", "bench_press", "bowl", "clean_and_jerk", "golf_swing",
    "jump_rope", "jumping_jacks", "pullup", "pushup", "situp", "squat", "strum_guitar",
    "tennis_forehand", "tennis_serve",
)  # fmt: skip

CLASS_NAMES.update({"fpha": FPHA_CLASSES, "utd_mhad": UTD_MHAD_CLASSES, "penn": PENN_CLASSES})

# SFINGE3D: the Dictionary folders 1-13 (label = folder - 1); five static poses, then dynamic
# fine and coarse gestures
SFINGE3D_CLASSES: tuple[str, ...] = (
    "one", "two", "three", "four", "ok", "pinch", "grab", "expand", "tap", "swipe left",
    "swipe right", "swipe v", "swipe o",
)  # fmt: skip
# with a no-gesture class (windows between the gestures of long sequences; benchmarks/sfinge_online.py)
SFINGE3D_BG_CLASSES: tuple[str, ...] = SFINGE3D_CLASSES + ("no gesture",)

CLASS_NAMES.update({"sfinge3d": SFINGE3D_CLASSES, "sfinge3d_bg": SFINGE3D_BG_CLASSES})
